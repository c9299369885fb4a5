package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

// world is an out-of-process sandbox holding the example's seeded AMI
// family, base's latest channel set, and a copy of the example project.
type world struct {
	es      *externalSandbox
	cfg     aws.Config
	fam     channeltest.Family
	project string
	// record is the simulated packer's FAKEPACKER_RECORD, marker the
	// real packer's environment marker (crash tests).
	record, marker string
}

// seededWorld seeds the family in an in-process sandbox, saves its state
// and serves that state from `amibake sandbox serve --state`.
func seededWorld(t *testing.T) *world {
	t.Helper()
	sb := sandbox.Start(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/base/latest", fam.Base.Home())
	state := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(state, adminGet(t, sb.URL(), "/_sandbox/state"), 0o644))
	sb.Close()
	es := startSandbox(t, "--state", state)
	return &world{es: es, cfg: externalConfig(es.URL), fam: fam, project: channeltest.CopyProject(t)}
}

// externalConfig talks to an out-of-process sandbox as DefaultAccount.
func externalConfig(url string) aws.Config {
	return aws.Config{
		Region:           sandbox.DefaultRegion,
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(sandbox.AccessKeyID, sandbox.SecretAccessKey, "")),
		BaseEndpoint:     aws.String(url),
		HTTPClient:       &http.Client{Timeout: 60 * time.Second},
		RetryMaxAttempts: 8,
		RetryMode:        aws.RetryModeStandard,
	}
}

func adminGet(t testing.TB, url, path string) []byte {
	t.Helper()
	resp, err := http.Get(url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
	return b
}

func adminPut(t testing.TB, url, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, url+path, bytes.NewReader(b))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
}

// slowEC2 makes every EC2 call take d: promote holds the lock while it
// checks the AMI in both regions, long enough for a racer to find it held.
func (w *world) slowEC2(t testing.TB, d time.Duration) {
	adminPut(t, w.es.URL, "/_sandbox/faults", []sandbox.FaultRule{{Service: "ec2", Latency: sandbox.Duration{Duration: d}}})
}

func (w *world) env(t testing.TB, holder string) []string {
	return cleanEnv(t, w.es.Env, "AMIBAKE_LOCK_HOLDER="+holder)
}

func (w *world) channel(t testing.TB, layer, ch string) string {
	t.Helper()
	out, err := awsapi.NewClients(w.cfg).SSM("us-east-1").GetParameter(context.Background(), &ssm.GetParameterInput{
		Name: aws.String("/amibake/acme-golden/layers/" + layer + "/" + ch)})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		return ""
	}
	require.NoError(t, err)
	return aws.ToString(out.Parameter.Value)
}

func (w *world) lease(t testing.TB) *lock.Lease {
	t.Helper()
	l, err := (&lock.Locker{SSM: awsapi.NewClients(w.cfg).SSM(""), Name: lockName}).Status(context.Background())
	require.NoError(t, err)
	return l
}

// race starts the same command in two amibake processes at once and
// returns both results with the processes' pids.
func (w *world) race(t *testing.T, args ...string) (a, b result, pidA, pidB int) {
	t.Helper()
	pa := startProc(t, w.env(t, "proc-a"), w.project, args...)
	pb := startProc(t, w.env(t, "proc-b"), w.project, args...)
	return pa.wait(t, 2*time.Minute), pb.wait(t, 2*time.Minute), pa.cmd.Process.Pid, pb.cmd.Process.Pid
}

func assertHeld(t *testing.T, loser result, holder string, pid int, command string) {
	t.Helper()
	assert.Equal(t, 4, loser.Code, "the loser exits with the lock-held code\n%s", loser)
	want := fmt.Sprintf("Error: project lock %s is held by %s (pid %d on ", lockName, holder, pid)
	assert.True(t, strings.HasPrefix(loser.Err, want), "the loser names the holder:\nwant prefix %s\n%s", want, loser)
	assert.Contains(t, loser.Err, fmt.Sprintf("%q, since ", command))
	assert.Contains(t, loser.Err, "retry with --lock-timeout")
	assert.Empty(t, loser.Out, "the loser changed and printed nothing")
}

// Two real amibake processes promote at once on one project: exactly one
// proceeds, the other exits 4 naming the holder, and the lock is free
// afterwards.
func TestTwoProcessesOneProceeds(t *testing.T) {
	t.Parallel()
	w := seededWorld(t)
	w.slowEC2(t, 700*time.Millisecond)
	rounds := 2
	if long() {
		rounds = 10
	}
	for round := range rounds {
		to := fmt.Sprintf("rc-%d", round)
		a, b, pidA, pidB := w.race(t, "promote", "base", "--to", to)
		winner, loser, holder, pid := a, b, "proc-a", pidA
		if a.Code != 0 {
			winner, loser, holder, pid = b, a, "proc-b", pidB
		}
		require.Equal(t, 0, winner.Code, "one run proceeds\n%s\n%s", a, b)
		assert.Equal(t, fmt.Sprintf("Promoted base latest → %s: %s (was unset), /amibake/acme-golden/layers/base/%s version 1.\n", to, w.fam.Base.Home(), to), winner.Out)
		assertHeld(t, loser, holder, pid, "promote base --from latest --to "+to)
		assert.Equal(t, w.fam.Base.Home(), w.channel(t, "base", to))
		assert.Nil(t, w.lease(t), "the winner released the lock")
	}
}

