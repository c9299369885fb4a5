package rollout

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/crashpoint"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/retire"
)

// GroupPlan is one Auto Scaling group of a replace rollout.
type GroupPlan struct {
	Name            string  `json:"asg"`
	Desired         int32   `json:"desired_capacity"`
	TemplateID      string  `json:"launch_template_id"`
	TemplateName    string  `json:"launch_template_name"`
	FromVersion     int64   `json:"from_version"`
	FromAMI         string  `json:"from_ami"`
	ToVersion       int64   `json:"to_version,omitempty"`
	Batches         []Batch `json:"batches,omitempty"`
	RefreshID       string  `json:"refresh_id,omitempty"`
	Status          string  `json:"status,omitempty"`
	StatusReason    string  `json:"status_reason,omitempty"`
	PercentComplete int32   `json:"percent_complete"`
	RollbackReason  string  `json:"rollback_reason,omitempty"`
	UpToDate        bool    `json:"up_to_date,omitempty"`
	// Mixed: the group launches through a mixed instances policy.
	Mixed bool `json:"mixed_instances,omitempty"`
	// State is the group's amibake:rollout-state (paused, aborted).
	State string `json:"state,omitempty"`
	// Checkpoint is the percentage the rollout paused at.
	Checkpoint int `json:"checkpoint,omitempty"`
	// Remaining are the checkpoints a resume goes through.
	Remaining []int `json:"remaining_checkpoints,omitempty"`
	// OnNew counts the members launched from the new version.
	OnNew        int `json:"instances_on_new"`
	OnNewPercent int `json:"percent_on_new"`

	checkpointSince int64 // unix nanos when the current checkpoint wait was first seen; 0 when not waiting
	lastSeen        string
	versions        []int64                       // the template's version numbers when read (readGroups); nil: not read
	checkpoints     []int                         // the running refresh's checkpoints
	mixed           *astypes.MixedInstancesPolicy // the group's, when Mixed
	tags            map[string]string             // the group's amibake:rollout-* tags
	held            bool                          // cancelled by this run's pause
	back            bool                          // the refresh returns to FromVersion (abort)
	unfinished      bool                          // refreshed, but finish never ran (rolloutUnfinished)
	defaultSet      bool                          // ToVersion is the template's default already (finish moved it)
	replaced        string                        // up to date: the AMI the rollout to the default version replaced (rolloutReplaced)
	leftover        bool                          // up to date, but finish's prune or retire is left (killed after the default moved)
}

// versionKey is one version of one launch template.
type versionKey struct {
	template string
	version  int64
}

// fromKey is the version the group runs before the rollout; groups that
// share it share the rollout's new version.
func (g *GroupPlan) fromKey() versionKey { return versionKey{g.TemplateID, g.FromVersion} }

// toKey is the rollout's version of the group.
func (g *GroupPlan) toKey() versionKey { return versionKey{g.TemplateID, g.ToVersion} }

// Batch is one checkpoint of a refresh: how many instances run the new AMI
// once it is reached.
type Batch struct {
	Percent   int `json:"percent"`
	Instances int `json:"instances"`
}

// versionDescription records in AWS what a rollout replaced, for resume,
// status and the retire after success: "amibake rollout FLEET: OLD → NEW (from version N)".
func versionDescription(fleet, from, to string, fromVersion int64) string {
	return fmt.Sprintf("amibake rollout %s: %s → %s (from version %d)", fleet, from, to, fromVersion)
}

var descRE = regexp.MustCompile(`^amibake rollout (\S+): (ami-[0-9a-f]+) → (ami-[0-9a-f]+) \(from version (\d+)\)$`)

func parseDescription(s string) (fleet, from, to string, fromVersion int64, ok bool) {
	m := descRE.FindStringSubmatch(s)
	if m == nil {
		return "", "", "", 0, false
	}
	n, _ := strconv.ParseInt(m[4], 10, 64)
	return m[1], m[2], m[3], n, true
}

