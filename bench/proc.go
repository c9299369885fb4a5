package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/amibake/amibake/internal/sandbox"
)

// buildAmibake compiles the CLI into dir.
func buildAmibake(dir string) (string, error) {
	bin := filepath.Join(dir, "amibake")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/amibake")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/amibake: %w", err)
	}
	return bin, nil
}

// running are the servers not stopped yet, for the interrupt handler.
var running struct {
	sync.Mutex
	servers map[*server]bool
}

// stopAll stops every running server (on interrupt).
func stopAll() {
	running.Lock()
	servers := running.servers
	running.servers = nil
	running.Unlock()
	for s := range servers {
		s.stop()
	}
}

// server is an out-of-process `amibake sandbox serve`.
type server struct {
	cmd      *exec.Cmd
	url      string
	env      map[string]string
	stderr   bytes.Buffer
	stopOnce sync.Once
	// Startup is how long serve took to load the state and listen.
	Startup time.Duration
}

// startServe runs `amibake -o json sandbox serve --state FILE` on a free
// loopback port and reads its endpoint and environment.
func startServe(bin, state string) (*server, error) {
	s := &server{}
	s.cmd = exec.Command(bin, "-o", "json", "sandbox", "serve", "--addr", "127.0.0.1:0", "--state", state)
	s.cmd.Env = baseEnv()
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sandbox serve: %w", err)
	}
	var info struct {
		Endpoint string            `json:"endpoint"`
		Env      map[string]string `json:"env"`
	}
	decoded := make(chan error, 1)
	go func() { decoded <- json.NewDecoder(out).Decode(&info) }()
	select {
	case err = <-decoded:
	case <-time.After(2 * time.Minute):
		err = errors.New("no endpoint after 2 minutes")
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("sandbox serve: %w (stderr: %s)", err, strings.TrimSpace(s.stderr.String()))
	}
	go io.Copy(io.Discard, out) //nolint:errcheck // drain
	s.url, s.env = info.Endpoint, info.Env
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sandbox.WaitHealthy(ctx, s.url); err != nil {
		s.stop()
		return nil, err
	}
	s.Startup = time.Since(started)
	running.Lock()
	if running.servers == nil {
		running.servers = map[*server]bool{}
	}
	running.servers[s] = true
	running.Unlock()
	return s, nil
}

// stop kills the server: the benchmarks never change the world worth
// saving, and writing a 50,000-AMI state back would only cost time.
func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	running.Lock()
	delete(running.servers, s)
	running.Unlock()
	s.stopOnce.Do(func() {
		s.cmd.Process.Kill() //nolint:errcheck // already gone
		s.cmd.Wait()         //nolint:errcheck // killed
	})
}

// awsConfig talks to the server like the child processes do.
func (s *server) awsConfig() aws.Config {
	return aws.Config{
		Region:           s.env["AWS_REGION"],
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(s.env["AWS_ACCESS_KEY_ID"], s.env["AWS_SECRET_ACCESS_KEY"], "")),
		BaseEndpoint:     aws.String(s.url),
		HTTPClient:       &http.Client{Timeout: 60 * time.Second},
		RetryMaxAttempts: 8,
		RetryMode:        aws.RetryModeStandard,
	}
}

// cpu is the server process's user+system time so far, from
// /proc/PID/stat (Linux; false elsewhere): unlike its serving time, it does
// not grow when other work shares the machine.
func (s *server) cpu() (time.Duration, bool) {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0, false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// Fields after "(comm)": state is the first, utime the 12th, stime the 13th.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	var ut, st int64
	if _, err := fmt.Sscan(f[11], &ut); err != nil {
		return 0, false
	}
	if _, err := fmt.Sscan(f[12], &st); err != nil {
		return 0, false
	}
	const userHZ = 100 // clock ticks per second in /proc on Linux
	return time.Duration(ut+st) * time.Second / userHZ, true
}

func (s *server) resetLog() error {
	req, _ := http.NewRequest(http.MethodDelete, s.url+"/_sandbox/log", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset sandbox log: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset sandbox log: %s", resp.Status)
	}
	return nil
}

// requestLog reads the sandbox's request log.
func (s *server) requestLog() ([]sandbox.LogEntry, error) {
	resp, err := http.Get(s.url + "/_sandbox/log")
	if err != nil {
		return nil, fmt.Errorf("sandbox log: %w", err)
	}
	defer resp.Body.Close()
	var log []sandbox.LogEntry
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
		return nil, fmt.Errorf("sandbox log: %w", err)
	}
	return log, nil
}

// counts reads the request log's calls by "service:Action"
// (/_sandbox/log/counts).
func (s *server) counts() (callCounts, error) {
	resp, err := http.Get(s.url + "/_sandbox/log/counts")
	if err != nil {
		return nil, fmt.Errorf("sandbox log counts: %w", err)
	}
	defer resp.Body.Close()
	var c callCounts
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return nil, fmt.Errorf("sandbox log counts: %w", err)
	}
	return c, nil
}

