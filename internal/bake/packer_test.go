//go:build unix

package bake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/testutil/fakepacker/fakebin"
)

// fakePackerBin is the simulated packer (internal/testutil/fakepacker),
// built once in TestMain.
var fakePackerBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if bin := os.Getenv("AMIBAKE_TEST_FAKEPACKER"); bin != "" { // a helper process
		fakePackerBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "amibake-fakepacker-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	fakePackerBin, err = fakebin.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// fakeRunner returns a Runner on the fake packer with env settings for it.
func fakeRunner(t *testing.T, env ...string) *Runner {
	t.Helper()
	return &Runner{
		Bin:       fakePackerBin,
		PluginDir: "/nonexistent/plugins",
		Env:       append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...),
		LogDir:    filepath.Join(t.TempDir(), "logs", "run1"),
	}
}

func layerTemplate(t *testing.T, layer string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), layer+".pkr.hcl")
	src := fmt.Sprintf("# Rendered by amibake test for layer %q of project \"demo\".\n"+
		"source \"amazon-ebs\" \"layer\" {\n  region      = \"us-east-1\"\n  ami_regions = [\"eu-west-1\"]\n}\n", layer)
	require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
	return p
}

// eventLog collects a build's events; safe for the live-view tests too.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

func (l *eventLog) texts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.evs {
		if _, text, ok := ev.UI(); ok {
			out = append(out, text)
		} else if ev.Type == EventRaw {
			out = append(out, ev.Data[0]+": "+ev.Data[1])
		}
	}
	return out
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestRunnerBuildSuccess(t *testing.T) {
	r := fakeRunner(t, "FAKEPACKER_SLEEP=20ms", "FAKEPACKER_ECHO_ENV=PACKER_PLUGIN_PATH,CHECKPOINT_DISABLE,PACKER_NO_COLOR")
	var evs eventLog
	res, err := r.Build(context.Background(), BuildRequest{
		Layer:        "base",
		TemplatePath: layerTemplate(t, "base"),
		Vars:         map[string]string{"aws_endpoint": "http://127.0.0.1:1", "b": "x,y"},
		OnEvent:      evs.add,
	})
	require.NoError(t, err)
	assert.Len(t, res.Artifacts, 2)
	assert.Regexp(t, `^ami-[0-9a-f]{17}$`, res.Artifacts["us-east-1"])
	assert.Regexp(t, `^ami-[0-9a-f]{17}$`, res.Artifacts["eu-west-1"])
	require.Len(t, res.RawArtifacts, 1)
	assert.Equal(t, "mitchellh.amazonebs", res.RawArtifacts[0].BuilderID)
	assert.Zero(t, res.ExitCode)
	assert.Empty(t, res.Errors)
	assert.False(t, res.Interrupted)
	assert.Positive(t, res.Duration)

	texts := evs.texts()
	assert.Contains(t, texts, "==> amazon-ebs.layer: Launching a source AWS instance...")
	assert.Contains(t, texts, "    amazon-ebs.layer: PACKER_PLUGIN_PATH=/nonexistent/plugins")
	assert.Contains(t, texts, "    amazon-ebs.layer: CHECKPOINT_DISABLE=1")
	assert.Contains(t, texts, "    amazon-ebs.layer: PACKER_NO_COLOR=1")

	assert.Equal(t, filepath.Join(r.LogDir, "base.log"), res.LogPath)
	log := readLog(t, res.LogPath)
	assert.Contains(t, log, ",amazon-ebs.layer,artifact,0,id,eu-west-1:"+res.Artifacts["eu-west-1"]+"%!(PACKER_COMMA)us-east-1:")
	assert.Contains(t, log, ",,ui,say,==> amazon-ebs.layer: Launching a source AWS instance...\n")
	fi, err := os.Stat(res.LogPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(r.LogDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), di.Mode().Perm()&^umaskBits())

	// The same inputs give the same simulated AMIs; other vars, others.
	res2, err := r.Build(context.Background(), BuildRequest{Layer: "base", TemplatePath: layerTemplate(t, "base"),
		Vars: map[string]string{"aws_endpoint": "http://127.0.0.1:1", "b": "x,y"}})
	require.NoError(t, err)
	assert.Equal(t, res.Artifacts, res2.Artifacts)
}