// Replace rolls a replace fleet out.
func (r *Rollout) Replace(ctx context.Context) (*Report, error) {
	rep := r.newReport()
	steps := []Step{
		preflight{},      // the fleet is a replace fleet, its ASGs exist on launch templates, no refresh is running
		resolveTarget{},  // the AMI the layer's channel holds, available and not revoked
		readGroups{},     // each ASG's current template version and AMI; the batches
		showPlan{},       // dry-run: the change, the batches and the API calls
		confirmStep{},    // a person at a terminal says yes (--yes skips)
		lockStep{},       // the project lock, before anything changes
		newVersions{},    // a template version that changes only the image id, one per (template, version) the ASGs run
		startRefreshes{}, // StartInstanceRefresh with checkpoints, rollback and alarms
		canaryFollow,     // DescribeInstanceRefreshes until done, paused or failed; the canary analysis at the first checkpoint
		finish{},         // default version, prune old versions, retire the replaced AMI
	}
	err := r.run(ctx, rep, steps)
	return rep, canaryOutcome(rep, err)
}

// ---- preflight ----

type preflight struct{}

func (preflight) String() string { return "preflight" }

func (preflight) Run(ctx context.Context, rc *Context) error {
	if rc.Fleet.Strategy != config.StrategyReplace {
		return fmt.Errorf("fleet %s is %s, not replace", rc.Fleet.Name, rc.Fleet.Strategy)
	}
	groups, err := rc.describeGroups(ctx)
	if err != nil {
		return err
	}
	for _, name := range rc.Fleet.ASGs {
		g, ok := groups[name]
		if !ok {
			return fmt.Errorf("fleet %s: Auto Scaling group %s not found in %s", rc.Fleet.Name, name, rc.Region)
		}
		if lt, _ := groupTemplate(g); lt == nil {
			return fmt.Errorf("fleet %s: Auto Scaling group %s uses a launch configuration; only launch templates (directly or in a mixed instances policy) are supported", rc.Fleet.Name, name)
		}
		if tags := groupTags(g); tags[TagState] == StatePaused {
			return fmt.Errorf("fleet %s: Auto Scaling group %s holds a paused rollout (%s): `amibake rollout resume %s` finishes it, `amibake rollout abort %s` rolls it back",
				rc.Fleet.Name, name, tags[TagReason], rc.Fleet.Name, rc.Fleet.Name)
		}
		ref, err := rc.latestRefresh(ctx, name)
		if err != nil {
			return err
		}
		if ref != nil && active(ref.Status) {
			return fmt.Errorf("fleet %s: Auto Scaling group %s has an instance refresh %s in progress (%s): see `amibake rollout status %s`, then resume or abort it",
				rc.Fleet.Name, name, aws.ToString(ref.InstanceRefreshId), ref.Status, rc.Fleet.Name)
		}
	}
	return nil
}

func active(s astypes.InstanceRefreshStatus) bool {
	switch s {
	case astypes.InstanceRefreshStatusPending, astypes.InstanceRefreshStatusInProgress, astypes.InstanceRefreshStatusBaking,
		astypes.InstanceRefreshStatusCancelling, astypes.InstanceRefreshStatusRollbackInProgress:
		return true
	}
	return false
}

func (rc *Context) describeGroups(ctx context.Context) (map[string]astypes.AutoScalingGroup, error) {
	out := map[string]astypes.AutoScalingGroup{}
	names := rc.Fleet.ASGs
	for start := 0; start < len(names); start += 50 {
		end := min(start+50, len(names))
		p := autoscaling.NewDescribeAutoScalingGroupsPaginator(rc.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{
			AutoScalingGroupNames: names[start:end], MaxRecords: aws.Int32(100)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe Auto Scaling groups of fleet %s: %w", rc.Fleet.Name, err)
			}
			for _, g := range page.AutoScalingGroups {
				out[aws.ToString(g.AutoScalingGroupName)] = g
			}
		}
	}
	return out, nil
}

