package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/internal/sandbox"
)

// retireDoc is the part of `amibake -o json retire` the benchmarks read.
type retireDoc struct {
	Applied bool `json:"applied"`
	Builds  []struct {
		Layer  string `json:"layer"`
		AMI    string `json:"ami"`
		Action string `json:"action"`
		Copies []struct {
			AMI string `json:"ami"`
		} `json:"copies"`
		Error string `json:"error"`
	} `json:"builds"`
	Deprecated   int                 `json:"deprecated"`
	Deregistered int                 `json:"deregistered"`
	Errors       int                 `json:"errors"`
	InUse        map[string][]string `json:"in_use"`
}

// actions counts builds by action.
func (d *retireDoc) actions() map[string]int {
	out := map[string]int{}
	for _, b := range d.Builds {
		out[b.Action]++
	}
	return out
}

// retireWorld is the 200-layer project over amis AMIs, every history AMI
// deprecated long ago, inUse of them run by an instance.
type retireWorld struct {
	p     *project
	state string
	amis  int
	inUse []string
}

func (e *env) retireWorld(amis int) (*retireWorld, error) {
	p, err := e.project200()
	if err != nil {
		return nil, err
	}
	if e.retireWorlds == nil {
		e.retireWorlds = map[int]*retireWorld{}
	}
	if w := e.retireWorlds[amis]; w != nil {
		return w, nil
	}
	state := filepath.Join(e.work, fmt.Sprintf("retire-%d.json", amis))
	st, err := buildStateWith(state, p, amis, worldOpts{PastDeprecation: true, InUse: retireInUse(amis)})
	if err != nil {
		return nil, err
	}
	e.log("seeded %d AMIs (%d current, %d in use by instances, history deprecated) in %s; state file %s", st.Total, st.Current, len(st.InUse), secs(st.Took), mb(st.Bytes))
	w := &retireWorld{p: p, state: state, amis: amis, inUse: st.InUse}
	e.retireWorlds[amis] = w
	return w, nil
}

// retireInUse is the number of AMIs in use: 4 % of the AMIs (2,000 of
// 50,000), as far as there are history AMIs outside each layer's newest
// three (none at 1,000 AMIs: 600 current + 400 history).
func retireInUse(amis int) int { return max(0, min(amis/25, amis-5*200)) }

// runRetire runs `amibake -C DIR -o json retire ARGS…` and decodes its report.
func runRetire(e *env, srv *server, dir string, args ...string) (*runResult, *retireDoc, error) {
	r, err := runAmibake(e.bin, srv, append([]string{"-C", dir, "-o", "json", "retire"}, args...)...)
	if err != nil {
		return nil, nil, err
	}
	var doc retireDoc
	if err := json.Unmarshal(r.Stdout, &doc); err != nil {
		return r, nil, fmt.Errorf("retire exited %d; report: %w: %s", r.Exit, err, tail(r.Stderr))
	}
	return r, &doc, nil
}

// retireCallBudget is what the in-use computation and the inventory may
// cost: pages of 1,000 AMIs and instances per region, one launch-template
// and one Auto Scaling sweep per region, the channel reads (10 a page, per
// region, plus one history read per channel) — and nothing per AMI.
func retireCallBudget(amis, instances, channels, regions int) int {
	return ceilDiv(amis, 1000) + regions + // DescribeImages pages
		ceilDiv(instances, 1000) + regions + // DescribeInstances pages
		2*regions + // DescribeLaunchTemplates, DescribeAutoScalingGroups
		ceilDiv(channels, 10) + regions + // GetParametersByPath pages
		channels // GetParameterHistory
}

// checkRetirePlan checks a dry run: every seeded in-use AMI is kept and
// found in use, the current builds are kept, and the rest goes.
func checkRetirePlan(w *retireWorld, doc *retireDoc) error {
	kept := map[string]bool{}
	for _, b := range doc.Builds {
		if b.Action == "keep" {
			for _, c := range b.Copies {
				kept[c.AMI] = true
			}
		}
	}
	for _, id := range w.inUse {
		if len(doc.InUse[id]) == 0 {
			return fmt.Errorf("%s runs an instance but is not in the in-use set", id)
		}
		if !kept[id] {
			return fmt.Errorf("%s is in use but not kept", id)
		}
	}
	acts := doc.actions()
	layers := len(w.p.fps)
	// Newest 3 per layer + the in-use ones; everything else is deprecated
	// long past the grace: deregister.
	if want := 3*layers + len(w.inUse); acts["keep"] != want {
		return fmt.Errorf("%d builds kept, want %d (3 per layer + %d in use)", acts["keep"], want, len(w.inUse))
	}
	if acts["keep"]+acts["deregister"] != len(doc.Builds) {
		return fmt.Errorf("unexpected actions %v", acts)
	}
	return nil
}

