package rollout

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/lineage"
)

// An in-place rollout brings instances to the target AMI's patch level
// with AWS-RunPatchBaseline; when the target's CONTENT differs (a recipe
// is new or at another version) patching alone does not get them there.
// The recipe delta runs the missing recipes' steps, rendered exactly as
// the bake renders them, through AWS-RunShellScript before the patch.
//
// What an instance carries is its launch AMI's recipes (the AMI and its
// ancestors, amibake:recipes each), unless a delta rollout recorded more:
// then its own amibake:recipes tag (every recipe of the lineage, in order)
// and amibake:fingerprint (the AMI whose content it now has).

// DeltaDocument is what a recipe delta runs.
const DeltaDocument = "AWS-RunShellScript"

// Delta is the recipe delta of an in-place rollout.
type Delta struct {
	// Target is every recipe the target AMI's lineage carries, root first.
	Target      []lineage.RecipeVersion `json:"target_recipes"`
	Fingerprint string                  `json:"target_fingerprint,omitempty"`
	// Groups are the instances behind, by starting point.
	Groups []*DeltaGroup `json:"groups,omitempty"`
	// Canary is the first checkpoint's share of the instances behind,
	// by id: they run the delta first.
	Canary    []string         `json:"canary,omitempty"`
	Commands  []*CommandResult `json:"commands,omitempty"`
	Succeeded []string         `json:"succeeded,omitempty"`
	Failed    []string         `json:"failed,omitempty"`
	NotRun    []string         `json:"not_run,omitempty"`
	Tagged    []string         `json:"tagged,omitempty"`
	// Stopped says the error threshold (or a failed canary batch) ended
	// the delta; nothing was patched after it.
	Stopped bool `json:"stopped,omitempty"`

	// runID names the rollout's short-lived secret parameters.
	runID   string
	secrets []deltaSecret
}

// DeltaGroup is the instances that start from the same recipes.
type DeltaGroup struct {
	// From is what they carry (name@version,…; "" for none).
	From      string   `json:"from"`
	Instances []string `json:"instances"`
	// Recipes are what they are missing, in the target's order.
	Recipes []lineage.RecipeVersion `json:"recipes"`
	// Steps are the recorded names of the steps sent, in order.
	Steps []string `json:"steps,omitempty"`

	// commands is the script: it names secret parameters, never values.
	commands []string
}

// deltaSecret is a sensitive recipe input, stored as a SecureString for
// the rollout's duration as the bake stores it for a build's. The value
// hides behind a func so that no %v of a report or a delta can print it.
type deltaSecret struct {
	step, name, parameter string
	value                 func() string
}

// instanceStart is where one instance starts from.
type instanceStart struct {
	recipes []lineage.RecipeVersion
	known   bool
	// why the start is unknown (a gone or foreign launch AMI).
	why string
}

// noteInstance keeps what the delta needs to know about a target.
func (ip *InPlace) noteInstance(i ec2types.Instance) {
	if ip.instances == nil {
		ip.instances = map[string]ec2types.Instance{}
	}
	ip.instances[aws.ToString(i.InstanceId)] = i
}

func instanceTags(i ec2types.Instance) map[string]string {
	tags := make(map[string]string, len(i.Tags))
	for _, t := range i.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags
}

// chain reads the lineage of amis: each one's recipes with its ancestors'
// first. An AMI (or an ancestor) that is gone or was not baked by amibake
// has no known content and is absent from the result, with the reason.
func (rc *Context) chain(ctx context.Context, amis []string) (map[string][]lineage.RecipeVersion, map[string]string, error) {
	known := map[string]lineage.Image{}
	asked := map[string]bool{}
	frontier := amis
	for len(frontier) > 0 {
		var ask []string
		for _, id := range frontier {
			if id != "" && !asked[id] {
				asked[id] = true
				ask = append(ask, id)
			}
		}
		if len(ask) == 0 {
			break
		}
		imgs, err := lineage.DescribeIDs(ctx, rc.EC2, rc.Region, ask)
		if err != nil {
			return nil, nil, fmt.Errorf("lineage of the instances of %s: %w", rc.Fleet.Name, err)
		}
		frontier = nil
		for id, img := range imgs {
			known[id] = img
			if img.ParentAMI != "" {
				frontier = append(frontier, img.ParentAMI)
			}
		}
	}
	out, why := map[string][]lineage.RecipeVersion{}, map[string]string{}
	for _, id := range amis {
		var rs []lineage.RecipeVersion
		cur, ok := id, true
		for seen := map[string]bool{}; cur != "" && !seen[cur]; {
			seen[cur] = true
			img, found := known[cur]
			switch {
			case !found && cur == id:
				why[id], ok = id+" is gone", false
			case !found:
				why[id], ok = "the ancestor "+cur+" of "+id+" is gone", false
			case img.Project == "" || img.Layer == "":
				why[id], ok = id+" was not baked by amibake", false
			}
			if !ok {
				break
			}
			rs = append(append([]lineage.RecipeVersion(nil), img.Recipes...), rs...)
			cur = img.ParentAMI
		}
		if ok {
			out[id] = rs
		}
	}
	return out, why, nil
}

