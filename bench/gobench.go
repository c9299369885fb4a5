package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// goBenchPackages are the packages with testing.B benchmarks.
var goBenchPackages = []string{"./internal/config", "./internal/graph"}

// goBenchTargets are the ns/op targets of the benchmarks that have one:
// fingerprinting 500 layers "well under 100 ms" (internal/graph), and
// decoding 500 files in a quarter of plan's one-second budget.
var goBenchTargets = map[string]time.Duration{
	"BenchmarkFingerprint500": 100 * time.Millisecond,
	"BenchmarkLoad500":        250 * time.Millisecond,
}

var benchLineRE = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op(?:\s+(\d+) B/op)?(?:\s+(\d+) allocs/op)?`)

// goBench runs the packages' testing.B benchmarks (`go test -run '^$'
// -bench . -benchmem -count N`, N = -runs), passes their output through,
// and adds a figure line for each benchmark with a target, judged on the
// best of the N counts: other work on the machine only ever adds time (at
// load average 17 one count took 2.5× the usual).
func goBench(e *env) []result {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(e.runs)}, goBenchPackages...)
	e.log("go %s", strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	os.Stdout.Write(out.Bytes()) //nolint:errcheck // stdout gone
	type best struct {
		per           time.Duration
		bytes, allocs string
		counts        int
	}
	bests := map[string]*best{}
	var order []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		m := benchLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if _, ok := goBenchTargets[m[1]]; !ok {
			continue
		}
		ns, _ := strconv.ParseFloat(m[3], 64)
		b := bests[m[1]]
		if b == nil {
			b = &best{per: time.Duration(ns)}
			bests[m[1]] = b
			order = append(order, m[1])
		}
		b.counts++
		if time.Duration(ns) <= b.per {
			b.per, b.bytes, b.allocs = time.Duration(ns), m[4], m[5]
		}
	}
	var res []result
	found := map[string]bool{}
	for _, name := range order {
		b, limit := bests[name], goBenchTargets[name]
		found[name] = true
		res = append(res, result{
			Name:   strings.TrimPrefix(name, "Benchmark"),
			Values: fmt.Sprintf("%s/op (best of %d), %s B/op, %s allocs/op", secs(b.per), b.counts, b.bytes, b.allocs),
			Target: fmt.Sprintf("< %s/op", secs(limit)),
			Ratio:  fmt.Sprintf("%s of the target", ratio(float64(b.per), float64(limit))),
			Status: status(b.per < limit),
		})
	}
	for name := range goBenchTargets {
		if !found[name] {
			e := err
			if e == nil {
				e = fmt.Errorf("%s did not run", name)
			}
			res = append(res, failedResult(strings.TrimPrefix(name, "Benchmark"), "< "+secs(goBenchTargets[name])+"/op", e))
		}
	}
	return res
}
