package bake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/amibake/amibake/internal/crashpoint"
)

// DefaultGrace is how long a cancelled build may take to clean up (packer
// terminates the build instance and deletes its key pair and security
// group) before it is killed.
const DefaultGrace = 5 * time.Minute

// drainTimeout bounds how long Validate waits for packer's output pipes
// to close after packer exited (a stray grandchild may hold them open).
const drainTimeout = 5 * time.Second

// tailPoll is how often a build's output spool is read while packer runs.
const tailPoll = 25 * time.Millisecond

// Redacted replaces every secret value in packer's output.
const Redacted = "(sensitive)"

// Runner runs the packer binary for one layer at a time; one Runner may
// run many builds concurrently.
type Runner struct {
	// Bin is the packer binary; "packer" (from PATH) when empty.
	Bin string
	// PluginDir is PACKER_PLUGIN_PATH, where the plugins are installed;
	// packer init is never run.
	PluginDir string
	// Env is packer's base environment; the process's own when nil.
	Env []string
	// WorkDir is packer's working directory, and where templates given as
	// bytes are written. Empty: the template's directory (a temporary
	// directory for bytes).
	WorkDir string
	// LogDir receives <layer>.log per build, packer's whole output with
	// secrets redacted. Empty: no log file.
	LogDir string
	// Grace is how long a cancelled build may clean up before it is
	// killed; DefaultGrace when 0.
	Grace time.Duration
}

// BuildRequest is one layer's packer build.
type BuildRequest struct {
	Layer string
	// TemplatePath is the template to build; when empty, Template is
	// written to <WorkDir>/<layer>.pkr.hcl.
	TemplatePath string
	Template     []byte
	// Vars are passed as -var NAME=VALUE; they appear on packer's command
	// line and so must not be secret.
	Vars map[string]string
	// ExtraEnv is added to packer's environment. Every value is treated as
	// a secret: it is replaced with (sensitive) wherever it shows in the
	// output, the log file, events and errors.
	ExtraEnv map[string]string
	// Redact lists more secret values to hide from output.
	Redact []string
	// OnEvent, when set, is called for every event in output order (never
	// concurrently for one build); lines that are not machine-readable come
	// as EventRaw events.
	OnEvent func(Event)
	// Abort, when closed after ctx was cancelled, ends the grace period
	// early: packer is killed at once (a second Ctrl-C).
	Abort <-chan struct{}
}

// BuildResult is what one packer run produced.
type BuildResult struct {
	Layer string
	// Artifacts maps each region to the AMI built or copied there.
	Artifacts map[string]string
	// All artifacts as packer reported them.
	RawArtifacts []Artifact
	// Errors are the build's error lines (see Stream.Errors).
	Errors   []string
	LogPath  string
	Duration time.Duration
	// ExitCode is packer's exit status; -1 when it was killed by a signal.
	ExitCode int
	// Interrupted: ctx was cancelled and packer was sent SIGINT (a build
	// that still exited 0 is a success, its artifacts real). Killed: it did
	// not exit within the grace period and was sent SIGKILL.
	Interrupted bool
	Killed      bool
}

// BuildError is the error of a failed build. It wraps ctx's error when
// the build was interrupted.
type BuildError struct {
	Layer    string
	ExitCode int
	Errors   []string // the last few error lines
	LogPath  string
	Killed   bool
	Cause    error
}

const maxErrorLines = 5

func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "layer %s: packer build ", e.Layer)
	switch {
	case e.Killed:
		b.WriteString("killed after the interrupt grace period")
	case errors.Is(e.Cause, context.Canceled) || errors.Is(e.Cause, context.DeadlineExceeded):
		fmt.Fprintf(&b, "interrupted (%v)", e.Cause)
	case e.Cause != nil:
		fmt.Fprintf(&b, "failed: %v", e.Cause)
	default:
		fmt.Fprintf(&b, "failed (exit %d)", e.ExitCode)
	}
	if len(e.Errors) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Errors, "; "))
	}
	if e.LogPath != "" {
		fmt.Fprintf(&b, " (log: %s)", e.LogPath)
	}
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.Cause }

var layerFileRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (r *Runner) bin() string {
	if r.Bin == "" {
		return "packer"
	}
	return r.Bin
}

func (r *Runner) grace() time.Duration {
	if r.Grace <= 0 {
		return DefaultGrace
	}
	return r.Grace
}