// starts reads where each target starts from.
func (rc *Context) starts(ctx context.Context, ids []string) (map[string]instanceStart, error) {
	ip := rc.Report.InPlace
	var launch []string
	for _, id := range ids {
		i := ip.instances[id]
		if _, tagged := instanceRecipes(instanceTags(i)); !tagged {
			launch = append(launch, aws.ToString(i.ImageId))
		}
	}
	recipes, why, err := rc.chain(ctx, launch)
	if err != nil {
		return nil, err
	}
	out := make(map[string]instanceStart, len(ids))
	for _, id := range ids {
		i := ip.instances[id]
		tags := instanceTags(i)
		if v, tagged := instanceRecipes(tags); tagged {
			out[id] = instanceStart{recipes: lineage.ParseRecipes(v), known: true}
			continue
		}
		ami := aws.ToString(i.ImageId)
		rs, ok := recipes[ami]
		out[id] = instanceStart{recipes: rs, known: ok, why: "launch AMI " + why[ami]}
	}
	return out, nil
}

// recipeDiff is what from lacks of target (new or at another version),
// in target's order, and what target no longer has.
func recipeDiff(from, target []lineage.RecipeVersion) (missing []lineage.RecipeVersion, removed []string) {
	have := map[string]string{}
	for _, r := range from {
		have[r.Name] = r.Version
	}
	want := map[string]bool{}
	for _, r := range target {
		want[r.Name] = true
		if v, ok := have[r.Name]; !ok || v != r.Version {
			missing = append(missing, r)
		}
	}
	for _, r := range from {
		if !want[r.Name] {
			removed = append(removed, r.Name+"@"+r.Version)
		}
	}
	return missing, removed
}

// deltaGroups groups the targets by starting point: the instances behind
// the target's recipes, the ones whose start is unknown and the recipes
// some would have to lose.
func (rc *Context) deltaGroups(ctx context.Context, ids []string) (unknown map[string]string, removed map[string][]string, err error) {
	d := rc.Report.InPlace.Delta
	starts, err := rc.starts(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	unknown, removed = map[string]string{}, map[string][]string{}
	byFrom := map[string]*DeltaGroup{}
	for _, id := range ids {
		s := starts[id]
		if !s.known {
			unknown[id] = s.why
			continue
		}
		missing, gone := recipeDiff(s.recipes, d.Target)
		for _, g := range gone {
			removed[g] = append(removed[g], id)
		}
		if len(missing) == 0 {
			continue
		}
		from := lineage.FormatRecipes(s.recipes)
		g := byFrom[from]
		if g == nil {
			g = &DeltaGroup{From: from, Recipes: missing}
			byFrom[from] = g
			d.Groups = append(d.Groups, g)
		}
		g.Instances = append(g.Instances, id)
	}
	sort.Slice(d.Groups, func(i, j int) bool { return d.Groups[i].Instances[0] < d.Groups[j].Instances[0] })
	// The delta's canary is a share of the instances it runs on, not of
	// the fleet: up-to-date canary instances would test nothing.
	if cps := rc.Fleet.Rollout.Checkpoints; len(cps) > 1 && cps[0] < 100 {
		var behind []string
		for _, g := range d.Groups {
			behind = append(behind, g.Instances...)
		}
		sort.Strings(behind)
		n := (len(behind)*cps[0] + 99) / 100
		d.Canary = behind[:min(n, len(behind))]
	}
	return unknown, removed, nil
}

// deltaFind works out the recipe delta of every target and refuses what
// cannot be done in place.
type deltaFind struct{}

func (deltaFind) String() string { return "work out the recipe delta" }

func (deltaFind) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	target, err := rc.targetRecipes(ctx)
	if err != nil || len(target.Target) == 0 {
		return err // a target without recipes: patching is all there is
	}
	ip.Delta = target
	unknown, removed, err := rc.deltaGroups(ctx, ip.Targets)
	if err != nil {
		return err
	}
	if len(removed) > 0 {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(removed)) {
			parts = append(parts, fmt.Sprintf("%s (on %d instances)", name, len(removed[name])))
		}
		return fmt.Errorf("fleet %s: the target AMI %s no longer has recipe %s: a recipe cannot be removed in place; "+
			"use a replace fleet, or rebake and relaunch the instances", rc.Fleet.Name, rc.Report.Target, strings.Join(parts, ", "))
	}
	if len(unknown) > 0 {
		ids := lineage.SortedKeys(unknown)
		var parts []string
		for _, id := range ids[:min(len(ids), 5)] {
			parts = append(parts, id+" ("+unknown[id]+")")
		}
		if len(ids) > 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ids)-5))
		}
		return fmt.Errorf("fleet %s: what %d instances carry is unknown: %s; tag each with %s=name@version,… (the recipes it carries) or replace it",
			rc.Fleet.Name, len(ids), strings.Join(parts, ", "), lineage.TagRecipes)
	}
	if len(ip.Delta.Groups) == 0 {
		return nil
	}
	return rc.renderDelta()
}

