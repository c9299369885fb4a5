package crashpoint_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/crashpoint"
)

// childEnv marks the re-executed test binary: it runs the steps below
// instead of the tests.
const childEnv = "CRASHPOINT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		child()
		return
	}
	os.Exit(m.Run())
}

// child hits a, b, b, c, writing "after NAME" to stdout after each hit, and
// defers a line that a SIGKILL must never let print.
func child() {
	crashpoint.BeforeKill = func() { os.Stdout.WriteString("before kill\n") }
	defer os.Stdout.WriteString("deferred\n")
	for _, name := range []string{"a", "b", "b", "c"} {
		crashpoint.Hit(name)
		os.Stdout.WriteString("after " + name + "\n")
	}
}

type run struct {
	out    string
	killed bool
	code   int
}

func runChild(t *testing.T, env ...string) run {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", crashpoint.EnvCrashAfter+"=", crashpoint.EnvTrace+"=")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.Output()
	r := run{out: string(out)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		r.killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
		r.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return r
}

func TestUnsetRunsThrough(t *testing.T) {
	r := runChild(t)
	assert.False(t, r.killed)
	assert.Equal(t, "after a\nafter b\nafter b\nafter c\ndeferred\n", r.out)
}

func TestCrashAfterKillsAtTheFirstHit(t *testing.T) {
	r := runChild(t, crashpoint.EnvCrashAfter+"=b")
	assert.True(t, r.killed, "SIGKILL, not an exit: %+v", r)
	assert.Equal(t, "after a\nbefore kill\n", r.out, "killed inside the first Hit(b) after BeforeKill, no defer ran")
}

func TestCrashAfterNthHit(t *testing.T) {
	r := runChild(t, crashpoint.EnvCrashAfter+"=b#2")
	assert.True(t, r.killed, "%+v", r)
	assert.Equal(t, "after a\nafter b\nbefore kill\n", r.out)

	r = runChild(t, crashpoint.EnvCrashAfter+"=b#3")
	assert.False(t, r.killed, "b is hit twice only: %+v", r)
	assert.Equal(t, 0, r.code)
}

func TestUnknownPointRunsThrough(t *testing.T) {
	r := runChild(t, crashpoint.EnvCrashAfter+"=nowhere")
	assert.False(t, r.killed)
	assert.True(t, strings.HasSuffix(r.out, "deferred\n"))
}

func TestMalformedCountRefused(t *testing.T) {
	r := runChild(t, crashpoint.EnvCrashAfter+"=b#x")
	assert.False(t, r.killed)
	assert.Equal(t, 1, r.code, "a malformed spec fails instead of running to completion")
	assert.Empty(t, r.out)
}

func TestTraceEnumeratesEveryHit(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "trace")
	r := runChild(t, crashpoint.EnvTrace+"="+trace)
	assert.False(t, r.killed)
	b, err := os.ReadFile(trace)
	require.NoError(t, err)
	assert.Equal(t, "a\nb\nb\nc\n", string(b))

	// Traced and killed: the trace holds the hit that killed, appended to
	// what is already there.
	r = runChild(t, crashpoint.EnvTrace+"="+trace, crashpoint.EnvCrashAfter+"=b#2")
	assert.True(t, r.killed)
	b, err = os.ReadFile(trace)
	require.NoError(t, err)
	assert.Equal(t, "a\nb\nb\nc\na\nb\nb\n", string(b))
}

// With nothing set a Hit is a load and a nil check.
func BenchmarkHitUnset(b *testing.B) {
	for b.Loop() {
		crashpoint.Hit("bake.channel-published")
	}
}
