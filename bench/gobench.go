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
// -bench . -benchmem`), passes their output through, and adds a figure
// line for each benchmark with a target.
func goBench(e *env) []result {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem"}, goBenchPackages...)
	e.log("go %s", strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	os.Stdout.Write(out.Bytes()) //nolint:errcheck // stdout gone
	var res []result
	found := map[string]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		m := benchLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		limit, ok := goBenchTargets[m[1]]
		if !ok {
			continue
		}
		found[m[1]] = true
		ns, _ := strconv.ParseFloat(m[3], 64)
		per := time.Duration(ns)
		res = append(res, result{
			Name:   strings.TrimPrefix(m[1], "Benchmark"),
			Values: fmt.Sprintf("%s/op, %s B/op, %s allocs/op", secs(per), m[4], m[5]),
			Target: fmt.Sprintf("< %s/op", secs(limit)),
			Ratio:  fmt.Sprintf("%s of the target", ratio(float64(per), float64(limit))),
			Status: status(per < limit),
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