func (rc *Context) latestRefresh(ctx context.Context, group string) (*astypes.InstanceRefresh, error) {
	out, err := rc.AutoScaling.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(group), MaxRecords: aws.Int32(1)})
	if err != nil {
		return nil, fmt.Errorf("describe instance refreshes of %s: %w", group, err)
	}
	if len(out.InstanceRefreshes) == 0 {
		return nil, nil
	}
	return &out.InstanceRefreshes[0], nil
}

// ---- resolve the target ----

type resolveTarget struct{}

func (resolveTarget) String() string { return "resolve the target AMI" }

func (resolveTarget) Run(ctx context.Context, rc *Context) error {
	name := rc.Paths.Channel(rc.Fleet.Layer, rc.Fleet.Channel)
	v, err := channel.Get(ctx, rc.SSM, name)
	if err != nil {
		return err
	}
	imgs, err := lineage.DescribeIDs(ctx, rc.EC2, rc.Region, []string{v.AMI})
	if err != nil {
		return err
	}
	img, ok := imgs[v.AMI]
	switch {
	case !ok:
		return fmt.Errorf("channel %s holds %s, which is gone in %s", name, v.AMI, rc.Region)
	case img.IsRevoked():
		return fmt.Errorf("channel %s holds %s, which is revoked (%s): promote another AMI first", name, v.AMI, img.Revoked)
	case img.State != "available":
		return fmt.Errorf("channel %s holds %s, which is %s, not available", name, v.AMI, img.State)
	}
	rc.Report.Target = v.AMI
	return nil
}

// ---- read the groups ----

type readGroups struct{}

func (readGroups) String() string { return "read the groups' launch templates" }

func (readGroups) Run(ctx context.Context, rc *Context) error {
	groups, err := rc.describeGroups(ctx)
	if err != nil {
		return err
	}
	todo := 0
	var unfinished []string
	for _, name := range rc.Fleet.ASGs {
		g := groups[name]
		lt, mixed := groupTemplate(g)
		v, def, all, err := rc.templateVersions(ctx, aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.LaunchTemplateName), orDefault(aws.ToString(lt.Version)))
		if err != nil {
			return fmt.Errorf("Auto Scaling group %s: %w", name, err)
		}
		gp := &GroupPlan{versions: all, Name: name, Desired: aws.ToInt32(g.DesiredCapacity), TemplateID: aws.ToString(v.LaunchTemplateId),
			TemplateName: aws.ToString(v.LaunchTemplateName), FromVersion: aws.ToInt64(v.VersionNumber),
			Mixed: mixed != nil, mixed: mixed, tags: groupTags(g)}
		if v.LaunchTemplateData != nil {
			gp.FromAMI = aws.ToString(v.LaunchTemplateData.ImageId)
		}
		gp.Batches = batches(rc.Fleet.Rollout.Checkpoints, int(gp.Desired))
		if gp.FromAMI == rc.Report.Target && allOn(g, gp.FromVersion) {
			gp.UpToDate = true
			if rolloutUnfinished(rc.Fleet.Name, rc.Report.Target, v, def) {
				unfinished = append(unfinished, name)
			} else if from, ok := rolloutReplaced(rc.Fleet.Name, rc.Report.Target, v); ok {
				gp.replaced, gp.ToVersion, gp.defaultSet = from, gp.FromVersion, true
			}
		} else {
			todo++
		}
		rc.Report.Groups = append(rc.Report.Groups, gp)
	}
	// The versions were read anyway: an old one the prune would delete is
	// still there (one another group of the fleet runs is not).
	running := map[string]map[int64]bool{}
	for _, g := range rc.Report.Groups {
		markVersion(running, g.TemplateID, g.FromVersion)
	}
	for _, g := range rc.Report.Groups {
		if g.replaced != "" {
			g.leftover = len(prunable(g.versions, g.ToVersion, max(rc.Fleet.Retire.Keep, 1), running[g.TemplateID])) > 0
		}
	}
	if todo == 0 && len(unfinished) > 0 {
		rc.Report.Outcome = OutcomeInProgress
		return &FailedError{Msg: fmt.Sprintf("fleet %s runs %s everywhere, but its rollout stopped before it finished (%s: the launch template's default version was not moved, the replaced AMI not retired): `amibake rollout resume %s` finishes it",
			rc.Fleet.Name, rc.Report.Target, strings.Join(unfinished, ", "), rc.Fleet.Name)}
	}
	if todo == 0 {
		if err := rc.findLeftovers(ctx); err != nil {
			return err
		}
		left := false
		for _, g := range rc.Report.Groups {
			left = left || g.leftover
		}
		if !left {
			rc.Report.Outcome = OutcomeNothing
			rc.logf("Nothing to do: every group of fleet %s runs %s.", rc.Fleet.Name, rc.Report.Target)
			return errStop
		}
	}
	return nil
}