func umaskBits() os.FileMode {
	p := filepath.Join(os.TempDir(), fmt.Sprintf("amibake-umask-%d", os.Getpid()))
	defer os.Remove(p)
	if err := os.Mkdir(p, 0o777); err != nil {
		return 0
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return 0o777 &^ fi.Mode().Perm()
}

func TestRunnerBuildFailure(t *testing.T) {
	r := fakeRunner(t, "FAKEPACKER_SLEEP=10ms", "FAKEPACKER_FAIL=app-web")
	res, err := r.Build(context.Background(), BuildRequest{Layer: "app-web", TemplatePath: layerTemplate(t, "app-web")})
	require.Error(t, err)
	var be *BuildError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "app-web", be.Layer)
	assert.Equal(t, 1, be.ExitCode)
	assert.Equal(t, res.LogPath, be.LogPath)
	msg := err.Error()
	assert.Contains(t, msg, "layer app-web: packer build failed (exit 1)")
	assert.Contains(t, msg, "amazon-ebs.layer: Script exited with non-zero exit status: 1")
	assert.Contains(t, msg, "(log: "+filepath.Join(r.LogDir, "app-web.log")+")")
	assert.Empty(t, res.Artifacts)
	assert.Equal(t, 1, res.ExitCode)
	assert.Contains(t, readLog(t, res.LogPath), ",,error-count,1\n")
}

func TestRunnerSecretsNeverLogged(t *testing.T) {
	const secret = "Zq9-TOPSECRET,v@lue"
	const other = "second-secret-99"
	r := fakeRunner(t, "FAKEPACKER_SLEEP=10ms", "FAKEPACKER_ECHO_ENV=DB_PASSWORD,API_TOKEN", "FAKEPACKER_FAIL=base")
	var evs eventLog
	res, err := r.Build(context.Background(), BuildRequest{
		Layer:        "base",
		TemplatePath: layerTemplate(t, "base"),
		ExtraEnv:     map[string]string{"DB_PASSWORD": secret, "API_TOKEN": other},
		OnEvent:      evs.add,
	})
	require.Error(t, err)
	log := readLog(t, res.LogPath)
	assert.Contains(t, log, "DB_PASSWORD=(sensitive)", "the fake got the secret and printed it")
	assert.Contains(t, log, "API_TOKEN=(sensitive)")
	all := log + "\n" + err.Error() + "\n" + strings.Join(res.Errors, "\n") + "\n" + strings.Join(evs.texts(), "\n")
	for _, s := range []string{secret, Escape(secret), "Zq9-TOPSECRET", other} {
		assert.NotContains(t, all, s)
	}
}

func TestRedactorPartialAndMultiline(t *testing.T) {
	red := newRedactor(BuildRequest{ExtraEnv: map[string]string{"K": "line-one\nline-two"}, Redact: []string{"abcdef"}})
	assert.Equal(t, "x (sensitive) y", red.redact("x line-one y"))
	assert.Equal(t, "x (sensitive) y", red.redact(`x line-one\nline-two y`))
	assert.Equal(t, "x (sensitive)", red.trimPartial("x abc"))
	assert.Equal(t, "x ab(sensitive)", red.trimPartial("x ab"+"line"), "a cut secret's start is hidden")
	assert.Equal(t, "plain", newRedactor(BuildRequest{}).redact("plain"))
}