// setFaults replaces the sandbox's fault rules.
func (s *server) setFaults(rules []sandbox.FaultRule) error {
	data, _ := json.Marshal(rules)
	req, _ := http.NewRequest(http.MethodPut, s.url+"/_sandbox/faults", bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // drain
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("set faults: %s", resp.Status)
	}
	return nil
}

// copyFile copies src to dst (a state file a mutating run may rewrite).
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

const (
	retireSampleLayers = 1    // layers the --apply run deregisters (of 200)
	retireThrottleRate = 0.05 // DeregisterImage calls throttled by the sandbox
)

// retireFigure is figure 5 of the issue: 50,000 AMIs, 2,000 in use.
func retireFigure(e *env) []result {
	const name = "retire"
	const target = "in-use set from paged calls only (calls ≤ the page budget, none per AMI); every in-use AMI kept; --apply under throttling of DeregisterImage: 0 failures, every planned AMI deregistered"
	fail := func(err error) []result { return []result{failedResult(name, target, err)} }
	const amis = 50_000
	w, err := e.retireWorld(amis)
	if err != nil {
		return fail(err)
	}
	regions := len(plan.Regions(w.p.cfg, nil))
	srv, err := startServe(e.bin, w.state)
	if err != nil {
		return fail(err)
	}
	plan, doc, err := runRetire(e, srv, w.p.dir, "--grace", "1m")
	srv.stop()
	if err == nil && plan.Exit != 0 {
		err = fmt.Errorf("retire (dry run) exited %d: %s", plan.Exit, tail(plan.Stderr))
	}
	if err == nil {
		err = checkRetirePlan(w, doc)
	}
	if err != nil {
		return fail(err)
	}
	e.retirePlan50k = plan
	acts := doc.actions()
	budget := retireCallBudget(amis, len(w.inUse), len(w.p.fps), regions)
	e.log("retire dry run: %s (sandbox %s), %s; %v", secs(plan.Wall), secs(plan.Served), plan.Calls, acts)

	// --apply on a sample of layers, on a copy of the state (the sandbox
	// persists what it deregisters), with DeregisterImage throttled.
	layers := sampleLayers(w.p, retireSampleLayers)
	want := 0
	wantByLayer := map[string]bool{}
	for _, l := range layers {
		wantByLayer[l] = true
	}
	for _, b := range doc.Builds {
		if b.Action == "deregister" && wantByLayer[b.Layer] {
			want += len(b.Copies)
		}
	}
	total := 0
	for _, b := range doc.Builds {
		if b.Action == "deregister" {
			total += len(b.Copies)
		}
	}
	applyState := filepath.Join(e.work, "retire-apply.json")
	if err := copyFile(applyState, w.state); err != nil {
		return fail(err)
	}
	defer os.Remove(applyState)
	srv, err = startServe(e.bin, applyState)
	if err != nil {
		return fail(err)
	}
	defer srv.stop()
	if err := srv.setFaults([]sandbox.FaultRule{{Service: "ec2", Action: "DeregisterImage", ThrottleRate: retireThrottleRate}}); err != nil {
		return fail(err)
	}
	apply, adoc, err := runRetire(e, srv, w.p.dir, append([]string{"--apply", "--grace", "1m"}, layers...)...)
	if err != nil {
		return fail(err)
	}
	log, err := srv.requestLog()
	if err != nil {
		return fail(err)
	}
	throttled := 0
	var first, last time.Time
	for _, l := range log {
		if l.Action != "DeregisterImage" {
			continue
		}
		if l.Injected {
			throttled++
		}
		if first.IsZero() {
			first = l.Time
		}
		last = l.Time.Add(time.Duration(l.Micros) * time.Microsecond)
	}
	e.log("retire --apply on %d layers: %s (sandbox %s), %s; deregistered %d of %d, %d throttled", len(layers), secs(apply.Wall), secs(apply.Served), apply.Calls, adoc.Deregistered, want, throttled)
	calls := plan.Calls.total()
	ok := calls <= budget && apply.Exit == 0 && adoc.Errors == 0 && adoc.Deregistered == want && want > 0 && throttled > 0
	// The deregistration phase (first to last DeregisterImage, backoffs
	// included) scales with their number; the rest is the dry run's work.
	perDereg := last.Sub(first) / time.Duration(max(want, 1))
	est := plan.Wall + perDereg*time.Duration(total)
	notes := []string{
		fmt.Sprintf("in use: %d AMIs by instances (seeded), %d in the in-use set in all (channels included); builds: %s",
			len(w.inUse), len(doc.InUse), fmtActions(acts)),
		fmt.Sprintf("--apply sampled: layers %s of %d (%d of the %d AMIs to deregister), then scaled; DeregisterImage throttled at %.0f%% (RequestLimitExceeded): %d throttles, all retried by the SDK's standard retryer (amibake: 10 attempts, 1 s throttle backoff base)",
			strings.Join(layers, ","), len(w.p.fps), want, total, retireThrottleRate*100, throttled),
		fmt.Sprintf("apply calls: %s; %.2f calls per deregistered AMI", apply.Calls, float64(apply.Calls.total()-calls)/float64(max(want, 1))),
	}
	if adoc.Errors > 0 || apply.Exit != 0 {
		notes = append(notes, fmt.Sprintf("apply exit %d, %d errors: %s", apply.Exit, adoc.Errors, tail(apply.Stderr)))
	}
	return []result{{
		Name: name,
		Values: fmt.Sprintf("%d AMIs, %d in use: dry run wall=%s (sandbox serving %s, amibake %s; cpu %s), %s, RSS=%s; --apply (sample) deregistered %d/%d under %d throttles, %d errors, wall=%s (%s per AMI); full apply ≈ %s for %d AMIs (estimated)",
			amis, len(w.inUse), secs(plan.Wall), secs(plan.Served), secs(plan.Own()), secs(plan.CPU), plan.Calls, mb(plan.MaxRSS),
			adoc.Deregistered, want, throttled, adoc.Errors, secs(apply.Wall), secs(perDereg), secs(est), total),
		Target: fmt.Sprintf("dry-run calls ≤ %d (pages of 1000 AMIs and instances per region, LT/ASG sweeps, channel reads; none per AMI), in-use AMIs kept, apply: 0 errors under throttling", budget),
		Ratio:  fmt.Sprintf("vs one DescribeImages per AMI to check it: %s fewer calls", ratio(float64(amis), float64(calls))),
		Status: status(ok),
		Notes:  notes,
	}}
}