// findLeftovers marks the up-to-date groups whose rollout's retire is
// left (a run killed after the prune, or inside the retire). Only when
// every group is up to date: a rollout that replaces something retires
// what it replaced anyway, and a normal rollout pays no extra call.
func (rc *Context) findLeftovers(ctx context.Context) error {
	var amis []string
	for _, g := range rc.Report.Groups {
		if g.replaced != "" && !g.leftover && !slices.Contains(amis, g.replaced) {
			amis = append(amis, g.replaced)
		}
	}
	if rc.Retirer == nil || len(amis) == 0 {
		return nil
	}
	pending, err := rc.retirePending(ctx, amis)
	if err != nil {
		return err
	}
	for _, g := range rc.Report.Groups {
		if pending[g.replaced] {
			g.leftover = true
		}
	}
	return nil
}

func markVersion(m map[string]map[int64]bool, template string, version int64) {
	if m[template] == nil {
		m[template] = map[int64]bool{}
	}
	m[template][version] = true
}

// allOn: every member launched from this version.
func allOn(g astypes.AutoScalingGroup, version int64) bool {
	for _, i := range g.Instances {
		if i.LaunchTemplate == nil || aws.ToString(i.LaunchTemplate.Version) != strconv.FormatInt(version, 10) {
			return false
		}
	}
	return true
}

func orDefault(v string) string {
	if v == "" {
		return "$Default"
	}
	return v
}

// templateVersions reads every version of a template (paged) and picks the
// one version names ($Default, $Latest or a number): one read serves both
// the group's current version and, after the rollout, the prune
// (pruneVersions), instead of one describe each (bench: ≤ 5 calls per ASG).
//
// def is the template's default version: whether a non-default version a
// group runs is an unfinished rollout depends on it (rolloutUnfinished).
func (rc *Context) templateVersions(ctx context.Context, id, name, version string) (picked, def *ec2types.LaunchTemplateVersion, all []int64, err error) {
	in := &ec2.DescribeLaunchTemplateVersionsInput{MaxResults: aws.Int32(200)}
	if id != "" {
		in.LaunchTemplateId = aws.String(id)
	} else {
		in.LaunchTemplateName = aws.String(name)
	}
	p := ec2.NewDescribeLaunchTemplateVersionsPaginator(rc.EC2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("describe launch template %s%s versions: %w", id, name, err)
		}
		for i := range page.LaunchTemplateVersions {
			v := &page.LaunchTemplateVersions[i]
			n := aws.ToInt64(v.VersionNumber)
			all = append(all, n)
			if aws.ToBool(v.DefaultVersion) {
				def = v
			}
			switch {
			case version == "$Default" && aws.ToBool(v.DefaultVersion),
				version == "$Latest" && (picked == nil || n > aws.ToInt64(picked.VersionNumber)),
				version == strconv.FormatInt(n, 10):
				picked = v
			}
		}
	}
	if picked == nil {
		return nil, nil, nil, fmt.Errorf("launch template %s%s has no version %s", id, name, version)
	}
	return picked, def, all, nil
}