// environ is packer's environment: the base, then amibake's fixed
// settings, then extra (later entries win in os/exec).
func (r *Runner) environ(extra map[string]string) []string {
	base := r.Env
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+4+len(extra))
	env = append(env, base...)
	env = append(env, "CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1")
	if r.PluginDir != "" {
		env = append(env, "PACKER_PLUGIN_PATH="+r.PluginDir)
	}
	for _, k := range keysSorted(extra) {
		env = append(env, k+"="+extra[k])
	}
	return env
}

func varArgs(vars map[string]string) []string {
	var args []string
	for _, k := range keysSorted(vars) {
		args = append(args, "-var", k+"="+vars[k])
	}
	return args
}

// Build runs `packer build -machine-readable` for one layer. It returns
// the result even on failure, with a *BuildError naming the layer, the last
// error lines and the log path. When ctx is cancelled, packer's process
// group gets SIGINT, as from a terminal's Ctrl-C, so packer cleans up what
// it created; Build waits up to the grace period for it, then kills it.
func (r *Runner) Build(ctx context.Context, req BuildRequest) (*BuildResult, error) {
	res := &BuildResult{Layer: req.Layer, Artifacts: map[string]string{}}
	if !layerFileRE.MatchString(req.Layer) {
		return res, fmt.Errorf("packer build: invalid layer name %q", req.Layer)
	}
	if err := ctx.Err(); err != nil {
		return res, &BuildError{Layer: req.Layer, ExitCode: -1, Cause: err}
	}
	red := newRedactor(req)
	fail := func(err error) (*BuildResult, error) {
		return res, &BuildError{Layer: req.Layer, ExitCode: -1, LogPath: res.LogPath, Cause: errors.New(red.redact(err.Error()))}
	}

	tmpl, workDir, cleanup, err := r.template(req)
	if err != nil {
		return fail(err)
	}
	defer cleanup()

	var logFile *os.File
	if r.LogDir != "" {
		if err := os.MkdirAll(r.LogDir, 0o755); err != nil {
			return fail(fmt.Errorf("log directory: %w", err))
		}
		res.LogPath = filepath.Join(r.LogDir, req.Layer+".log")
		logFile, err = os.OpenFile(res.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fail(fmt.Errorf("log file: %w", err))
		}
		defer logFile.Close()
	}

	args := []string{"build", "-machine-readable", "-color=false", "-timestamp-ui=false"}
	args = append(args, varArgs(req.Vars)...)
	args = append(args, tmpl)
	cmd := exec.Command(r.bin(), args...)
	cmd.Dir = workDir
	cmd.Env = r.environ(req.ExtraEnv)
	cmd.Stdin = nil
	setProcessGroup(cmd)

	// Packer writes into unlinked spool files, not pipes: should amibake
	// die (kill -9), packer does not get SIGPIPE on its next line but
	// finishes its build and cleans up, and the re-run adopts the AMI. The
	// files have no name, so the unredacted output never outlives the run.
	outW, outR, err := spool()
	if err != nil {
		return fail(err)
	}
	defer outR.Close()
	errW, errR, err := spool()
	if err != nil {
		outW.Close()
		return fail(err)
	}
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW

	out := &output{log: logFile, red: red, onEvent: req.OnEvent}
	start := time.Now()
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		return fail(fmt.Errorf("start %s: %w", r.bin(), err))
	}
	crashpoint.Hit("bake.build-started")

	exited := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); out.read(&tailReader{f: outR, exited: exited}, "stdout") }()
	go func() { defer readers.Done(); out.read(&tailReader{f: errR, exited: exited}, "stderr") }()

	waitErr := r.wait(ctx, cmd, req.Abort, res)
	close(exited)
	readers.Wait()

	res.Duration = time.Since(start)
	res.ExitCode = cmd.ProcessState.ExitCode()
	out.mu.Lock()
	res.RawArtifacts = append([]Artifact(nil), out.stream.Artifacts...)
	for reg, ami := range out.stream.AMIs() {
		res.Artifacts[reg] = ami
	}
	res.Errors = out.stream.Errors()
	if len(res.Errors) == 0 {
		res.Errors = append(res.Errors, out.stderrTail...)
	}
	logErr := out.logErr
	out.mu.Unlock()

	// A build that exited 0 succeeded, even when the interrupt came too
	// late to stop it: its AMI exists.
	var cause error
	switch {
	case res.ExitCode == 0 && waitErr != nil:
		cause = waitErr // could not wait for it
	case res.ExitCode != 0 && res.Interrupted:
		cause = context.Cause(ctx)
	}
	if res.ExitCode != 0 || cause != nil {
		return res, &BuildError{
			Layer:    req.Layer,
			ExitCode: res.ExitCode,
			Errors:   lastN(res.Errors, maxErrorLines),
			LogPath:  res.LogPath,
			Killed:   res.Killed,
			Cause:    cause,
		}
	}
	if logErr != nil {
		return res, fmt.Errorf("layer %s: writing packer log %s: %w", req.Layer, res.LogPath, logErr)
	}
	return res, nil
}

