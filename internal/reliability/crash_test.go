package reliability

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/lineage"
)

// imageState is every own image's revoked tag and whether it is deprecated.
func (w *world) imageState(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, region := range channeltest.Regions {
		res, err := awsapi.NewClients(w.cfg).EC2(region).DescribeImages(context.Background(), &ec2.DescribeImagesInput{
			Owners: []string{"self"}, IncludeDeprecated: aws.Bool(true)})
		require.NoError(t, err)
		for _, img := range res.Images {
			revoked := ""
			for _, tag := range img.Tags {
				if aws.ToString(tag.Key) == lineage.TagRevoked {
					revoked = aws.ToString(tag.Value)
				}
			}
			out[aws.ToString(img.ImageId)] = fmt.Sprintf("revoked=%q deprecated=%v", revoked, aws.ToString(img.DeprecationTime) != "")
		}
	}
	return out
}

// kill -9 of `revoke --cascade --apply` at several points of its run (EC2
// slowed to 150 ms a call so the points fall between its steps: lock,
// lineage reads, tags per region, read-back, deprecation per AMI). The
// dead run's lease stops the next run with exit 4 naming it; after `lock
// release --force` a re-run completes, and the world is exactly what one
// uninterrupted run leaves: the subtree revoked and deprecated, nothing
// else touched.
func TestKilledRevokeResumes(t *testing.T) {
	t.Parallel()
	// The reference: one uninterrupted run on its own world, as slow.
	ref := seededWorld(t)
	ref.slowEC2(t, 150*time.Millisecond)
	r := runProc(t, ref.env(t, "ref"), ref.project, "revoke", ref.fam.Foundation.Home(), "--cascade", "--reason", "CVE-2026-3", "--apply")
	require.Equal(t, 0, r.Code, "%s", r)
	want := ref.imageState(t)

	// Kill points as fractions of the uninterrupted run's time.
	fractions := []float64{0.5, 0.85}
	if long() {
		fractions = []float64{0.05, 0.15, 0.3, 0.45, 0.6, 0.7, 0.78, 0.85, 0.9, 0.95}
	}
	var points []time.Duration
	for _, f := range fractions {
		points = append(points, time.Duration(f*float64(r.Elapsed)).Round(time.Millisecond))
	}

	for _, at := range points {
		t.Run(at.String(), func(t *testing.T) {
			t.Parallel()
			w := seededWorld(t)
			w.slowEC2(t, 150*time.Millisecond)
			args := []string{"revoke", w.fam.Foundation.Home(), "--cascade", "--reason", "CVE-2026-3", "--apply"}
			p := startProc(t, w.env(t, "victim"), w.project, args...)
			time.Sleep(at)
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			killed := p.wait(t, time.Minute)
			env := w.env(t, "resumer")
			tagged, deprecated := 0, 0
			for _, st := range w.imageState(t) {
				if !strings.HasPrefix(st, `revoked=""`) {
					tagged++
				}
				if strings.HasSuffix(st, "deprecated=true") {
					deprecated++
				}
			}
			t.Logf("killed at %s (exit %d): %d images tagged, %d deprecated", at, killed.Code, tagged, deprecated)
			if killed.Code == 0 {
				t.Logf("finished before the kill at %s", at)
			} else if lease := w.lease(t); lease != nil {
				// The dead run's lease blocks the project until released.
				again := runProc(t, env, w.project, args...)
				assert.Equal(t, 4, again.Code, "%s", again)
				assert.Contains(t, again.Err, fmt.Sprintf("is held by victim (pid %d on ", p.cmd.Process.Pid))
				rel := runProc(t, env, w.project, "lock", "release", "--force")
				require.Equal(t, 0, rel.Code, "%s", rel)
			}
			adminPut(t, w.es.URL, "/_sandbox/faults", []any{})
			done := runProc(t, env, w.project, args...)
			require.Equal(t, 0, done.Code, "%s", done)
			assert.Nil(t, w.lease(t))
			got := w.imageState(t)
			// Ids are the same in both worlds (same seed, same seeding).
			assert.Equal(t, want, got, "killed at %s", at)
		})
	}
}

// SIGINT (Ctrl-C) in the middle of `revoke --cascade --apply`: the run
// stops with exit 130, releases the lock on its way out (no lease left
// behind, unlike kill -9), and a plain re-run completes to exactly what an
// uninterrupted run leaves.
func TestInterruptedRevokeReleasesLock(t *testing.T) {
	t.Parallel()
	ref := seededWorld(t)
	ref.slowEC2(t, 150*time.Millisecond)
	args := func(w *world) []string {
		return []string{"revoke", w.fam.Foundation.Home(), "--cascade", "--reason", "CVE-2026-4", "--apply"}
	}
	r := runProc(t, ref.env(t, "ref"), ref.project, args(ref)...)
	require.Equal(t, 0, r.Code, "%s", r)
	want := ref.imageState(t)

	fractions := []float64{0.5, 0.85}
	if long() {
		fractions = []float64{0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9}
	}
	for _, f := range fractions {
		at := time.Duration(f * float64(r.Elapsed)).Round(time.Millisecond)
		t.Run(at.String(), func(t *testing.T) {
			t.Parallel()
			w := seededWorld(t)
			w.slowEC2(t, 150*time.Millisecond)
			p := startProc(t, w.env(t, "interrupted"), w.project, args(w)...)
			time.Sleep(at)
			_ = p.cmd.Process.Signal(syscall.SIGINT)
			got := p.wait(t, time.Minute)
			if got.Code == 0 {
				t.Logf("finished before the interrupt at %s", at)
			} else {
				assert.Equal(t, 130, got.Code, "%s", got)
			}
			assert.Nil(t, w.lease(t), "the interrupted run released the lock\n%s", got)
			adminPut(t, w.es.URL, "/_sandbox/faults", []any{})
			done := runProc(t, w.env(t, "resumer"), w.project, args(w)...)
			require.Equal(t, 0, done.Code, "%s", done)
			assert.Equal(t, want, w.imageState(t), "interrupted at %s", at)
		})
	}
}