func TestRunnerTemplateBytesAndNoise(t *testing.T) {
	r := fakeRunner(t, "FAKEPACKER_SLEEP=10ms", "FAKEPACKER_NOISE=1")
	r.WorkDir = filepath.Join(t.TempDir(), "work")
	var evs eventLog
	res, err := r.Build(context.Background(), BuildRequest{
		Layer:    "linux",
		Template: []byte("# for layer \"linux\"\nsource \"amazon-ebs\" \"layer\" {\n  region = \"eu-central-1\"\n}\n"),
		OnEvent:  evs.add,
	})
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(r.WorkDir, "linux.pkr.hcl"))
	assert.Equal(t, []string{"eu-central-1"}, keysOf(res.Artifacts))
	texts := evs.texts()
	assert.Contains(t, texts, "stdout: 2026/11/25 12:00:00 [INFO] (fakepacker) plugin chatter, not machine-readable")
	assert.Contains(t, texts, "stderr: fakepacker: a line on stderr")
	assert.Contains(t, texts, "    amazon-ebs.layer: CRLF line")
	log := readLog(t, res.LogPath)
	assert.Contains(t, log, "fakepacker: a line on stderr\n")
	assert.NotContains(t, log, "\r")
}

func keysOf(m map[string]string) []string { return keysSorted(m) }

func TestRunnerBadRequests(t *testing.T) {
	r := fakeRunner(t)
	for _, layer := range []string{"", "../etc", "a/b", ".hidden", "x y"} {
		_, err := r.Build(context.Background(), BuildRequest{Layer: layer, TemplatePath: "x.pkr.hcl"})
		assert.ErrorContains(t, err, "invalid layer name", "%q", layer)
	}
	_, err := r.Build(context.Background(), BuildRequest{Layer: "base"})
	assert.ErrorContains(t, err, "layer base: packer build failed: no template")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.Build(ctx, BuildRequest{Layer: "base", TemplatePath: layerTemplate(t, "base")})
	assert.ErrorIs(t, err, context.Canceled)
	assert.NoFileExists(t, filepath.Join(r.LogDir, "base.log"), "never started")

	r.Bin = filepath.Join(t.TempDir(), "no-packer")
	_, err = r.Build(context.Background(), BuildRequest{Layer: "base", TemplatePath: layerTemplate(t, "base")})
	assert.ErrorContains(t, err, "layer base: packer build failed: start ")
}

// cancelOn cancels when a ui line containing substr arrives.
func cancelOn(cancel context.CancelFunc, substr string, evs *eventLog) func(Event) {
	var once sync.Once
	return func(ev Event) {
		evs.add(ev)
		if _, text, ok := ev.UI(); ok && strings.Contains(text, substr) {
			once.Do(cancel)
		}
	}
}

func TestRunnerInterruptWaitsForCleanup(t *testing.T) {
	r := fakeRunner(t, "FAKEPACKER_SLEEP=30s", "FAKEPACKER_CLEANUP=400ms")
	r.Grace = 20 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var evs eventLog
	start := time.Now()
	res, err := r.Build(ctx, BuildRequest{Layer: "base", TemplatePath: layerTemplate(t, "base"),
		OnEvent: cancelOn(cancel, "Prevalidating any provided VPC", &evs)})
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "layer base: packer build interrupted (context canceled)")
	assert.True(t, res.Interrupted)
	assert.False(t, res.Killed)
	assert.Equal(t, 1, res.ExitCode, "packer exits 1 after a clean cancel")
	assert.GreaterOrEqual(t, elapsed, 400*time.Millisecond, "waited for the cleanup")
	assert.Less(t, elapsed, 10*time.Second)
	log := readLog(t, res.LogPath)
	for _, want := range []string{"Cancelling build after receiving interrupt", "Terminating the source AWS instance...",
		"Deleting temporary keypair...", "Cleanly cancelled builds after being interrupted."} {
		assert.Contains(t, log, want)
	}
	assert.Contains(t, evs.texts(), "Cleanly cancelled builds after being interrupted.", "events flow until packer exits")
}

func TestRunnerInterruptGraceKills(t *testing.T) {
	r := fakeRunner(t, "FAKEPACKER_SLEEP=30s", "FAKEPACKER_CLEANUP=30s")
	r.Grace = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var evs eventLog
	start := time.Now()
	res, err := r.Build(ctx, BuildRequest{Layer: "base", TemplatePath: layerTemplate(t, "base"),
		OnEvent: cancelOn(cancel, "Prevalidating any provided VPC", &evs)})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.True(t, res.Interrupted)
	assert.True(t, res.Killed)
	assert.Equal(t, -1, res.ExitCode)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "layer base: packer build killed after the interrupt grace period")
	log := readLog(t, res.LogPath)
	assert.Contains(t, log, "Cancelling build after receiving interrupt", "SIGINT came first")
	assert.NotContains(t, log, "Cleanly cancelled")
}

