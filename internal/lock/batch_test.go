package lock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/sandbox"
)

func TestBatchLeaseLetsItsBuildsInAndKeepsOthersOut(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }

	// The lock build takes the lease for the batch's whole timeout.
	lockBuild := newLocker(sb, "", clock)
	lockBuild.TTL = 8 * time.Hour
	held, err := lockBuild.AcquireBatch(ctx, "proj:batch-1", 0)
	require.NoError(t, err)
	assert.Equal(t, "codebuild-batch:proj:batch-1", held.Lease().Holder)

	// Two layer builds of the batch join at once; neither writes the lease.
	for _, layer := range []string{"web", "worker"} {
		l := newLocker(sb, "codebuild:"+layer, clock)
		lease, err := l.JoinBatch(ctx, "proj:batch-1")
		require.NoError(t, err, layer)
		assert.Equal(t, held.Lease().ID, lease.ID)
	}
	assert.Equal(t, 1, sb.CountCalls("ssm", "PutParameter"), "only the lock build wrote the lease")

	// Another batch, a plain bake, and a build without a batch id are refused (exit 4 / an error).
	_, err = newLocker(sb, "x", clock).JoinBatch(ctx, "proj:batch-2")
	var be *BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 4, be.ExitCode())
	assert.Contains(t, err.Error(), "held by codebuild-batch:proj:batch-1")
	_, err = newLocker(sb, "bob@laptop", clock).Acquire(ctx, 0)
	var he *HeldError
	require.ErrorAs(t, err, &he)
	_, err = newLocker(sb, "x", clock).JoinBatch(ctx, "")
	require.Error(t, err)
	_, err = newLocker(sb, "x", clock).AcquireBatch(ctx, "proj:batch-2", 0)
	require.ErrorAs(t, err, &he, "a second batch waits for the first")

	// A retried lock build of the same batch renews rather than failing.
	later := now.Add(time.Hour)
	again := newLocker(sb, "", func() time.Time { return later })
	again.TTL = 8 * time.Hour
	h2, err := again.AcquireBatch(ctx, "proj:batch-1", 0)
	require.NoError(t, err)
	assert.Equal(t, held.Lease().ID, h2.Lease().ID)
	assert.True(t, h2.Lease().Expires.After(held.Lease().Expires))

	// Another batch cannot release it; its own last build does.
	_, err = newLocker(sb, "x", clock).ReleaseBatch(ctx, "proj:batch-2")
	require.ErrorAs(t, err, &be)
	released, err := newLocker(sb, "x", clock).ReleaseBatch(ctx, "proj:batch-1")
	require.NoError(t, err)
	require.NotNil(t, released)
	cur, err := newLocker(sb, "x", clock).Status(ctx)
	require.NoError(t, err)
	assert.Nil(t, cur)
	// Releasing twice is fine; joining now is refused.
	_, err = newLocker(sb, "x", clock).ReleaseBatch(ctx, "proj:batch-1")
	require.NoError(t, err)
	_, err = newLocker(sb, "x", clock).JoinBatch(ctx, "proj:batch-1")
	require.ErrorAs(t, err, &be)
	assert.Contains(t, err.Error(), "no lease")
}

func TestExpiredBatchLeaseIsRefused(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	now := time.Now()
	l := newLocker(sb, "", func() time.Time { return now })
	_, err := l.AcquireBatch(ctx, "b1", 0)
	require.NoError(t, err)
	after := now.Add(2 * time.Minute) // TTL is a minute
	_, err = newLocker(sb, "x", func() time.Time { return after }).JoinBatch(ctx, "b1")
	var be *BatchError
	require.ErrorAs(t, err, &be)
	assert.Contains(t, err.Error(), "expired")
}