// served reads the request log: the calls amibake made by
// "service:Action" — first attempts only (sandbox.FirstAttemptCounts, the
// rule of CountFirstAttempts): on loopback the SDK retries a request now
// and then on a closed-connection race (aws-sdk-go-v2#2737), and a retry
// is not a call the code made, so it never counts against a budget —, how
// many retries the log holds besides, and how long at least one request
// was in the sandbox's hands: the union of the requests' intervals (retries
// included: serving them was the sandbox's time), so that concurrent
// requests (bake) count once. Every entry is checked against
// /_sandbox/log/counts.
func (s *server) served() (callCounts, int, time.Duration, error) {
	log, err := s.requestLog()
	if err != nil {
		return nil, 0, 0, err
	}
	all := callCounts{}
	for _, e := range log {
		all[e.Service+":"+e.Action]++
	}
	counts, err := s.counts()
	if err != nil {
		return nil, 0, 0, err
	}
	if !counts.equal(all) {
		return nil, 0, 0, fmt.Errorf("sandbox log and counts disagree: %v vs %v", all, counts)
	}
	calls := callCounts(sandbox.FirstAttemptCounts(log))
	return calls, all.total() - calls.total(), busyTime(log), nil
}

// busyTime is the length of the union of the log's request intervals:
// how long at least one request was in the sandbox's hands.
func busyTime(log []sandbox.LogEntry) time.Duration {
	type span struct{ from, to time.Time }
	spans := make([]span, 0, len(log))
	for _, e := range log {
		spans = append(spans, span{e.Time, e.Time.Add(time.Duration(e.Micros) * time.Microsecond)})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var busy time.Duration
	var cur span
	for i, sp := range spans {
		switch {
		case i == 0:
			cur = sp
		case sp.from.After(cur.to):
			busy += cur.to.Sub(cur.from)
			cur = sp
		case sp.to.After(cur.to):
			cur.to = sp.to
		}
	}
	if len(spans) > 0 {
		busy += cur.to.Sub(cur.from)
	}
	return busy
}

// callCounts are sandbox calls by "service:Action".
type callCounts map[string]int

func (c callCounts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

func (c callCounts) describeImages() int { return c["ec2:DescribeImages"] }

// String is "N calls (ec2:DescribeImages=9 ssm:GetParameters=51)".
func (c callCounts) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c[k])
	}
	return fmt.Sprintf("%d calls (%s)", c.total(), strings.Join(parts, " "))
}

func (c callCounts) equal(o callCounts) bool {
	if len(c) != len(o) {
		return false
	}
	for k, v := range c {
		if o[k] != v {
			return false
		}
	}
	return true
}

// baseEnv is the environment of every child: enough to run, and nothing
// that points the SDK at a real account.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOCACHE", "GOPATH"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "NO_COLOR=1")
}

// runResult is one child process's measurements.
type runResult struct {
	Wall time.Duration
	// CPU is amibake's user+system time: unlike Wall, it does not grow
	// when other work shares the machine.
	CPU    time.Duration
	MaxRSS int64 // bytes
	Exit   int
	Stdout []byte
	Stderr []byte
	// Calls are the calls amibake made (first attempts); Retries the SDK's
	// retries of them in the log, not counted in Calls.
	Calls   callCounts
	Retries int
	// SandboxCPU is the sandbox process's CPU time during the run
	// (SandboxCPUOK: measured; /proc is Linux's).
	SandboxCPU   time.Duration
	SandboxCPUOK bool
	// Best* are the least wall, CPU and sandbox CPU over the runs of a
	// timed plan (runPlan): what growth is judged on, a run slowed down by
	// other work on the machine left out.
	BestWall, BestCPU, BestSandboxCPU time.Duration
	// Served is how long the sandbox had at least one of this run's
	// requests in hand (the union of its log's request intervals):
	// Wall-Served is the time amibake ran with no request outstanding, its
	// wall time against a sandbox that answers instantly.
	Served time.Duration
}

// Own is the wall time minus the sandbox's service time.
func (r *runResult) Own() time.Duration { return r.Wall - r.Served }

