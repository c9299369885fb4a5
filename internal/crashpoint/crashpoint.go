// Package crashpoint lets the reliability harness kill amibake at a named
// step, the way a lost machine or `kill -9` would, and enumerate the steps
// a run passes through.
//
// Every step that changes AWS calls Hit with a stable dotted name
// ("bake.channel-published"). Two environment variables, read once, turn
// the calls into something:
//
//	AMIBAKE_CRASH_AFTER=NAME      SIGKILL this process at the first Hit(NAME)
//	AMIBAKE_CRASH_AFTER=NAME#N    … at the N-th Hit(NAME) (1-based)
//	AMIBAKE_CRASH_TRACE=FILE      append every Hit's name to FILE, one a line
//
// The kill is a real SIGKILL to the process itself: no deferred function
// runs, no lock is released, no child is told. With neither variable set a
// Hit costs one atomic load.
package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Environment variables read by the first Hit.
const (
	EnvCrashAfter = "AMIBAKE_CRASH_AFTER"
	EnvTrace      = "AMIBAKE_CRASH_TRACE"
)

type config struct {
	mu     sync.Mutex
	target string
	nth    int // 1-based hit of target that kills
	seen   int
	trace  string
}

var (
	once sync.Once
	cfg  *config // nil: both variables unset
)

// BeforeKill, when set, runs just before Hit kills the process. The
// simulated packer (internal/testutil/fakepacker) records its death and
// takes amibake with it: a lost machine, not only a dead amibake.
var BeforeKill func()

func load() {
	target, trace := os.Getenv(EnvCrashAfter), os.Getenv(EnvTrace)
	if target == "" && trace == "" {
		return
	}
	c := &config{trace: trace, nth: 1}
	if name, n, ok := strings.Cut(target, "#"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			// A malformed spec must not silently run to completion: the
			// harness would take a finished run for a survived crash.
			fmt.Fprintf(os.Stderr, "amibake: %s=%q: the hit count after # must be a positive integer\n", EnvCrashAfter, target)
			os.Exit(1)
		}
		target, c.nth = name, v
	}
	c.target = target
	cfg = c
}

// Hit marks that the step name is done. See the package comment.
func Hit(name string) {
	once.Do(load)
	if cfg == nil {
		return
	}
	cfg.hit(name)
}

func (c *config) hit(name string) {
	// One Hit at a time: the trace stays in hit order and the n-th hit
	// is counted exactly once when layers run concurrently.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trace != "" {
		appendLine(c.trace, name)
	}
	if name != c.target {
		return
	}
	c.seen++
	if c.seen == c.nth {
		if BeforeKill != nil {
			BeforeKill()
		}
		kill()
	}
}

func appendLine(path, name string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "amibake: crash trace: %v\n", err)
		return
	}
	// One write of one short line: whole under O_APPEND even with several
	// processes tracing to the same file.
	_, _ = f.Write([]byte(name + "\n"))
	_ = f.Close()
}