func TestRunnerAbortKillsAtOnce(t *testing.T) {
	r := fakeRunner(t, "FAKEPACKER_SLEEP=30s", "FAKEPACKER_CLEANUP=30s")
	r.Grace = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	abort := make(chan struct{})
	var evs eventLog
	var once sync.Once
	start := time.Now()
	res, err := r.Build(ctx, BuildRequest{Layer: "base", TemplatePath: layerTemplate(t, "base"), Abort: abort,
		OnEvent: func(ev Event) {
			evs.add(ev)
			if _, text, _ := ev.UI(); strings.Contains(text, "Prevalidating any provided VPC") {
				cancel()
			}
			if _, text, _ := ev.UI(); strings.Contains(text, "Cancelling build") {
				once.Do(func() { close(abort) })
			}
		}})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.True(t, res.Killed)
}

func TestRunnerConcurrentBuilds(t *testing.T) {
	r := fakeRunner(t, "FAKEPACKER_SLEEP=base=50ms,app=80ms,150ms")
	layers := []string{"base", "app", "web", "db", "cache", "queue"}
	var wg sync.WaitGroup
	results := make([]*BuildResult, len(layers))
	errs := make([]error, len(layers))
	for i, l := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.Build(context.Background(), BuildRequest{Layer: l, TemplatePath: layerTemplate(t, l)})
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, l := range layers {
		require.NoError(t, errs[i], l)
		ami := results[i].Artifacts["us-east-1"]
		assert.False(t, seen[ami], "distinct AMIs per layer")
		seen[ami] = true
		assert.Contains(t, readLog(t, results[i].LogPath), "amibake-"+l+" ", "each log holds its own layer")
	}
}

func TestRunnerValidate(t *testing.T) {
	r := fakeRunner(t)
	require.NoError(t, r.Validate(context.Background(), layerTemplate(t, "base"), map[string]string{"a": "b"}))
	err := r.Validate(context.Background(), filepath.Join(t.TempDir(), "missing.pkr.hcl"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "packer validate ")
	assert.Contains(t, err.Error(), "missing.pkr.hcl")
}

func TestBuildErrorMessages(t *testing.T) {
	e := &BuildError{Layer: "x", ExitCode: 2, Errors: []string{"a", "b"}, LogPath: "/l/x.log"}
	assert.Equal(t, "layer x: packer build failed (exit 2): a; b (log: /l/x.log)", e.Error())
	e = &BuildError{Layer: "x", Cause: context.DeadlineExceeded}
	assert.Equal(t, "layer x: packer build interrupted (context deadline exceeded)", e.Error())
	assert.True(t, errors.Is(e, context.DeadlineExceeded))
}

// TestRunnerHelperProcess is not a test: TestRunnerSurvivesKill9 runs the
// test binary as a stand-in amibake that builds one layer and is killed.
func TestRunnerHelperProcess(t *testing.T) {
	tmpl := os.Getenv("AMIBAKE_HELPER_TEMPLATE")
	if tmpl == "" {
		t.Skip("helper process only")
	}
	r := &Runner{Bin: fakePackerBin, LogDir: os.Getenv("AMIBAKE_HELPER_LOGDIR")}
	_, err := r.Build(context.Background(), BuildRequest{Layer: "base", TemplatePath: tmpl})
	t.Fatalf("the helper should have been killed during the build; got %v", err)
}

// kill -9 of amibake mid-build: packer (in its own process group, writing
// to a spool file rather than a pipe) is neither signalled nor broken by a
// dead reader; it finishes its build, which the re-run then adopts.
func TestRunnerSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "record")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunnerHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"AMIBAKE_TEST_FAKEPACKER="+fakePackerBin,
		"AMIBAKE_HELPER_TEMPLATE="+layerTemplate(t, "base"),
		"AMIBAKE_HELPER_LOGDIR="+filepath.Join(dir, "logs"),
		"FAKEPACKER_SLEEP=1500ms",
		"FAKEPACKER_RECORD="+record,
	)
	require.NoError(t, cmd.Start())
	waitFor := func(what string, within time.Duration) bool {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if b, _ := os.ReadFile(record); strings.Contains(string(b), what) {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	require.True(t, waitFor("start base ", 30*time.Second), "the build started")
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	assert.True(t, waitFor("end base ", 20*time.Second), "packer finished its build after amibake died")
	b, _ := os.ReadFile(record)
	assert.NotContains(t, string(b), "interrupted")
	log := readLog(t, filepath.Join(dir, "logs", "base.log"))
	assert.Contains(t, log, "Prevalidating", "the log has what arrived before the kill")
}

func TestNotifyInterrupt(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	ctx, abort, stop := NotifyInterrupt(context.Background(), func(n int, sig os.Signal) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprint(n, " ", sig))
	})
	defer stop()
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first signal did not cancel")
	}
	assert.ErrorIs(t, context.Cause(ctx), context.Canceled)
	assert.Contains(t, context.Cause(ctx).Error(), "terminated")
	select {
	case <-abort:
		t.Fatal("aborted on the first signal")
	default:
	}
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
	select {
	case <-abort:
	case <-time.After(5 * time.Second):
		t.Fatal("the second signal did not abort")
	}
	stop()
	stop()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"1 terminated", "2 interrupt"}, seen)
}

