// Package plan decides, for every layer, whether its image must be built or
// an existing AMI can be reused, and why (DESIGN.md, "Plan reasons";
// docs/plan.md). New is pure: it reads the layer graph, the fingerprints
// and an Observed snapshot of AWS, and returns a serializable Plan that bake
// executes as shown. Observe (observe.go) reads that snapshot.
package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
)

// Action is what bake does with a layer.
type Action string

// Actions.
const (
	ActionBuild Action = "build" // run packer
	ActionReuse Action = "reuse" // an AMI with the current identity exists
)

// Reason is the stable code that says why a layer has its action.
type Reason string

// Reasons (DESIGN.md, "Plan reasons"). Codes never change meaning:
// pipelines match on them.
const (
	ReasonNew             Reason = "new"
	ReasonRecipeChanged   Reason = "recipe-changed"
	ReasonSettingsChanged Reason = "settings-changed"
	ReasonParentRebuilt   Reason = "parent-rebuilt"
	ReasonSourceMoved     Reason = "source-moved"
	ReasonRevoked         Reason = "revoked"
	ReasonUpToDate        Reason = "up-to-date"
	// ReasonPatchDrift is set by the patch module from the latest scan,
	// never by Plan.
	ReasonPatchDrift Reason = "patch-drift"
)

// AMI states plan cares about.
const (
	StateAvailable = "available"
	// StatePending is a build that finished after a crash: bake adopts it
	// and waits instead of baking a duplicate.
	StatePending = "pending"
)

// Plan is the decision for every planned layer, parents first.
type Plan struct {
	Project string   `json:"project"`
	Layers  []*Layer `json:"layers"`
}

// Layer is one layer's decision.
type Layer struct {
	Layer  string `json:"layer"`
	Parent string `json:"parent,omitempty"`
	Action Action `json:"action"`
	Reason Reason `json:"reason"`
	// Detail is free text for humans: "cis_hardening 1.4.0→1.5.0",
	// "ami-a→ami-b", the reused AMI.
	Detail      string `json:"detail,omitempty"`
	Fingerprint string `json:"fingerprint"`
	// Region is where the layer builds (its first region).
	Region string `json:"region"`
	// AMI is the reused AMI per region (reuse only).
	AMI map[string]string `json:"ami,omitempty"`
	// State of the reused AMI in Region: available, or pending (adopt and
	// wait).
	State string `json:"state,omitempty"`
	// MissingRegions are regions of a reused layer with no copy yet.
	MissingRegions []string `json:"missing_regions,omitempty"`
	// PreviousAMI is what the layer's latest channel points to now.
	PreviousAMI string `json:"previous_ami,omitempty"`
	// Publish is set on a reused layer whose latest channel does not point
	// at the reused AMI (an AMI adopted after a crash, a rollback to an
	// earlier fingerprint): bake moves the channel, once the AMI is
	// available, without building.
	Publish bool `json:"publish,omitempty"`
	// SourceAMI is, for a root layer, the upstream AMI its source selector
	// resolves to now: what a build starts from.
	SourceAMI string `json:"source_ami,omitempty"`
}

// Observed is what Observe read from AWS; New needs nothing else.
type Observed struct {
	// Images by AMI id: every image found by the current fingerprints in
	// the layers' regions, and the AMIs the latest channels point to.
	Images map[string]*lineage.Image
	// Latest maps a layer to the AMI id its latest channel holds.
	Latest map[string]string
	// Sources maps a root layer to the AMI its source selector resolves to.
	Sources map[string]string
}

// Changes counts the layers to build.
func (p *Plan) Changes() int {
	n := 0
	for _, l := range p.Layers {
		if l.Action == ActionBuild {
			n++
		}
	}
	return n
}

// Publishes counts the reused layers whose latest channel bake moves.
func (p *Plan) Publishes() int {
	n := 0
	for _, l := range p.Layers {
		if l.Action == ActionReuse && l.Publish {
			n++
		}
	}
	return n
}

// Copies counts the reused layers with a region that has no copy of the
// AMI yet (a region the layer gained after its AMI was built): bake copies
// the AMI there without building.
func (p *Plan) Copies() int {
	n := 0
	for _, l := range p.Layers {
		if l.Action == ActionReuse && len(l.MissingRegions) > 0 {
			n++
		}
	}
	return n
}