// batches: how many instances run the new AMI at each checkpoint.
func batches(checkpoints []int, desired int) []Batch {
	if len(checkpoints) == 0 {
		checkpoints = []int{100}
	}
	out := make([]Batch, 0, len(checkpoints))
	for _, p := range checkpoints {
		out = append(out, Batch{Percent: p, Instances: int(math.Ceil(float64(desired) * float64(p) / 100))})
	}
	return out
}

// ---- the plan ----

type showPlan struct{}

func (showPlan) String() string { return "show the plan" }

func (showPlan) Run(ctx context.Context, rc *Context) error {
	f := rc.Fleet
	ro := f.Rollout
	rc.logf("Fleet %s (replace): %s %s → %s in %s", f.Name, f.Layer, f.Channel, rc.Report.Target, rc.Region)
	rolls := false
	// The group whose line prunes the rollout's version, or creates the
	// new version from the one groups share.
	pruned, planned := map[versionKey]bool{}, map[versionKey]string{}
	for _, g := range rc.Report.Groups {
		if g.leftover {
			rc.logf("  %s: already on %s (%s version %d, the default), but the rollout from %s stopped before it finished: prune the old versions, retire %s",
				g.Name, g.FromAMI, g.TemplateName, g.FromVersion, g.replaced, g.replaced)
			if pruned[g.toKey()] {
				continue
			}
			pruned[g.toKey()] = true
			if drop := prunable(g.versions, g.ToVersion, max(f.Retire.Keep, 1), nil); len(drop) > 0 {
				rc.call("ec2:DeleteLaunchTemplateVersions LaunchTemplateId=%s Versions=%v (retire.keep %d; a version in use stays)", g.TemplateID, drop, max(f.Retire.Keep, 1))
			}
			continue
		}
		if g.UpToDate {
			rc.logf("  %s: already on %s (%s version %d)", g.Name, g.FromAMI, g.TemplateName, g.FromVersion)
			continue
		}
		rolls = true
		var bs []string
		for _, b := range g.Batches {
			bs = append(bs, fmt.Sprintf("%d%% (%d of %d)", b.Percent, b.Instances, g.Desired))
		}
		if first, ok := planned[g.fromKey()]; ok {
			rc.logf("  %s: %s version %d (%s) → the new version of %s; checkpoints %s", g.Name, g.TemplateName, g.FromVersion, g.FromAMI, first, strings.Join(bs, ", "))
		} else {
			planned[g.fromKey()] = g.Name
			rc.logf("  %s: %s version %d (%s) → new version with ImageId %s; checkpoints %s", g.Name, g.TemplateName, g.FromVersion, g.FromAMI, rc.Report.Target, strings.Join(bs, ", "))
			rc.call("ec2:CreateLaunchTemplateVersion LaunchTemplateId=%s SourceVersion=%d LaunchTemplateData.ImageId=%s", g.TemplateID, g.FromVersion, rc.Report.Target)
		}
		desired := "LaunchTemplate"
		if g.Mixed {
			desired = "MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification"
		}
		rc.call("autoscaling:StartInstanceRefresh AutoScalingGroupName=%s DesiredConfiguration.%s=%s:<new version> CheckpointPercentages=%v CheckpointDelay=%d MinHealthyPercentage=%d SkipMatching=true AutoRollback=true Alarms=%v",
			g.Name, desired, g.TemplateID, ro.Checkpoints, int(ro.CheckpointWait.Seconds()), ro.MinHealthyPercent, ro.AbortOnAlarms)
		rc.call("autoscaling:DescribeInstanceRefreshes AutoScalingGroupName=%s (every %s, backing off to %s)", g.Name, rc.Poll, rc.Poll*maxPollFactor)
	}
	if rolls {
		rc.call("ec2:ModifyLaunchTemplate DefaultVersion=<new version> (after success)")
	}
	if rc.Retirer != nil {
		rc.call("retire the replaced AMI: keep %d, grace %s (after success)", f.Retire.Keep, f.Retire.Grace)
	}
	if !rc.Apply {
		for _, c := range rc.Report.Calls {
			rc.logf("    %s", c)
		}
		rc.Report.Outcome = OutcomePlanned
		if rolls {
			rc.logf("Dry run: nothing changed. Run with --apply to roll out.")
		} else {
			rc.logf("Dry run: nothing changed. Run with --apply to finish the interrupted rollout.")
		}
		return errStop
	}
	return nil
}