// wait waits for packer, forwarding a cancellation as SIGINT to its process
// group and killing the group when the grace period or abort ends.
func (r *Runner) wait(ctx context.Context, cmd *exec.Cmd, abort <-chan struct{}, res *BuildResult) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	res.Interrupted = true
	_ = signalGroup(cmd, sigInterrupt)
	timer := time.NewTimer(r.grace())
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
	case <-abort:
	}
	res.Killed = true
	_ = signalGroup(cmd, sigKill)
	return <-done
}

// template returns the template path and working directory for req, and
// a cleanup for a temporary directory it made.
func (r *Runner) template(req BuildRequest) (path, workDir string, cleanup func(), err error) {
	cleanup = func() {}
	if req.TemplatePath != "" {
		path, err = filepath.Abs(req.TemplatePath)
		if err != nil {
			return "", "", cleanup, fmt.Errorf("template path: %w", err)
		}
		workDir = r.WorkDir
		if workDir == "" {
			workDir = filepath.Dir(path)
		}
		return path, workDir, cleanup, nil
	}
	if len(req.Template) == 0 {
		return "", "", cleanup, errors.New("no template: TemplatePath and Template are both empty")
	}
	dir := r.WorkDir
	if dir == "" {
		dir, err = os.MkdirTemp("", "amibake-"+req.Layer+"-")
		if err != nil {
			return "", "", cleanup, fmt.Errorf("work directory: %w", err)
		}
		cleanup = func() { os.RemoveAll(dir) }
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", cleanup, fmt.Errorf("work directory: %w", err)
	}
	path = filepath.Join(dir, req.Layer+".pkr.hcl")
	if err := os.WriteFile(path, req.Template, 0o600); err != nil {
		return "", "", cleanup, fmt.Errorf("write template: %w", err)
	}
	return path, dir, cleanup, nil
}

// spool returns a temporary file packer writes to and a separate reader
// of it, the file's name already removed.
func spool() (w, r *os.File, err error) {
	w, err = os.CreateTemp("", "amibake-packer-output-*")
	if err != nil {
		return nil, nil, fmt.Errorf("output spool: %w", err)
	}
	r, err = os.Open(w.Name())
	if err != nil {
		w.Close()
		os.Remove(w.Name())
		return nil, nil, fmt.Errorf("output spool: %w", err)
	}
	// On unix the open files outlive their name. (Where an open file
	// cannot be removed, the spool stays in the temporary directory.)
	_ = os.Remove(w.Name())
	return w, r, nil
}

// tailReader follows a file another process appends to, until that
// process has exited and everything it wrote was read.
type tailReader struct {
	f      *os.File
	exited <-chan struct{}
	done   bool
	timer  *time.Timer
}

