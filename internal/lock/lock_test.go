package lock

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/sandbox"
)

const lockName = "/amibake/acme/lock"

func newLocker(sb *sandbox.Sandbox, holder string, now func() time.Time) *Locker {
	return &Locker{
		SSM: ssm.NewFromConfig(sb.Config), Name: lockName, TTL: time.Minute,
		Holder: holder, Command: "bake", Now: now, Poll: 10 * time.Millisecond,
	}
}

func TestAcquireReleaseAndHeldError(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	a := newLocker(sb, "alice@ci", time.Now)
	b := newLocker(sb, "bob@laptop", time.Now)

	held, err := a.Acquire(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, "alice@ci", held.Lease().Holder)

	_, err = b.Acquire(ctx, 0)
	var he *HeldError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "alice@ci", he.Lease.Holder)
	assert.Equal(t, 4, he.ExitCode())
	assert.Contains(t, err.Error(), "alice@ci")
	assert.Contains(t, err.Error(), `"bake"`)

	st, err := b.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, st)
	assert.Equal(t, "alice@ci", st.Holder)

	require.NoError(t, held.Release(ctx))
	st, err = b.Status(ctx)
	require.NoError(t, err)
	assert.Nil(t, st, "released lock leaves no parameter")

	held2, err := b.Acquire(ctx, 0)
	require.NoError(t, err)
	require.NoError(t, held2.Release(ctx))
}

func TestWaitWithTimeoutThenAcquire(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	a := newLocker(sb, "a", time.Now)
	held, err := a.Acquire(ctx, 0)
	require.NoError(t, err)
	go func() {
		time.Sleep(50 * time.Millisecond)
		held.Release(context.Background())
	}()
	b := newLocker(sb, "b", time.Now)
	held2, err := b.Acquire(ctx, 5*time.Second)
	require.NoError(t, err, "waiting run gets the lock once it is released")
	assert.Equal(t, "b", held2.Lease().Holder)
}

func TestExpiredLeaseIsTakenOver(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }

	crashed := newLocker(sb, "crashed", now)
	old, err := crashed.Acquire(ctx, 0)
	require.NoError(t, err)

	clock.Add(int64(2 * time.Minute)) // past the 1m TTL
	next := newLocker(sb, "next", now)
	held, err := next.Acquire(ctx, 0)
	require.NoError(t, err, "an expired lease is taken over")
	assert.Equal(t, "next", held.Lease().Holder)

	// The crashed run, if it comes back, finds it lost the lock.
	require.ErrorIs(t, old.Renew(ctx), ErrLost)
	require.NoError(t, old.Release(ctx), "releasing a lost lease does not delete the new holder's")
	st, err := next.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, st)
	assert.Equal(t, "next", st.Holder)
}

func TestConcurrentAcquireExactlyOneWins(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	const n = 8
	var (
		wg    sync.WaitGroup
		wins  atomic.Int32
		holds atomic.Int32
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := newLocker(sb, "runner", time.Now).Acquire(ctx, 0)
			var he *HeldError
			switch {
			case err == nil:
				wins.Add(1)
			case errors.As(err, &he):
				holds.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}(i)
	}
	wg.Wait()
	assert.EqualValues(t, 1, wins.Load())
	assert.EqualValues(t, n-1, holds.Load())
}

func TestRenewExtendsAndKeepAliveDetectsLoss(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	l := newLocker(sb, "a", time.Now)
	l.TTL = 150 * time.Millisecond
	held, err := l.Acquire(ctx, 0)
	require.NoError(t, err)
	before := held.Lease().Expires
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, held.Renew(ctx))
	assert.True(t, held.Lease().Expires.After(before))

	lost := make(chan error, 1)
	held.KeepAlive(ctx, func(err error) { lost <- err })
	// Someone force-releases and takes the lock.
	_, err = newLocker(sb, "ops", time.Now).ForceRelease(ctx)
	require.NoError(t, err)
	_, err = newLocker(sb, "thief", time.Now).Acquire(ctx, 0)
	require.NoError(t, err)
	select {
	case err := <-lost:
		require.ErrorIs(t, err, ErrLost)
	case <-time.After(2 * time.Second):
		t.Fatal("keep-alive did not notice the lost lease")
	}
	require.NoError(t, held.Release(ctx))
}

func TestUnreadableLeaseCountsAsExpired(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	_, err := ssm.NewFromConfig(sb.Config).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(lockName), Value: aws.String("not json"), Type: "String",
	})
	require.NoError(t, err)
	held, err := newLocker(sb, "a", time.Now).Acquire(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, "a", held.Lease().Holder)
}

func TestExpiredLeaseIsNotRenewed(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	held, err := newLocker(sb, "slow", now).Acquire(ctx, 0)
	require.NoError(t, err)
	clock.Add(int64(2 * time.Minute)) // past the TTL, before anyone took it
	require.ErrorIs(t, held.Renew(ctx), ErrLost, "a run that let its lease expire must stop, not resurrect it")
	next, err := newLocker(sb, "next", now).Acquire(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, "next", next.Lease().Holder)
}