// ---- new template versions ----

type newVersions struct{}

func (newVersions) String() string { return "create launch template versions" }

func (newVersions) Run(ctx context.Context, rc *Context) error {
	// Groups on the same version of one template get one new version: its
	// content (the source's with the new image id) would be the same, and
	// a version per group would leave all but the last off the default.
	made := map[versionKey]int64{}
	for _, g := range rc.Report.Groups {
		if g.UpToDate {
			continue
		}
		if v, ok := made[g.fromKey()]; ok {
			g.ToVersion = v
			continue
		}
		out, err := rc.EC2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateId:   aws.String(g.TemplateID),
			SourceVersion:      aws.String(strconv.FormatInt(g.FromVersion, 10)),
			VersionDescription: aws.String(versionDescription(rc.Fleet.Name, g.FromAMI, rc.Report.Target, g.FromVersion)),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(rc.Report.Target)},
		})
		if err != nil {
			return fmt.Errorf("new version of launch template %s for %s: %w", g.TemplateName, g.Name, err)
		}
		g.ToVersion = aws.ToInt64(out.LaunchTemplateVersion.VersionNumber)
		made[g.fromKey()] = g.ToVersion
		crashpoint.Hit("rollout.lt-version-created")
		rc.changed("launch template %s (%s) version %d: ImageId %s (from version %d)", g.TemplateName, g.TemplateID, g.ToVersion, rc.Report.Target, g.FromVersion)
	}
	return nil
}

// ---- start the refreshes ----

type startRefreshes struct{}

func (startRefreshes) String() string { return "start instance refreshes" }

