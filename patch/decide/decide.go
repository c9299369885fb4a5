// Package decide is the pure rebake decision of the patch module: from the
// image scans of each layer's latest AMI and the rebake_when policy of the
// layer's baseline, which layers are stale, and the rebake target — the
// lowest affected layer plus everything built on it.
package decide

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/patch/scan"
)

// Input is everything Decide reads.
type Input struct {
	Graph *graph.Graph
	// Images maps each layer to the scan of its latest AMI (missing: not
	// scanned or not baked; the layer is then only rebuilt as a
	// descendant of a stale one).
	Images map[string]*scan.Report
	Now    time.Time
}

// Trigger is one reason a layer's own image breaks its policy.
type Trigger struct {
	// Package, Version and Severity of a missing patch; empty Package for
	// an age trigger.
	Package      string `json:"package,omitempty"`
	Version      string `json:"version,omitempty"`
	Severity     string `json:"severity,omitempty"`
	IntroducedBy string `json:"introduced_by,omitempty"`
	// Age is set for the max_age trigger.
	Age    string `json:"age,omitempty"`
	MaxAge string `json:"max_age,omitempty"`
	// Root is the layer whose rebake fixes this trigger.
	Root string `json:"root"`
}

// Layer is the decision for one layer.
type Layer struct {
	Layer  string      `json:"layer"`
	AMI    string      `json:"ami,omitempty"`
	Stale  bool        `json:"stale"`
	Reason plan.Reason `json:"reason"`
	Detail string      `json:"detail"`
	// Triggers are the layer's own policy breaches.
	Triggers []Trigger `json:"triggers,omitempty"`
	// Roots are the lowest affected layers whose rebake includes this one.
	Roots []string `json:"roots,omitempty"`
	// Baseline is the patch_baseline that judges the layer ("" = none).
	Baseline string `json:"baseline,omitempty"`
}

// Result is the decision for every layer, in topological order.
type Result struct {
	Layers []Layer `json:"layers"`
	// Roots are the lowest affected layers; Stale every layer to rebake.
	Roots []string `json:"roots"`
	Stale []string `json:"stale"`
}

// severityOrder sorts detail counts: Critical first.
var severityOrder = []string{"critical", "important", "high", "medium", "moderate", "low", "informational", "unspecified", ""}

// Decide applies each layer's policy and expands the rebake target.
func Decide(in Input) *Result {
	g := in.Graph
	res := &Result{Layers: []Layer{}, Roots: []string{}, Stale: []string{}}
	own := map[string][]Trigger{}
	roots := map[string]bool{}
	baselineOf := map[string]string{}
	for _, n := range g.Topo() {
		name := n.Name()
		pb := policyOf(g, name)
		if pb != nil {
			baselineOf[name] = pb.Name
		}
		rep := in.Images[name]
		if pb == nil || pb.RebakeWhen == nil || rep == nil {
			continue
		}
		rw := pb.RebakeWhen
		for _, f := range rep.Missing {
			if !containsFold(rw.MissingSeverity, f.Severity) {
				continue
			}
			own[name] = append(own[name], Trigger{Package: f.Package, Version: f.Version, Severity: f.Severity,
				IntroducedBy: f.IntroducedBy, Root: lowestAffected(g, in.Images, name, f.Package)})
		}
		if rw.MaxAge > 0 && !rep.AMICreated.IsZero() {
			if age := in.Now.Sub(rep.AMICreated); age > rw.MaxAge {
				own[name] = append(own[name], Trigger{Age: days(age), MaxAge: days(rw.MaxAge), Root: name})
			}
		}
		for _, t := range own[name] {
			roots[t.Root] = true
		}
	}
	// Expand: each root (in topological order) and everything built on it.
	rootsOf := map[string][]string{}
	for _, n := range g.Topo() {
		r := n.Name()
		if !roots[r] {
			continue
		}
		rootsOf[r] = append(rootsOf[r], r)
		for _, d := range g.Descendants(r) {
			rootsOf[d.Name()] = append(rootsOf[d.Name()], r)
		}
	}
	for _, n := range g.Topo() {
		name := n.Name()
		d := Layer{Layer: name, Triggers: own[name], Baseline: baselineOf[name], Reason: plan.ReasonUpToDate}
		if rep := in.Images[name]; rep != nil {
			d.AMI = rep.AMI
		}
		if rs := rootsOf[name]; len(rs) > 0 {
			d.Stale, d.Reason, d.Roots = true, plan.ReasonPatchDrift, rs
			d.Detail = detail(name, own[name], rs)
			res.Stale = append(res.Stale, name)
			if roots[name] {
				res.Roots = append(res.Roots, name)
			}
		} else {
			switch {
			case in.Images[name] == nil:
				d.Detail = "not scanned"
			case d.Baseline == "":
				d.Detail = "no patch baseline"
			default:
				d.Detail = d.AMI + " within policy"
			}
		}
		res.Layers = append(res.Layers, d)
	}
	return res
}