// Pending counts the layers bake would change AWS for: a build, or a
// reused layer to publish or to copy (one layer counts once). It is what
// plan -detailed-exitcode reports as changes.
func (p *Plan) Pending() int {
	n := 0
	for _, l := range p.Layers {
		if l.Action == ActionBuild || l.Publish || len(l.MissingRegions) > 0 {
			n++
		}
	}
	return n
}

// Layer returns the named layer's decision, or nil.
func (p *Plan) Layer(name string) *Layer {
	for _, l := range p.Layers {
		if l.Layer == name {
			return l
		}
	}
	return nil
}

// Regions returns a layer's regions, the build region first: the layer's
// own, else the project's, else us-east-1 (as bake renders them).
func Regions(cfg *config.Config, l *config.Layer) []string {
	if l != nil && len(l.Regions) > 0 {
		return l.Regions
	}
	if cfg != nil && cfg.Project != nil && len(cfg.Project.Regions) > 0 {
		return cfg.Project.Regions
	}
	return []string{"us-east-1"}
}

// New decides every layer of g, parents first, and returns those of
// targets plus the ancestors they need rebuilt (all layers when targets is
// empty; unknown names are ignored: check them with g.Select first). A
// layer without a fingerprint (its computation failed) is left out, with
// its descendants.
func New(g *graph.Graph, fps map[string]*graph.Fingerprint, obs *Observed, targets []string) *Plan {
	if obs == nil {
		obs = &Observed{}
	}
	p := &Plan{}
	if g == nil {
		return p
	}
	var project string
	if g.Config != nil && g.Config.Project != nil {
		project = g.Config.Project.Name
	}
	p.Project = project
	byID := indexByLayer(obs.Images, project)
	decided := map[string]*Layer{}
	var all []*Layer
	for _, n := range g.Topo() {
		fp := fps[n.Name()]
		if fp == nil {
			continue
		}
		var parent *Layer
		if n.Parent != nil {
			if parent = decided[n.Parent.Name()]; parent == nil {
				continue
			}
		}
		d := decide(g.Config, n, fp, parent, obs, byID[n.Name()])
		decided[n.Name()] = d
		all = append(all, d)
	}
	if len(targets) == 0 {
		p.Layers = all
		return p
	}
	keep := map[string]bool{}
	for _, t := range targets {
		if decided[t] == nil {
			continue
		}
		keep[t] = true
		for _, a := range g.Ancestors(t) {
			if d := decided[a.Name()]; d != nil && d.Action == ActionBuild {
				keep[a.Name()] = true
			}
		}
	}
	for _, d := range all {
		if keep[d.Layer] {
			p.Layers = append(p.Layers, d)
		}
	}
	return p
}

// indexByLayer groups the project's images by layer.
func indexByLayer(images map[string]*lineage.Image, project string) map[string][]*lineage.Image {
	out := map[string][]*lineage.Image{}
	for _, img := range images {
		if img == nil || img.Project != project || img.Layer == "" {
			continue
		}
		out[img.Layer] = append(out[img.Layer], img)
	}
	return out
}

func decide(cfg *config.Config, n *graph.Node, fp *graph.Fingerprint, parent *Layer, obs *Observed, images []*lineage.Image) *Layer {
	regions := Regions(cfg, n.Layer)
	home := regions[0]
	d := &Layer{
		Layer:       n.Name(),
		Fingerprint: fp.Hash,
		Region:      home,
		PreviousAMI: obs.Latest[n.Name()],
	}
	if parent != nil {
		d.Parent = parent.Layer
	}
	source := ""
	if n.IsRoot() {
		source = obs.Sources[n.Name()]
		d.SourceAMI = source
	}
	// The AMI this layer's build would start from, in its build region.
	var base string
	switch {
	case n.IsRoot():
		base = source
	case parent.Action == ActionReuse:
		base = parent.AMI[home]
	}

	if img := pickReusable(images, fp.Hash, home, n.IsRoot(), base); img != nil {
		d.Action, d.Reason = ActionReuse, ReasonUpToDate
		d.State = img.State
		d.AMI = map[string]string{home: img.ID}
		d.Detail = img.ID
		if img.State == StatePending {
			d.Detail += " (pending)"
		}
		for _, r := range regions[1:] {
			if c := pickCopy(images, img, r); c != nil {
				d.AMI[r] = c.ID
			} else {
				d.MissingRegions = append(d.MissingRegions, r)
			}
		}
		if len(d.MissingRegions) > 0 {
			d.Detail += "; no copy in " + strings.Join(d.MissingRegions, ", ")
		}
		switch d.PreviousAMI {
		case img.ID:
		case "":
			d.Publish = true
			d.Detail += "; no latest channel yet"
		default:
			d.Publish = true
			d.Detail += "; latest is " + d.PreviousAMI
		}
		return d
	}
	d.Action = ActionBuild
	d.Reason, d.Detail = why(cfg, n, fp, parent, base, home, obs)
	return d
}