func (t *tailReader) Read(p []byte) (int, error) {
	for {
		n, err := t.f.Read(p)
		if n > 0 {
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if t.done {
			return 0, io.EOF
		}
		if t.timer == nil {
			t.timer = time.NewTimer(tailPoll)
		} else {
			t.timer.Reset(tailPoll)
		}
		select {
		case <-t.exited:
			t.done = true // read once more: what was written before the exit
		case <-t.timer.C:
		}
	}
}

// output takes packer's two streams line by line: redacts, logs, parses.
type output struct {
	mu         sync.Mutex
	log        io.Writer
	logErr     error
	red        *redactor
	onEvent    func(Event)
	stream     Stream
	stderrTail []string
}

func (o *output) read(r io.Reader, name string) {
	lr := NewLineReader(r, MaxLineBytes)
	for {
		b, truncated, err := lr.ReadLine()
		if err != nil {
			return
		}
		o.line(string(b), truncated, name)
	}
}

func (o *output) line(raw string, truncated bool, stream string) {
	line := o.red.redact(raw)
	if truncated {
		line = o.red.trimPartial(line) + " …(line truncated)"
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.log != nil && o.logErr == nil {
		_, o.logErr = io.WriteString(o.log, line+"\n")
	}
	ev, ok := Event{}, false
	if !truncated {
		ev, ok = ParseLine(line)
	}
	if ok {
		o.stream.Add(ev)
	} else {
		ev = Event{Time: time.Now().UTC(), Type: EventRaw, Data: []string{stream, line}}
		if stream == "stderr" {
			if t := strings.TrimSpace(line); t != "" {
				o.stderrTail = appendBounded(o.stderrTail, t, maxErrorLines)
			}
		}
	}
	if o.onEvent != nil {
		o.onEvent(ev)
	}
}

// redactor hides secret values, in their raw form and as packer escapes
// them in machine-readable output.
type redactor struct {
	secrets []string // longest first
	rep     *strings.Replacer
}

func newRedactor(req BuildRequest) *redactor {
	seen := map[string]bool{}
	var secrets []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			secrets = append(secrets, s)
		}
	}
	vals := append([]string(nil), req.Redact...)
	for _, k := range keysSorted(req.ExtraEnv) {
		vals = append(vals, req.ExtraEnv[k])
	}
	for _, v := range vals {
		add(v)
		add(Escape(v))
		// A multi-line secret also shows line by line.
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			add(part)
			add(Escape(part))
		}
	}
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, Redacted)
	}
	return &redactor{secrets: secrets, rep: strings.NewReplacer(pairs...)}
}

func (r *redactor) redact(s string) string {
	if len(r.secrets) == 0 {
		return s
	}
	return r.rep.Replace(s)
}

// trimPartial cuts the end of a truncated line when it is the start of a
// secret that the cut split.
func (r *redactor) trimPartial(s string) string {
	for _, sec := range r.secrets {
		for n := len(sec) - 1; n > 0; n-- {
			if strings.HasSuffix(s, sec[:n]) {
				s = s[:len(s)-n] + Redacted
				break
			}
		}
	}
	return s
}

// NotifyInterrupt makes SIGINT and SIGTERM stop builds the way packer users
// expect: the first cancels ctx (every running Build forwards SIGINT to its
// packer and waits for it to clean up), the second closes abort (pass it as
// BuildRequest.Abort: packer is killed at once). notify, when set, is told
// of each signal (n = 1, 2…), e.g. to print what happens next. stop ends
// the handling and releases ctx.
func NotifyInterrupt(parent context.Context, notify func(n int, sig os.Signal)) (ctx context.Context, abort <-chan struct{}, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ab := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for {
			select {
			case sig := <-sigs:
				n++
				if notify != nil {
					notify(n, sig)
				}
				switch n {
				case 1:
					cancel(fmt.Errorf("%w: %v", context.Canceled, sig))
				case 2:
					close(ab)
				}
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(quit)
			wg.Wait()
			cancel(context.Canceled)
		})
	}
	return ctx, ab, stop
}

// Validate runs `packer validate` on a template; the error carries
// packer's output.
func (r *Runner) Validate(ctx context.Context, templatePath string, vars map[string]string) error {
	path, err := filepath.Abs(templatePath)
	if err != nil {
		return fmt.Errorf("packer validate: template path: %w", err)
	}
	args := append([]string{"validate"}, varArgs(vars)...)
	args = append(args, path)
	cmd := exec.CommandContext(ctx, r.bin(), args...)
	cmd.Dir = r.WorkDir
	if cmd.Dir == "" {
		cmd.Dir = filepath.Dir(path)
	}
	cmd.Env = r.environ(nil)
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return signalGroup(cmd, sigKill) }
	cmd.WaitDelay = drainTimeout
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("packer validate %s: %w", templatePath, ctxErr)
		}
		msg := strings.TrimSpace(out.String())
		if len(msg) > 4000 {
			msg = msg[:4000] + "…"
		}
		return fmt.Errorf("packer validate %s: %w\n%s", templatePath, err, msg)
	}
	return nil
}

func lastN(list []string, n int) []string {
	if len(list) > n {
		list = list[len(list)-n:]
	}
	return append([]string(nil), list...)
}

func keysSorted(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