// policyOf is the patch_baseline of the layer's effective patch block.
func policyOf(g *graph.Graph, layer string) *config.PatchBaseline {
	for n := g.Node(layer); n != nil; n = n.Parent {
		if p := n.Layer.Patch; p != nil {
			return g.Config.PatchBaselines[p.Baseline]
		}
	}
	return nil
}

// lowestAffected walks from the root of layer's chain down to layer and
// returns the first layer whose latest image misses pkg: rebaking it (and
// what is built on it) fixes the package everywhere above. Usually that is
// the layer that introduced the package; when that layer's latest image
// already has the fix (rebaked, children not yet), it is the first child
// still missing it.
func lowestAffected(g *graph.Graph, images map[string]*scan.Report, layer, pkg string) string {
	chain := []string{layer}
	for _, a := range g.Ancestors(layer) {
		chain = append(chain, a.Name())
	}
	for i := len(chain) - 1; i >= 0; i-- {
		rep := images[chain[i]]
		if rep == nil {
			continue
		}
		for _, f := range rep.Missing {
			if f.Package == pkg {
				return chain[i]
			}
		}
	}
	return layer
}

// detail is the plan detail: "1 critical, 2 important (kernel@6.1.2-1, …)".
func detail(layer string, ts []Trigger, roots []string) string {
	counts := map[string]int{}
	var pkgs, ages []string
	for _, t := range ts {
		if t.Package != "" {
			counts[strings.ToLower(t.Severity)]++
			pkgs = append(pkgs, t.Package+"@"+t.Version)
		} else {
			ages = append(ages, fmt.Sprintf("AMI is %s old (max_age %s)", t.Age, t.MaxAge))
		}
	}
	var parts []string
	if len(pkgs) > 0 {
		var cs []string
		for _, s := range severityOrder {
			if counts[s] > 0 {
				label := s
				if label == "" {
					label = "unrated"
				}
				cs = append(cs, fmt.Sprintf("%d %s", counts[s], label))
			}
		}
		for s, c := range counts {
			if !slices.Contains(severityOrder, s) {
				cs = append(cs, fmt.Sprintf("%d %s", c, s))
			}
		}
		parts = append(parts, strings.Join(cs, ", ")+" ("+strings.Join(pkgs, " ")+")")
	}
	parts = append(parts, ages...)
	var others []string
	for _, r := range roots {
		if r != layer {
			others = append(others, r)
		}
	}
	if len(others) > 0 {
		parts = append(parts, "rebuilt on "+strings.Join(others, ", "))
	}
	return strings.Join(parts, "; ")
}

func days(d time.Duration) string {
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// Overlay marks the stale layers of d in a content plan (plan.New) as
// builds with reason patch-drift: what `patch run` hands to bake.Baker. A
// layer the plan already builds for another reason keeps that reason (its
// build picks up the patches too); a reused layer loses its reuse fields.
// It returns how many layers it turned into builds.
func Overlay(p *plan.Plan, d *Result) int {
	stale := map[string]Layer{}
	for _, l := range d.Layers {
		if l.Stale {
			stale[l.Layer] = l
		}
	}
	n := 0
	for _, pl := range p.Layers {
		s, ok := stale[pl.Layer]
		if !ok || pl.Action == plan.ActionBuild {
			continue
		}
		if pl.PreviousAMI == "" && len(pl.AMI) > 0 {
			pl.PreviousAMI = pl.AMI[pl.Region]
		}
		pl.Action, pl.Reason, pl.Detail = plan.ActionBuild, plan.ReasonPatchDrift, s.Detail
		pl.AMI, pl.State, pl.MissingRegions, pl.Publish = nil, "", nil, false
		n++
	}
	return n
}