// reusable reports whether an image may stand for the layer's current
// identity in region: right fingerprint, not revoked, available or pending.
func reusable(img *lineage.Image, fingerprint, region string) bool {
	return img.Fingerprint == fingerprint && img.Region == region && !revoked(img) &&
		(img.State == StateAvailable || img.State == StatePending)
}

// revoked reports whether an image carries amibake:revoked, with or
// without a reason (as the channel data source refuses it).
func revoked(img *lineage.Image) bool { return img.Revoked != "" || img.IsRevoked() }

// pickReusable returns the AMI to reuse: the current fingerprint, built from
// base (the resolved source of a root layer, the parent's reused AMI of a
// child), available ones before pending ones, newest first. An empty base
// (the parent is being rebuilt, the source did not resolve) matches nothing.
func pickReusable(images []*lineage.Image, fingerprint, region string, root bool, base string) *lineage.Image {
	if base == "" {
		return nil
	}
	var cands []*lineage.Image
	for _, img := range images {
		if !reusable(img, fingerprint, region) {
			continue
		}
		from := img.ParentAMI
		if root {
			from = img.Source
		}
		if from == base {
			cands = append(cands, img)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if (a.State == StateAvailable) != (b.State == StateAvailable) {
			return a.State == StateAvailable
		}
		if a.CreationDate != b.CreationDate {
			return a.CreationDate > b.CreationDate
		}
		return a.ID > b.ID
	})
	return cands[0]
}

// pickCopy finds the copy of img in another region: same fingerprint and
// lineage, and the same build when the build id is known.
func pickCopy(images []*lineage.Image, img *lineage.Image, region string) *lineage.Image {
	var best *lineage.Image
	for _, c := range images {
		if !reusable(c, img.Fingerprint, region) || c.ParentAMI != img.ParentAMI || c.Source != img.Source {
			continue
		}
		if img.BuildID != "" && c.BuildID != img.BuildID {
			continue
		}
		if best == nil || c.CreationDate > best.CreationDate || (c.CreationDate == best.CreationDate && c.ID > best.ID) {
			best = c
		}
	}
	return best
}

// why explains a build by comparing the current identity with the layer's
// previous AMI (its latest channel). Precedence, first match wins:
//
//  1. new: no previous AMI (no channel, or it points to an unknown image);
//  2. revoked: the previous AMI has the current fingerprint and is revoked;
//  3. recipe-changed: recipe list or versions differ;
//  4. same fingerprint: source-moved (root: the source resolves to another
//     AMI) or parent-rebuilt (child: the parent is rebuilt or its AMI moved);
//     otherwise the previous AMI is unusable (failed, deregistered): new;
//  5. fingerprint changed: recipe-changed (a recipe's content digest),
//     settings-changed (the settings digest), parent-rebuilt (the parent's
//     fingerprint), else settings-changed. A layer's own change wins over
//     an inherited one.
func why(cfg *config.Config, n *graph.Node, fp *graph.Fingerprint, parent *Layer, base, region string, obs *Observed) (Reason, string) {
	prevID := obs.Latest[n.Name()]
	if prevID == "" {
		return ReasonNew, ""
	}
	prev := obs.Images[prevID]
	if prev == nil {
		return ReasonNew, fmt.Sprintf("latest channel points to %s, which was not found", prevID)
	}
	if (cfg != nil && cfg.Project != nil && prev.Project != cfg.Project.Name) || prev.Layer != n.Name() {
		return ReasonNew, fmt.Sprintf("latest channel points to %s, which is not an AMI of this layer", prevID)
	}
	if revoked(prev) && prev.Fingerprint == fp.Hash {
		if prev.Revoked == "" {
			return ReasonRevoked, prev.ID + " revoked"
		}
		return ReasonRevoked, fmt.Sprintf("%s revoked: %s", prev.ID, prev.Revoked)
	}
	cur := currentRecipes(cfg, n.Layer)
	if detail := recipeVersionChange(prev.Recipes, cur); detail != "" {
		return ReasonRecipeChanged, detail
	}
	if prev.Fingerprint == fp.Hash {
		if n.IsRoot() {
			if prev.Source != base {
				return ReasonSourceMoved, arrow(prev.Source, base)
			}
		} else if detail := parentChange(parent, prev, base, region); detail != "" {
			return ReasonParentRebuilt, detail
		}
		state := prev.State
		if state == "" {
			state = "unknown"
		}
		return ReasonNew, fmt.Sprintf("%s has the current fingerprint but cannot be reused (state %s)", prev.ID, state)
	}
	if detail := recipeContentChange(prev, cur, RecipeDigests(fp)); detail != "" {
		return ReasonRecipeChanged, detail
	}
	if prev.SettingsDigest != "" && prev.SettingsDigest != SettingsDigest(fp) {
		return ReasonSettingsChanged, "image settings changed"
	}
	if !n.IsRoot() && prev.ParentFingerprint != fp.Parent {
		if detail := parentChange(parent, prev, base, region); detail != "" {
			return ReasonParentRebuilt, detail
		}
		return ReasonParentRebuilt, fmt.Sprintf("%s fingerprint %s→%s", parent.Layer, short(prev.ParentFingerprint, 12), short(fp.Parent, 12))
	}
	return ReasonSettingsChanged, fmt.Sprintf("fingerprint %s→%s", short(prev.Fingerprint, 12), fp.Short)
}