func (startRefreshes) Run(ctx context.Context, rc *Context) error {
	cps := rc.Fleet.Rollout.Checkpoints
	for _, g := range rc.Report.Groups {
		if g.UpToDate {
			continue
		}
		out, err := rc.AutoScaling.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
			AutoScalingGroupName: aws.String(g.Name),
			Strategy:             astypes.RefreshStrategyRolling,
			DesiredConfiguration: g.desired(g.ToVersion),
			Preferences:          rc.refreshPrefs(cps, true),
		})
		if err != nil {
			return fmt.Errorf("start instance refresh of %s: %w", g.Name, err)
		}
		g.RefreshID, g.checkpoints = aws.ToString(out.InstanceRefreshId), cps
		rc.changed("instance refresh %s of %s to version %d", g.RefreshID, g.Name, g.ToVersion)
		crashpoint.Hit("rollout.refresh-started")
		// What an earlier, aborted rollout left on the group is over.
		if err := rc.clearStateTags(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

func toInt32s(in []int) []int32 {
	out := make([]int32, len(in))
	for i, v := range in {
		out[i] = int32(v)
	}
	return out
}

// ---- finish ----

type finish struct{}

func (finish) String() string { return "make the new version the default and retire the replaced AMI" }

func (finish) Run(ctx context.Context, rc *Context) error {
	var replaced, left []string
	changedBefore, retired, rolled := len(rc.Report.Changed), 0, false
	// Which template versions the region's groups and their members use:
	// one sweep for the whole fleet, not one per group (that read every
	// group's members once per group — quadratic in a 100-group fleet).
	var inUse map[string]map[int64]bool
	// Groups share a version (newVersions): its default and prune are done
	// once. Groups on different versions of one template each have their
	// own; the newest becomes the default (rolloutUnfinished knows the
	// other is finished too).
	done := map[versionKey]bool{}
	newest := map[string]int64{}
	for _, g := range rc.Report.Groups {
		if g.ToVersion != 0 && (!g.UpToDate || g.leftover) {
			newest[g.TemplateID] = max(newest[g.TemplateID], g.ToVersion)
		}
	}
	for _, g := range rc.Report.Groups {
		if g.ToVersion == 0 || (g.UpToDate && !g.leftover) {
			continue
		}
		if g.leftover {
			left = append(left, g.Name)
		} else {
			rolled = true
		}
		if inUse == nil {
			var err error
			if inUse, err = rc.versionsInUse(ctx); err != nil {
				return err
			}
		}
		first := !done[g.toKey()]
		done[g.toKey()] = true
		// A re-run or a resume after the default moved: moving it again
		// would change nothing.
		if !g.defaultSet && first && g.ToVersion == newest[g.TemplateID] {
			if _, err := rc.EC2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
				LaunchTemplateId: aws.String(g.TemplateID), DefaultVersion: aws.String(strconv.FormatInt(g.ToVersion, 10))}); err != nil {
				return fmt.Errorf("make version %d the default of %s: %w", g.ToVersion, g.TemplateName, err)
			}
			g.defaultSet = true
			rc.changed("launch template %s default version %d", g.TemplateName, g.ToVersion)
			crashpoint.Hit("rollout.default-version-set")
		}
		if err := rc.clearStateTags(ctx, g); err != nil {
			return err
		}
		if first {
			if inUse[g.TemplateID] == nil {
				inUse[g.TemplateID] = map[int64]bool{}
			}
			// What one group's prune deleted is not the next one's to delete.
			if err := rc.pruneVersions(ctx, g, inUse[g.TemplateID]); err != nil {
				return err
			}
		}
		if from := g.replacedAMI(); from != "" && from != rc.Report.Target && !slices.Contains(replaced, from) {
			replaced = append(replaced, from)
		}
	}
	crashpoint.Hit("rollout.finished")
	rc.Report.Outcome = OutcomeSucceeded
	if rc.Retirer != nil && len(replaced) > 0 {
		keep := max(rc.Fleet.Retire.Keep, 1)
		grace := rc.Fleet.Retire.Grace
		if grace == 0 {
			grace = retire.DefaultGrace
		}
		res, err := rc.Retirer.Run(ctx, retire.Request{Layers: []string{rc.Fleet.Layer}, Keep: keep, Grace: grace, Only: replaced, Apply: true})
		rc.Report.Retire = res
		if err != nil {
			return fmt.Errorf("rollout of %s succeeded, but retiring %v failed: %w", rc.Fleet.Name, replaced, err)
		}
		for _, b := range res.Builds {
			if slices.Contains(replaced, b.AMI) {
				rc.logf("Retire %s: %s (%s)", b.AMI, b.Action, strings.Join(b.Reasons, "; "))
			}
		}
		retired = res.Deprecated + res.Deregistered + res.SnapshotsDeleted
	}
	if len(left) > 0 && !rolled {
		if len(rc.Report.Changed) == changedBefore && retired == 0 {
			// What looked left was kept on purpose (a version or the AMI
			// in use elsewhere): a re-run has nothing to do.
			rc.Report.Outcome = OutcomeNothing
			rc.logf("Nothing to do: every group of fleet %s runs %s and nothing of its rollout is left to prune or retire.", rc.Fleet.Name, rc.Report.Target)
			return nil
		}
		rc.Report.Reason = fmt.Sprintf("finished an interrupted rollout (%s was killed after the default version moved to %s; pruned and retired what it left)",
			strings.Join(left, ", "), rc.Report.Target)
		done := append([]string(nil), rc.Report.Changed[changedBefore:]...)
		if retired > 0 {
			done = append(done, fmt.Sprintf("retired %s", strings.Join(replaced, ", ")))
		}
		rc.logf("Finished the interrupted rollout of %s: %s", rc.Fleet.Name, strings.Join(done, "; "))
	}
	return nil
}

