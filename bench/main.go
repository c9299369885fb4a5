// Command bench measures amibake's scale and speed figures (issue 8) and
// prints one line per figure: its measured values, its target, the ratio
// against a baseline measured in the same invocation, and PASS or FAIL. It
// exits 1 when a target fails. Progress goes to stderr, figures to stdout.
//
//	go run ./bench                 # every figure (make bench)
//	go run ./bench -only plan-at-scale,scaling-curve
//	go run ./bench -keep DIR       # leave projects and state files in DIR
//
// Everything runs against `amibake sandbox serve` in a separate process,
// seeded through a state file, with its request log counting the calls.
// See bench/README.md for how to read the lines.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// result is one figure line.
type result struct {
	Name   string
	Values string
	Target string
	Ratio  string
	// Status is PASS, FAIL or PENDING (not measurable yet).
	Status string
	Notes  []string
}

func (r result) print() {
	fmt.Printf("%-16s | %s | target: %s | %s | %s\n", r.Name, r.Values, r.Target, r.Ratio, r.Status)
	for _, n := range r.Notes {
		fmt.Printf("%-16s   note: %s\n", "", n)
	}
}

func status(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// env is what every figure shares.
type env struct {
	ctx  context.Context
	bin  string // amibake
	work string // scratch directory
	runs int    // plan runs per measurement (median wall, peak RSS)
	log  func(format string, args ...any)

	p200   *project        // the 200-layer project (noop-rerun, scaling-curve)
	states map[string]bool // state files already written

	fakepacker    string // the stand-in packer, once built
	noopPlanCalls int    // calls of the no-op plan (the no-op bake's baseline)

	retireWorlds  map[int]*retireWorld // retire's seeded worlds by AMI count
	retirePlan50k *runResult           // retire's dry run at 50k (the curve reuses it)
}

type figure struct {
	name string
	run  func(e *env) []result
}

func main() {
	if report := os.Getenv(wrapEnv); report != "" {
		os.Exit(wrapChild(report, os.Args[1:]))
	}
	only := flag.String("only", "", "comma-separated figures to run (default all): "+strings.Join(figureNames(), ","))
	keep := flag.String("keep", "", "keep the generated projects and state files in `DIR` instead of a temporary directory")
	runs := flag.Int("runs", 3, "runs of each timed plan (median wall, peak RSS, best CPU) and of each retire-curve size (best of)")
	perASG := flag.Int("rollout-per-asg", 20, "instances per ASG in the replace rollout (100 ASGs; 100 is the issue's full 10,000, ~80 s)")
	flag.Parse()
	rolloutPerASG = max(*perASG, 1)
	os.Exit(run(*only, *keep, *runs))
}

func figures() []figure {
	return []figure{
		{"plan-at-scale", planAtScale},
		{"noop-rerun", noopRerun},
		{"scaling-curve", scalingCurve},
		{"bake-scheduling", bakeScheduling},
		{"rollout", rolloutFigure},
		{"retire", retireFigure},
		{"retire-curve", retireCurve},
		{"canary-judge", canaryFigure},
		{"go-bench", goBench},
	}
}

func figureNames() []string {
	var out []string
	for _, f := range figures() {
		out = append(out, f.name)
	}
	return out
}

func run(only, keep string, runs int) int {
	selected := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			selected[n] = true
		}
	}
	for n := range selected {
		if !contains(figureNames(), n) {
			fmt.Fprintf(os.Stderr, "bench: unknown figure %q (have %s)\n", n, strings.Join(figureNames(), ", "))
			return 2
		}
	}
	work := keep
	if work == "" {
		tmp, err := os.MkdirTemp("", "amibake-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		work = tmp
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	// Paths (./cmd/amibake, internal/…) are relative to the module root.
	if out, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" && mod != os.DevNull {
			if err := os.Chdir(filepath.Dir(mod)); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 1
			}
		}
	}
	reportDir = work
	// Ctrl-C: stop the sandboxes and remove the scratch directory (unless
	// kept) rather than leave them behind.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		stopAll()
		if keep == "" {
			os.RemoveAll(work)
		}
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		os.Exit(130)
	}()
	started := time.Now()
	e := &env{ctx: context.Background(), work: work, runs: max(runs, 1), log: func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
	}}
	e.log("building amibake")
	bin, err := buildAmibake(work)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	e.bin = bin

	failed := 0
	var all []result
	for _, f := range figures() {
		if len(selected) > 0 && !selected[f.name] {
			continue
		}
		e.log("figure %s", f.name)
		for _, r := range f.run(e) {
			r.print()
			all = append(all, r)
			if r.Status == "FAIL" {
				failed++
			}
		}
	}
	fmt.Printf("%d figures, %d failed, %s on %d CPUs\n", len(all), failed, time.Since(started).Round(time.Second), numCPU())
	if failed > 0 {
		return 1
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// failed is the line of a figure that could not be measured.
func failedResult(name, target string, err error) result {
	return result{Name: name, Values: "error: " + err.Error(), Target: target, Ratio: "-", Status: "FAIL"}
}

// dir returns a fresh directory under the scratch directory.
func (e *env) dir(name string) string {
	d := filepath.Join(e.work, name)
	os.RemoveAll(d)
	os.MkdirAll(d, 0o755)
	return d
}