// runAmibake runs the CLI against srv with the sandbox's environment and
// measures wall time, peak RSS and the calls the sandbox logged.
//
// The child is started through a copy of this program (wrapChild): on
// Linux a process started with vfork+exec inherits its parent's RSS
// high-water mark into ru_maxrss, so measuring it from this process —
// which holds whole seeded worlds — would report our memory, not
// amibake's. The wrapper is small, and it forks amibake itself.
func runAmibake(bin string, srv *server, args ...string) (*runResult, error) {
	if err := srv.resetLog(); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	report, err := os.CreateTemp(reportDir, "run-")
	if err != nil {
		return nil, err
	}
	report.Close()
	defer os.Remove(report.Name())
	cpu0, cpuOK := srv.cpu()
	cmd := exec.Command(self, append([]string{bin}, args...)...)
	cmd.Env = append(baseEnv(), wrapEnv+"="+report.Name())
	for k, v := range srv.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := &runResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if cpu1, ok := srv.cpu(); ok && cpuOK {
		r.SandboxCPU, r.SandboxCPUOK = cpu1-cpu0, true
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, fmt.Errorf("run amibake %s: %w", strings.Join(args, " "), err)
	}
	data, err := os.ReadFile(report.Name())
	if err != nil {
		return nil, err
	}
	var rep wrapReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("run amibake %s: no report from the wrapper: %w (stderr: %s)", strings.Join(args, " "), err, tail(r.Stderr))
	}
	if rep.Error != "" {
		return nil, fmt.Errorf("run amibake %s: %s", strings.Join(args, " "), rep.Error)
	}
	r.Wall, r.CPU, r.MaxRSS, r.Exit = time.Duration(rep.WallNanos), time.Duration(rep.CPUNanos), rep.MaxRSS, rep.Exit
	r.Calls, r.Retries, r.Served, err = srv.served()
	if err != nil {
		return nil, err
	}
	return r, nil
}

// reportDir receives the wrappers' report files: the scratch directory,
// so that an interrupted run leaves none behind.
var reportDir string

// wrapEnv names the report file of a wrapper process.
const wrapEnv = "AMIBAKE_BENCH_WRAP_REPORT"

type wrapReport struct {
	WallNanos int64  `json:"wall_nanos"`
	CPUNanos  int64  `json:"cpu_nanos"`
	MaxRSS    int64  `json:"max_rss"`
	Exit      int    `json:"exit"`
	Error     string `json:"error,omitempty"`
}

// wrapChild is main when this program runs as the wrapper: run argv with
// our stdio and environment (less wrapEnv), write its wall time, peak RSS
// and exit code to the report file, and exit with its code.
func wrapChild(reportPath string, argv []string) int {
	var rep wrapReport
	defer func() {
		data, _ := json.Marshal(rep)
		os.WriteFile(reportPath, data, 0o600) //nolint:errcheck // the harness reports a missing file
	}()
	if len(argv) == 0 {
		rep.Error = "wrapper: no command"
		return 1
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, wrapEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	started := time.Now()
	err := cmd.Run()
	rep.WallNanos = int64(time.Since(started))
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		rep.Error = err.Error()
		return 1
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rep.MaxRSS = maxRSSBytes(ru)
		rep.CPUNanos = ru.Utime.Nano() + ru.Stime.Nano()
	}
	rep.Exit = cmd.ProcessState.ExitCode()
	return rep.Exit
}

// planDoc is the part of `amibake plan -o json` the benchmarks read.
type planDoc struct {
	Layers []struct {
		Layer  string `json:"layer"`
		Action string `json:"action"`
		Reason string `json:"reason"`
		Detail string `json:"detail"`
	} `json:"layers"`
	Changes  int `json:"changes"`
	Publish  int `json:"publish"`
	UpToDate int `json:"up_to_date"`
}

// runPlan runs `amibake -C DIR -o json plan` n times and returns the run
// with the median wall time, the peak RSS over all of them, and the plan.
// It fails when the calls differ between runs or plan exits with an error.
func runPlan(bin string, srv *server, dir string, n int, extra ...string) (*runResult, *planDoc, error) {
	args := append([]string{"-C", dir, "-o", "json", "plan"}, extra...)
	var runs []*runResult
	var peak int64
	for i := 0; i < n; i++ {
		r, err := runAmibake(bin, srv, args...)
		if err != nil {
			return nil, nil, err
		}
		if r.Exit != 0 && r.Exit != 2 {
			return nil, nil, fmt.Errorf("amibake plan exited %d: %s", r.Exit, tail(r.Stderr))
		}
		if len(runs) > 0 && !runs[0].Calls.equal(r.Calls) {
			return nil, nil, fmt.Errorf("plan made different calls on two runs: %v then %v", runs[0].Calls, r.Calls)
		}
		peak = max(peak, r.MaxRSS)
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Wall < runs[j].Wall })
	med := runs[len(runs)/2]
	med.MaxRSS = peak
	med.BestWall, med.BestCPU, med.BestSandboxCPU = runs[0].Wall, runs[0].CPU, runs[0].SandboxCPU
	for _, r := range runs {
		med.BestCPU, med.BestSandboxCPU = min(med.BestCPU, r.CPU), min(med.BestSandboxCPU, r.SandboxCPU)
	}
	var doc planDoc
	if err := json.Unmarshal(med.Stdout, &doc); err != nil {
		return nil, nil, fmt.Errorf("plan output: %w: %s", err, tail(med.Stdout))
	}
	return med, &doc, nil
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}