func fmtActions(acts map[string]int) string {
	keys := make([]string, 0, len(acts))
	for k := range acts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", acts[k], k))
	}
	return strings.Join(parts, ", ")
}

// sampleLayers picks n layers spread over the project's topological order.
func sampleLayers(p *project, n int) []string {
	nodes := p.g.Topo()
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, nodes[(2*i+1)*len(nodes)/(2*n)].Name())
	}
	return out
}

// retireCurveMargin is how much the CPU time per AMI may grow from one
// size to the next and still count as linear: the best of -runs runs
// still varies by a few percent between invocations (bench/README.md,
// "retire-curve"), while anything worse than linear shows as far more —
// quadratic work is 5× per AMI from 10k to 50k, n·log n 1.17×.
const retireCurveMargin = 1.10

// retireCurve is figure 6 of the issue for retire: the dry run over 1k,
// 10k and 50k AMIs (4 % in use by instances), each size run -runs times.
// Linear growth means a flat cost per AMI: the calls per AMI must not
// grow at all, the CPU per AMI (amibake's plus the sandbox's, best of the
// runs) by at most retireCurveMargin; wall times are printed, not judged
// (other work on the machine moves them, CPU time it does not).
func retireCurve(e *env) []result {
	const name = "retire-curve"
	target := fmt.Sprintf("between consecutive sizes: calls per AMI do not grow; CPU per AMI (amibake + sandbox, best of %d runs) grows ≤ %.2f× (noise, bench/README.md); i.e. time grows linearly or better", e.runs, retireCurveMargin)
	fail := func(err error) []result { return []result{failedResult(name, target, err)} }
	sizes := []int{1_000, 10_000, 50_000}
	type point struct {
		amis                          int
		calls                         callCounts
		cpu, sbCPU, wall, served, own time.Duration
		sbOK                          bool
	}
	var pts []point
	for _, n := range sizes {
		var runs []*runResult
		if n == 50_000 && e.retirePlan50k != nil {
			runs = append(runs, e.retirePlan50k)
		}
		if len(runs) < e.runs {
			w, err := e.retireWorld(n)
			if err != nil {
				return fail(err)
			}
			srv, err := startServe(e.bin, w.state)
			if err != nil {
				return fail(err)
			}
			for len(runs) < e.runs {
				r, doc, err := runRetire(e, srv, w.p.dir, "--grace", "1m")
				if err == nil && r.Exit != 0 {
					err = fmt.Errorf("retire exited %d: %s", r.Exit, tail(r.Stderr))
				}
				if err == nil {
					err = checkRetirePlan(w, doc)
				}
				if err == nil && len(runs) > 0 && !runs[0].Calls.equal(r.Calls) {
					err = fmt.Errorf("%d AMIs: retire made different calls on two runs: %v then %v", n, runs[0].Calls, r.Calls)
				}
				if err != nil {
					srv.stop()
					return fail(err)
				}
				runs = append(runs, r)
			}
			srv.stop()
		}
		pt := point{amis: n, calls: runs[0].Calls, sbOK: true}
		for i, r := range runs {
			if i == 0 || r.CPU < pt.cpu {
				pt.cpu = r.CPU
			}
			if i == 0 || r.SandboxCPU < pt.sbCPU {
				pt.sbCPU = r.SandboxCPU
			}
			if i == 0 || r.Wall < pt.wall {
				pt.wall, pt.served, pt.own = r.Wall, r.Served, r.Own()
			}
			pt.sbOK = pt.sbOK && r.SandboxCPUOK
		}
		e.log("%d AMIs: retire best of %d: wall %s (sandbox %s), cpu %s + sandbox cpu %s, %s", n, len(runs), secs(pt.wall), secs(pt.served), secs(pt.cpu), secs(pt.sbCPU), pt.calls)
		pts = append(pts, pt)
	}
	perAMI := func(d time.Duration, n int) string {
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond)/float64(n))
	}
	ok := true
	var vals, growth []string
	for i, pt := range pts {
		cpu := pt.cpu + pt.sbCPU
		vals = append(vals, fmt.Sprintf("%dk AMIs: %d calls (%d DescribeImages), cpu %s (amibake %s + sandbox %s) = %s per AMI, wall %s (sandbox serving %s, amibake %s) = %s per AMI",
			pt.amis/1000, pt.calls.total(), pt.calls.describeImages(), secs(cpu), secs(pt.cpu), secs(pt.sbCPU), perAMI(cpu, pt.amis),
			secs(pt.wall), secs(pt.served), secs(pt.own), perAMI(pt.wall, pt.amis)))
		if i == 0 {
			continue
		}
		prev := pts[i-1]
		per := func(a, b float64) float64 { return (a / float64(pt.amis)) / (b / float64(prev.amis)) }
		gCalls := per(float64(pt.calls.total()), float64(prev.calls.total()))
		gCPU := per(float64(cpu), float64(prev.cpu+prev.sbCPU))
		gWall := per(float64(pt.wall), float64(prev.wall))
		if gCalls > 1 || gCPU > retireCurveMargin {
			ok = false
		}
		growth = append(growth, fmt.Sprintf("%dk→%dk (%s AMIs), per AMI: calls %.2f×, cpu %.2f×, wall %.2f× (printed, not judged)",
			prev.amis/1000, pt.amis/1000, ratio(float64(pt.amis)/float64(prev.amis), 1), gCalls, gCPU, gWall))
	}
	notes := []string{"amibake's cpu includes decoding 200 layers and writing the JSON report of every build; the sandbox's cpu is read from /proc for the serve process (DescribeImages pages of the project's tag bucket, no walk of every image)"}
	if !pts[0].sbOK {
		notes = append(notes, "the sandbox's cpu could not be read (/proc is Linux's): not judged")
	}
	return []result{{
		Name:   name,
		Values: "retire dry run, 200 layers, 3 regions, 4% of AMIs in use; " + strings.Join(vals, "; "),
		Target: target,
		Ratio:  "growth " + strings.Join(growth, "; "),
		Status: status(ok),
		Notes:  notes,
	}}
}