// targetRecipes reads what the target AMI's lineage carries.
func (rc *Context) targetRecipes(ctx context.Context) (*Delta, error) {
	recipes, why, err := rc.chain(ctx, []string{rc.Report.Target})
	if err != nil {
		return nil, err
	}
	rs, ok := recipes[rc.Report.Target]
	if !ok {
		return nil, fmt.Errorf("fleet %s: what the target AMI carries is unknown: %s", rc.Fleet.Name, why[rc.Report.Target])
	}
	imgs, err := lineage.DescribeIDs(ctx, rc.EC2, rc.Region, []string{rc.Report.Target})
	if err != nil {
		return nil, err
	}
	return &Delta{Target: rs, Fingerprint: imgs[rc.Report.Target].Fingerprint}, nil
}

// deltaTag records on the instances that ran the delta what they now
// carry, right away: a crash before the patch must not run the delta
// again (recipe scripts need not be idempotent).
type deltaTag struct{}

func (deltaTag) String() string { return "tag the instances that ran the recipe delta" }

func (deltaTag) Skip(rc *Context) (bool, string) {
	d := rc.Report.InPlace.Delta
	return d == nil || len(d.Succeeded) == 0, ""
}

func (deltaTag) Run(ctx context.Context, rc *Context) error {
	d := rc.Report.InPlace.Delta
	tags := recipeTags(d.Target)
	if d.Fingerprint != "" {
		tags = append(tags, ec2types.Tag{Key: aws.String(lineage.TagFingerprint), Value: aws.String(d.Fingerprint)})
	}
	for ids := range slices.Chunk(d.Succeeded, 500) {
		if _, err := rc.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: tags}); err != nil {
			return fmt.Errorf("tag %d instances of %s with their recipes: %w", len(ids), rc.Fleet.Name, err)
		}
		d.Tagged = append(d.Tagged, ids...)
	}
	rc.changed("tagged %d instances %s=%s", len(d.Tagged), lineage.TagRecipes, lineage.FormatRecipes(d.Target))
	return nil
}

// deltaVerdict stops the rollout when the delta stopped (nothing is
// patched then: the patch level belongs to the new content), and counts
// an instance the delta failed on as failed whatever its patch did.
type deltaVerdict struct{ final bool }

func (v deltaVerdict) String() string {
	if v.final {
		return "count the recipe delta's failures"
	}
	return "check the recipe delta"
}

func (v deltaVerdict) Skip(rc *Context) (bool, string) {
	return rc.Report.InPlace.Delta == nil, ""
}

func (v deltaVerdict) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	d := ip.Delta
	if v.final {
		ok := []string{}
		for _, id := range ip.Succeeded {
			switch {
			case slices.Contains(d.Failed, id):
				ip.Failed = append(ip.Failed, id)
			case slices.Contains(d.NotRun, id):
				ip.NotRun = append(ip.NotRun, id)
			default:
				ok = append(ok, id)
			}
		}
		ip.Succeeded = ok
		sort.Strings(ip.Failed)
		sort.Strings(ip.NotRun)
		return nil
	}
	if !d.Stopped {
		return nil
	}
	ip.Succeeded, ip.Failed, ip.NotRun = []string{}, d.Failed, d.NotRun
	rc.Report.Outcome = OutcomeStopped
	var parts []string
	for _, c := range d.Commands {
		parts = append(parts, fmt.Sprintf("%s batch %s %s", c.Batch, c.CommandID, c.StatusDetails))
	}
	rc.Report.Reason = fmt.Sprintf("recipe delta: %d succeeded, %d failed (%s), %d not run; max_errors %s; nothing patched: %s",
		len(d.Succeeded), len(d.Failed), strings.Join(d.Failed, ", "), len(d.NotRun), ip.MaxErrors, strings.Join(parts, "; "))
	return &FailedError{Msg: fmt.Sprintf("rollout of %s stopped: %s", rc.Fleet.Name, rc.Report.Reason)}
}