// replacedAMI is the AMI the group's rollout replaced: its FromAMI, or on
// a re-run after the default moved (the group up to date) the one the
// rollout's version names.
func (g *GroupPlan) replacedAMI() string {
	if g.UpToDate {
		return g.replaced
	}
	return g.FromAMI
}

// pruneVersions deletes the group's template versions beyond the newest
// retire.keep, never the default, the new one or one an ASG uses: the
// versions that still name a replaced AMI would otherwise keep it in use
// for ever.
//
// skip holds the versions in use; the ones the prune deletes are added.
func (rc *Context) pruneVersions(ctx context.Context, g *GroupPlan, skip map[int64]bool) error {
	keep := max(rc.Fleet.Retire.Keep, 1)
	// The versions read with the group (readGroups; on a re-run after the
	// default moved, the rollout's own among them). prunable looks only
	// at those older than the rollout's: a version someone else made
	// since is kept.
	versions := append([]int64(nil), g.versions...)
	p := ec2.NewDescribeLaunchTemplateVersionsPaginator(rc.EC2, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(g.TemplateID), MaxResults: aws.Int32(200)})
	for g.versions == nil && p.HasMorePages() { // not read this run (resume): read them now
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("versions of launch template %s: %w", g.TemplateName, err)
		}
		for _, v := range page.LaunchTemplateVersions {
			if !aws.ToBool(v.DefaultVersion) {
				versions = append(versions, aws.ToInt64(v.VersionNumber))
			}
		}
	}
	var drop []string
	for _, v := range prunable(versions, g.ToVersion, keep, skip) {
		drop = append(drop, strconv.FormatInt(v, 10))
	}
	if len(drop) == 0 {
		return nil
	}
	out, err := rc.EC2.DeleteLaunchTemplateVersions(ctx, &ec2.DeleteLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(g.TemplateID), Versions: drop})
	if err != nil {
		return fmt.Errorf("delete old versions %v of launch template %s: %w", drop, g.TemplateName, err)
	}
	var gone []string
	for _, d := range out.SuccessfullyDeletedLaunchTemplateVersions {
		gone = append(gone, strconv.FormatInt(aws.ToInt64(d.VersionNumber), 10))
		skip[aws.ToInt64(d.VersionNumber)] = true
	}
	if len(gone) > 0 {
		rc.changed("launch template %s: deleted versions %s (retire keeps %d)", g.TemplateName, strings.Join(gone, ", "), keep)
	}
	return nil
}

// versionsInUse: by template id, the versions any ASG or instance of the
// region names (one paged sweep of the region's groups).
func (rc *Context) versionsInUse(ctx context.Context) (map[string]map[int64]bool, error) {
	used := map[string]map[int64]bool{}
	mark := func(lt *astypes.LaunchTemplateSpecification) {
		if lt == nil {
			return
		}
		if n, err := strconv.ParseInt(aws.ToString(lt.Version), 10, 64); err == nil {
			id := aws.ToString(lt.LaunchTemplateId)
			if used[id] == nil {
				used[id] = map[int64]bool{}
			}
			used[id][n] = true
		}
	}
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(rc.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe Auto Scaling groups: %w", err)
		}
		for _, g := range page.AutoScalingGroups {
			lt, _ := groupTemplate(g)
			mark(lt)
			for _, i := range g.Instances {
				mark(i.LaunchTemplate)
			}
		}
	}
	return used, nil
}