// With --lock-timeout both runs succeed, one after the other: one
// promotes, the other then finds nothing to do.
func TestTwoProcessesLockTimeoutWaits(t *testing.T) {
	t.Parallel()
	w := seededWorld(t)
	w.slowEC2(t, 700*time.Millisecond)
	a, b, _, _ := w.race(t, "promote", "base", "--to", "stable", "--lock-timeout", "30s")
	require.Equal(t, 0, a.Code, "%s", a)
	require.Equal(t, 0, b.Code, "%s", b)
	outs := []string{a.Out, b.Out}
	promoted := fmt.Sprintf("Promoted base latest → stable: %s (was unset), /amibake/acme-golden/layers/base/stable version 1.\n", w.fam.Base.Home())
	nothing := fmt.Sprintf("Nothing to do: base stable already holds %s (version 1).\n", w.fam.Base.Home())
	assert.ElementsMatch(t, []string{promoted, nothing}, outs, "serialised: one promotes, the other finds it done")
	assert.Nil(t, w.lease(t))
}

// A lease left by a crashed run (expired) is taken over: the CLI proceeds,
// and of two runs racing to take it over exactly one proceeds.
func TestExpiredLeaseTakenOver(t *testing.T) {
	t.Parallel()
	w := seededWorld(t)
	putLease(t, w.cfg, expiredLease())
	r := runProc(t, w.env(t, "proc-a"), w.project, "promote", "base", "--to", "stable")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Contains(t, r.Out, "Promoted base latest → stable")
	assert.Nil(t, w.lease(t), "released after the run")

	w.slowEC2(t, 700*time.Millisecond)
	putLease(t, w.cfg, expiredLease())
	a, b, pidA, pidB := w.race(t, "promote", "base", "--to", "rc-1")
	winner, loser, holder, pid := a, b, "proc-a", pidA
	if a.Code != 0 {
		winner, loser, holder, pid = b, a, "proc-b", pidB
	}
	require.Equal(t, 0, winner.Code, "one run takes over\n%s\n%s", a, b)
	assertHeld(t, loser, holder, pid, "promote base --from latest --to rc-1")
	assert.Nil(t, w.lease(t))
}

// A lease held by another run (acquired here with internal/lock as holder
// "other") stops revoke --apply and promote with exit 4 and a message
// naming it; lock status shows it; nothing is changed; after release the
// same command succeeds.
func TestHeldLockStopsWriters(t *testing.T) {
	t.Parallel()
	w := seededWorld(t)
	l := &lock.Locker{SSM: awsapi.NewClients(w.cfg).SSM(""), Name: lockName, Holder: "other", Command: "bake", TTL: time.Hour}
	held, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)
	env := w.env(t, "proc-a")

	for _, args := range [][]string{
		{"revoke", w.fam.Base.Home(), "--apply"},
		{"promote", "base"},
		{"-o", "json", "promote", "base"},
		{"bake"},
	} {
		r := runProc(t, env, w.project, args...)
		assert.Equal(t, 4, r.Code, "%s", r)
		assert.True(t, strings.HasPrefix(r.Err, "Error: "), "%s", r)
		assert.Contains(t, strings.SplitN(r.Err, "\n", 2)[0], fmt.Sprintf("project lock %s is held by other (pid %d on ", lockName, os.Getpid()), "%s", r)
		assert.Contains(t, r.Err, `"bake", since `)
		if args[0] != "bake" { // bake's live view may print its plan first
			assert.Empty(t, r.Out)
		}
	}
	st := runProc(t, env, w.project, "lock", "status")
	assert.Equal(t, 0, st.Code, "%s", st)
	assert.Contains(t, st.Out, "other")
	assert.Equal(t, "", w.channel(t, "base", "stable"), "nothing promoted")
	assert.Equal(t, held.Lease().ID, w.lease(t).ID, "the holder's lease untouched")

	// A waiting run gets it once the holder lets go.
	p := startProc(t, env, w.project, "promote", "base", "--lock-timeout", "30s")
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, held.Release(context.Background()))
	r := p.wait(t, time.Minute)
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, w.fam.Base.Home(), w.channel(t, "base", "stable"))
}

// Two real `amibake bake` processes at once: the one that gets the lock
// proceeds (and stops at the missing packer, exit 1, after recovery's
// slow EC2 reads); the other exits 4 naming it.
func TestTwoBakesOneProceeds(t *testing.T) {
	t.Parallel()
	w := seededWorld(t)
	w.slowEC2(t, 700*time.Millisecond)
	pa := startProc(t, append(w.env(t, "proc-a"), "AMIBAKE_PACKER=/nonexistent/packer"), w.project, "bake")
	pb := startProc(t, append(w.env(t, "proc-b"), "AMIBAKE_PACKER=/nonexistent/packer"), w.project, "bake")
	a, b := pa.wait(t, 2*time.Minute), pb.wait(t, 2*time.Minute)
	winner, loser, holder, pid := a, b, "proc-a", pa.cmd.Process.Pid
	if a.Code == 4 {
		winner, loser, holder, pid = b, a, "proc-b", pb.cmd.Process.Pid
	}
	assert.Equal(t, 1, winner.Code, "%s", winner)
	assert.Contains(t, winner.Err, "packer not found", "%s", winner)
	assert.Equal(t, 4, loser.Code, "%s", loser)
	assert.Contains(t, strings.SplitN(loser.Err, "\n", 2)[0], fmt.Sprintf("project lock %s is held by %s (pid %d on ", lockName, holder, pid), "%s", loser)
	assert.Nil(t, w.lease(t), "the winner released the lock")
}