// An interrupt that comes too late to stop the build: packer exits 0 and
// its AMI is real, so the build is a success (marked Interrupted).
func TestRunnerInterruptTooLate(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "packer")
	script := "#!/bin/sh\ntrap '' INT\necho '1,,ui,say,==> amazon-ebs.layer: Creating AMI'\nsleep 0.5\n" +
		"echo '1,amazon-ebs.layer,artifact,0,id,us-east-1:ami-0123'\nexit 0\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	r := fakeRunner(t)
	r.Bin = bin
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var evs eventLog
	res, err := r.Build(ctx, BuildRequest{Layer: "base", TemplatePath: layerTemplate(t, "base"),
		OnEvent: cancelOn(cancel, "Creating AMI", &evs)})
	require.NoError(t, err)
	assert.True(t, res.Interrupted)
	assert.Equal(t, map[string]string{"us-east-1": "ami-0123"}, res.Artifacts)
}

// FuzzRedaction: whatever packer prints, a secret (with a character that
// "(sensitive)" lacks, and no parenthesis, which the marker could complete)
// reaches neither the log nor the events.
func FuzzRedaction(f *testing.F) {
	f.Add("s3cr3t", "1,,ui,message,    amazon-ebs.layer: TOKEN=s3cr3t", false)
	f.Add("a,b9", "1,,ui,say,a%!(PACKER_COMMA)b9 and a,b9", false)
	f.Add("x9x9", "x9x9x9x9x", true)
	f.Add("9ab", "1,,ui,error,9a", true)
	f.Fuzz(func(t *testing.T, secret, line string, truncated bool) {
		if len(secret) < 3 || !strings.ContainsAny(secret, "0123456789") || strings.ContainsAny(secret, "()\r\n") {
			return
		}
		var log strings.Builder
		var evs eventLog
		o := &output{log: &log, red: newRedactor(BuildRequest{ExtraEnv: map[string]string{"S": secret}}), onEvent: evs.add}
		o.line(line, truncated, "stdout")
		o.line(line, truncated, "stderr")
		if strings.Contains(log.String(), secret) {
			t.Fatalf("log holds the secret: %q", log.String())
		}
		for _, ev := range evs.evs {
			for _, d := range ev.Data {
				if strings.Contains(d, secret) {
					t.Fatalf("event holds the secret: %+v", ev)
				}
			}
		}
		for _, e := range o.stream.Errors() {
			if strings.Contains(e, secret) {
				t.Fatalf("error holds the secret: %q", e)
			}
		}
	})
}
