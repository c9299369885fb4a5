package reliability

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/internal/testutil"
)

// amibakeBin is the amibake binary TestMain builds once.
var amibakeBin string

func TestMain(m *testing.M) {
	// These tests mostly wait (lock polls, injected latency, eventual
	// consistency windows, child processes), so run more of them at once
	// than the CPU count, unless -parallel says otherwise.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	code := func() int {
		dir, err := os.MkdirTemp("", "amibake-reliability-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		rootDir, err := testutil.RepoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		amibakeBin = filepath.Join(dir, "amibake")
		build := exec.Command("go", "build", "-o", amibakeBin, "./cmd/amibake")
		build.Dir = rootDir
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build ./cmd/amibake: %v\n%s", err, out)
			return 1
		}
		defer testutil.CleanupPluginDir() // the real-packer crash test's
		return m.Run()
	}()
	os.Exit(code)
}

// long reports whether the long variants run (make reliability).
func long() bool { return os.Getenv("AMIBAKE_RELIABILITY") == "long" }

// result is one amibake run.
type result struct {
	Code        int
	Out, Err    string
	Elapsed     time.Duration
	Args        []string
	Description string
}

func (r result) String() string {
	return fmt.Sprintf("amibake %s → exit %d in %s\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Elapsed.Round(time.Millisecond), r.Out, r.Err)
}

// runIn runs `amibake --chdir dir args…` in-process against cfg, as main
// does (root.Main with the production Factory, its AWS config replaced).
func runIn(t testing.TB, cfg aws.Config, dir string, args ...string) result {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return cfg, nil }
	all := append([]string{"amibake", "--chdir", dir}, args...)
	start := time.Now()
	code := root.Main(context.Background(), all, f)
	return result{Code: code, Out: out.String(), Err: errOut.String(), Elapsed: time.Since(start), Args: all[1:]}
}

// cleanEnv is the environment of an amibake process talking to the
// sandbox: nothing AWS_* from this machine (AWS_CA_BUNDLE above all, which
// the SDK's default loader refuses with a custom endpoint), the sandbox's
// own variables, a private HOME.
func cleanEnv(t testing.TB, sandboxEnv []string, extra ...string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "AMIBAKE_") || k == "HOME" || k == "TMPDIR" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+t.TempDir(), "TMPDIR="+t.TempDir(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	env = append(env, sandboxEnv...)
	return append(env, extra...)
}

// proc is an amibake process started with startProc.
type proc struct {
	cmd      *exec.Cmd
	out, err strings.Builder
	args     []string
	started  time.Time
	done     chan result
}

// startProc starts the built amibake binary.
func startProc(t testing.TB, env []string, dir string, args ...string) *proc {
	t.Helper()
	all := append([]string{"--chdir", dir}, args...)
	p := &proc{cmd: exec.Command(amibakeBin, all...), args: all, done: make(chan result, 1)}
	p.cmd.Env = env
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start amibake: %v", err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
	})
	go func() {
		err := p.cmd.Wait()
		code := 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				code = -1
			} else {
				code = ee.ExitCode()
			}
		}
		p.done <- result{Code: code, Out: p.out.String(), Err: p.err.String(), Elapsed: time.Since(p.started), Args: all}
	}()
	return p
}

// wait returns the process's result, failing the test after timeout.
func (p *proc) wait(t testing.TB, timeout time.Duration) result {
	t.Helper()
	select {
	case r := <-p.done:
		return r
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		r := <-p.done
		t.Fatalf("amibake did not finish within %s:\n%s", timeout, r)
		return r
	}
}

// runProc runs the built binary to completion.
func runProc(t testing.TB, env []string, dir string, args ...string) result {
	t.Helper()
	return startProc(t, env, dir, args...).wait(t, 2*time.Minute)
}

// externalSandbox is `amibake sandbox serve` in its own process.
type externalSandbox struct {
	URL string
	Env []string // the printed export lines
	cmd *exec.Cmd
}

// startSandbox runs `amibake -o json sandbox serve --addr 127.0.0.1:0` and
// reads the environment it prints; the process is stopped when the test ends.
func startSandbox(t testing.TB, extra ...string) *externalSandbox {
	t.Helper()
	cmd := exec.Command(amibakeBin, append([]string{"-o", "json", "sandbox", "serve", "--addr", "127.0.0.1:0"}, extra...)...)
	cmd.Env = cleanEnv(t, nil)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("sandbox serve: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	es := &externalSandbox{cmd: cmd}
	// With -o json, serve prints {"endpoint": …, "env": {…}} (the same
	// variables as its export lines) and keeps stdout open.
	var printed struct {
		Endpoint string            `json:"endpoint"`
		Env      map[string]string `json:"env"`
	}
	if err := json.NewDecoder(stdout).Decode(&printed); err != nil {
		t.Fatalf("sandbox serve output: %v", err)
	}
	for k, v := range printed.Env {
		es.Env = append(es.Env, k+"="+v)
	}
	es.URL = printed.Env["AWS_ENDPOINT_URL"]
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if es.URL == "" {
		t.Fatalf("sandbox serve printed no AWS_ENDPOINT_URL (env %v)", es.Env)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sandbox.WaitHealthy(ctx, es.URL); err != nil {
		t.Fatal(err)
	}
	return es
}
