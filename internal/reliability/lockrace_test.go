package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

const lockName = "/amibake/acme-golden/lock"

// putLease writes a lease JSON into the lock parameter, as a run that
// crashed (or another machine) left it.
func putLease(t testing.TB, cfg aws.Config, lease lock.Lease) { putLeaseAt(t, cfg, lockName, lease) }

func putLeaseAt(t testing.TB, cfg aws.Config, name string, lease lock.Lease) {
	t.Helper()
	b, err := json.Marshal(lease)
	require.NoError(t, err)
	_, err = awsapi.NewClients(cfg).SSM("").PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(string(b)), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	})
	require.NoError(t, err)
}

func expiredLease() lock.Lease {
	return lock.Lease{ID: "dead0000dead0000", Holder: "crashed@old-host", Host: "old-host", PID: 999999, Command: "bake",
		Acquired: time.Now().Add(-2 * time.Hour).UTC(), Expires: time.Now().Add(-time.Hour).UTC()}
}

// Many runs racing to take over one expired lease: at most one may hold
// the lock at any time. Each round races on its own lock parameter and the
// rounds run at once (a takeover waits lock.TakeoverSettle).
func TestExpiredLeaseTakeoverRace(t *testing.T) {
	t.Parallel()
	sb := sandbox.Start(t)
	rounds, racers := 40, 4
	if long() {
		rounds = 400
	}
	var failed atomic.Int64
	var all sync.WaitGroup
	for round := range rounds {
		all.Add(1)
		go func() {
			defer all.Done()
			name := fmt.Sprintf("/amibake/race-%d/lock", round)
			putLeaseAt(t, sb.Config, name, expiredLease())
			var mu sync.Mutex
			var winners []*lock.Held
			var wg sync.WaitGroup
			for i := range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l := &lock.Locker{SSM: awsapi.NewClients(sb.Config).SSM(""), Name: name, Holder: fmt.Sprintf("racer-%d", i), Command: "test"}
					h, err := l.Acquire(context.Background(), 0)
					var he *lock.HeldError
					if err != nil && !errors.As(err, &he) && !errors.Is(err, lock.ErrLost) {
						t.Errorf("round %d racer %d: %v", round, i, err)
					}
					if h != nil {
						mu.Lock()
						winners = append(winners, h)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(winners) != 1 {
				failed.Add(1)
				var holders []string
				for _, h := range winners {
					holders = append(holders, h.Lease().Holder)
				}
				t.Errorf("round %d: %d runs hold the lock, want exactly 1: %v", round, len(winners), holders)
			}
			for _, h := range winners {
				if err := h.Release(context.Background()); err != nil {
					t.Errorf("round %d: release: %v", round, err)
				}
			}
		}()
	}
	all.Wait()
	t.Logf("%d of %d rounds had other than one holder", failed.Load(), rounds)
}