// parentChange describes why a child's parent AMI is not the one its
// previous AMI was built on; "" when it is.
func parentChange(parent *Layer, prev *lineage.Image, base, region string) string {
	if parent == nil {
		return ""
	}
	if parent.Action == ActionBuild {
		return fmt.Sprintf("%s is rebuilt (%s)", parent.Layer, parent.Reason)
	}
	if base == "" {
		return fmt.Sprintf("%s has no AMI in %s", parent.Layer, region)
	}
	if prev.ParentAMI != base {
		return fmt.Sprintf("%s %s", parent.Layer, arrow(prev.ParentAMI, base))
	}
	return ""
}

func arrow(from, to string) string {
	if from == "" {
		from = "?"
	}
	if to == "" {
		to = "?"
	}
	return from + "→" + to
}

func currentRecipes(cfg *config.Config, l *config.Layer) []lineage.RecipeVersion {
	var out []lineage.RecipeVersion
	if l == nil {
		return out
	}
	for _, ref := range l.Recipes {
		if ref == nil {
			continue
		}
		rv := lineage.RecipeVersion{Name: ref.Name}
		if cfg != nil {
			if r := cfg.Recipes[ref.Name]; r != nil {
				rv.Version = r.Version
			}
		}
		out = append(out, rv)
	}
	return out
}

// recipeVersionChange describes a change of the recipe list or versions:
// "cis_hardening 1.4.0→1.5.0", "added nginx_runtime@1.0.0",
// "removed time_sync@1.0.0", "reordered"; "" when the list is the same.
func recipeVersionChange(prev, cur []lineage.RecipeVersion) string {
	prevVer := map[string]string{}
	for _, r := range prev {
		prevVer[r.Name] = r.Version
	}
	curVer := map[string]string{}
	for _, r := range cur {
		curVer[r.Name] = r.Version
	}
	var parts []string
	for _, r := range cur {
		old, ok := prevVer[r.Name]
		switch {
		case !ok:
			parts = append(parts, "added "+r.Name+"@"+r.Version)
		case old != r.Version:
			parts = append(parts, r.Name+" "+old+"→"+r.Version)
		}
	}
	for _, r := range prev {
		if _, ok := curVer[r.Name]; !ok {
			parts = append(parts, "removed "+r.Name+"@"+r.Version)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, ", ")
	}
	if len(prev) != len(cur) {
		return "recipe list changed"
	}
	for i := range cur {
		if prev[i].Name != cur[i].Name {
			return "recipes reordered"
		}
	}
	return ""
}

// recipeContentChange names the recipes whose content digest differs from
// the previous AMI's (same names and versions); "" when none does or the
// previous AMI has no digests.
func recipeContentChange(prev *lineage.Image, cur []lineage.RecipeVersion, digests []string) string {
	if len(prev.RecipeDigests) != len(prev.Recipes) || len(digests) != len(cur) || len(prev.RecipeDigests) != len(digests) {
		return ""
	}
	var names []string
	for i, r := range cur {
		if prev.RecipeDigests[i] != digests[i] {
			names = append(names, r.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return strings.Join(names, ", ") + " content changed"
}