// deltaState shows, after the patch-level status, the instances whose
// recipes are behind the target's; a fleet on the patch level but behind
// in recipes is not done.
type deltaState struct{}

func (deltaState) String() string { return "read the fleet's recipes" }

func (deltaState) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	target, err := rc.targetRecipes(ctx)
	if err != nil || len(target.Target) == 0 || len(ip.Targets) == 0 {
		return err
	}
	ip.Delta = target
	unknown, removed, err := rc.deltaGroups(ctx, ip.Targets)
	if err != nil {
		return err
	}
	n := 0
	for _, g := range ip.Delta.Groups {
		n += len(g.Instances)
		rc.logf("  recipes behind: %d instances on %s need %s: %s", len(g.Instances), orText(g.From, "no recipes"),
			lineage.FormatRecipes(g.Recipes), strings.Join(g.Instances, ", "))
	}
	for _, id := range lineage.SortedKeys(unknown) {
		rc.logf("  recipes unknown: %s (%s)", id, unknown[id])
	}
	for _, name := range slices.Sorted(maps.Keys(removed)) {
		rc.logf("  recipe %s is not in the target AMI (%d instances): only a replace or a rebuild removes it", name, len(removed[name]))
	}
	if n == 0 {
		return nil
	}
	why := fmt.Sprintf("%d of %d instances behind the recipes %s; `amibake rollout %s --apply` runs the recipe delta",
		n, len(ip.Targets), lineage.FormatRecipes(ip.Delta.Target), rc.Fleet.Name)
	switch rc.Report.Outcome {
	case OutcomeSucceeded, OutcomeNothing:
		rc.Report.Outcome, rc.Report.Reason = OutcomePlanned, why
	case OutcomeInProgress:
	default:
		rc.Report.Reason += "; " + why
	}
	return nil
}

// upToDate ends a rollout that has nothing to do: no recipe delta and
// every target already tagged with the target's patch level.
type upToDate struct{}

func (upToDate) String() string { return "check whether the fleet is up to date" }

func (upToDate) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	if ip.Delta != nil && len(ip.Delta.Groups) > 0 {
		return nil
	}
	for _, id := range ip.Targets {
		if instanceTags(ip.instances[id])[lineage.TagPatchLevel] != ip.PatchLevel {
			return nil
		}
	}
	rc.Report.Outcome = OutcomeNothing
	rc.Report.Reason = fmt.Sprintf("all %d instances carry patch level %s and the target's recipes", len(ip.Targets), ip.PatchLevel)
	rc.logf("Nothing to do: every instance of fleet %s (%d) is on patch level %s with the recipes of %s.", rc.Fleet.Name, len(ip.Targets), ip.PatchLevel, rc.Report.Target)
	return errStop
}

// withDeltaBehind is ip.Behind and the instances behind in recipes.
func (ip *InPlace) withDeltaBehind() []string {
	if ip.Delta == nil || len(ip.Delta.Groups) == 0 {
		return ip.Behind
	}
	all := map[string]string{}
	for _, id := range ip.Behind {
		all[id] = id
	}
	for _, g := range ip.Delta.Groups {
		for _, id := range g.Instances {
			all[id] = id
		}
	}
	return lineage.SortedKeys(all)
}

// recipeTags records recipes on an instance: amibake:recipes, then
// amibake:recipes-2, -3, … when the list outgrows EC2's 256-character tag
// value (split between entries), and an empty part after the last so that
// the parts of a longer earlier list are not read on.
func recipeTags(rs []lineage.RecipeVersion) []ec2types.Tag {
	var parts []string
	cur := ""
	for _, r := range rs {
		e := r.Name + "@" + r.Version
		switch {
		case cur == "":
			cur = e
		case len(cur)+1+len(e) <= maxTagValue:
			cur += "," + e
		default:
			parts, cur = append(parts, cur), e
		}
	}
	parts = append(parts, cur, "")
	tags := make([]ec2types.Tag, len(parts))
	for i, p := range parts {
		tags[i] = ec2types.Tag{Key: aws.String(recipeTagKey(i)), Value: aws.String(p)}
	}
	return tags
}

func recipeTagKey(i int) string {
	if i == 0 {
		return lineage.TagRecipes
	}
	return fmt.Sprintf("%s-%d", lineage.TagRecipes, i+1)
}

// instanceRecipes reads what recipeTags wrote; ok is false when the
// instance has no amibake:recipes tag.
func instanceRecipes(tags map[string]string) (string, bool) {
	first, ok := tags[lineage.TagRecipes]
	if !ok {
		return "", false
	}
	parts := []string{first}
	for i := 1; ; i++ {
		p := tags[recipeTagKey(i)]
		if p == "" || first == "" {
			break
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ","), true
}
