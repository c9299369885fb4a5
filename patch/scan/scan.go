// Package scan runs AWS-RunPatchBaseline Operation=Scan through Run Command
// on fleets (targeted by tag or patch group, with the fleet's rate control)
// and on images (one short-lived scan instance launched from the AMI and
// always terminated), then reads Patch Manager's results into a Report.
package scan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/crashpoint"
	"github.com/amibake/amibake/internal/lineage"
)

// Document is the SSM document every scan runs.
const Document = "AWS-RunPatchBaseline"

// PatchGroupTag is the tag Patch Manager reads an instance's patch group from.
const PatchGroupTag = "Patch Group"

// Patch states as DescribeInstancePatches reports them.
const (
	StateMissing       = "MISSING"
	StateFailed        = "FAILED"
	StateNotApplicable = "NOT_APPLICABLE"
)

// Kinds of report.
const (
	KindFleet = "fleet"
	KindImage = "image"
)

// Scanner runs scans with one region's clients.
type Scanner struct {
	SSM     awsapi.SSM
	EC2     awsapi.EC2
	Project string
	Region  string
	// InstanceProfile and SubnetID are given to scan instances (real AWS
	// needs a profile with SSM permissions; empty: none / default VPC).
	InstanceProfile string
	SubnetID        string
	// Poll is the wait between status reads (default 5s); Timeout bounds
	// each wait (instance running, SSM online, command done; default 30m).
	Poll    time.Duration
	Timeout time.Duration
	// Now is the clock ages are measured with.
	Now func() time.Time
	// Progress, when set, hears one line per step.
	Progress func(format string, args ...any)

	mu       sync.Mutex                  // guards releases: one Scanner serves concurrent scans
	releases map[string][]ssmtypes.Patch // package → available patches
}

// Finding is one package with a missing (or failed) patch.
type Finding struct {
	Package string `json:"package"`
	// Version is the fixed version the baseline wants (missing) or the one
	// that failed to install.
	Version        string   `json:"version"`
	KBId           string   `json:"kb_id"`
	State          string   `json:"state"`
	Severity       string   `json:"severity"`
	Classification string   `json:"classification"`
	CVEs           []string `json:"cves,omitempty"`
	// Instances is how many scanned instances miss it.
	Instances int `json:"instances"`
	// Released is the release date of the oldest advisory the package
	// misses (zero when Patch Manager does not say).
	Released time.Time `json:"released,omitzero"`
	// IntroducedBy is the lowest layer whose image has the package
	// (attribution, set by the patch module: Attribute). IntroducedFrom
	// says what that image's package set came from: its stored inventory
	// document (SourceInventory) or its patch scan (SourceScan).
	IntroducedBy   string `json:"introduced_by,omitempty"`
	IntroducedFrom string `json:"introduced_from,omitempty"`
}

// InvocationFailure is an instance the scan did not succeed on.
type InvocationFailure struct {
	InstanceID string `json:"instance_id"`
	Status     string `json:"status"`
	Detail     string `json:"detail,omitempty"`
}

// Report is the result of one fleet or image scan.
type Report struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"` // fleet or layer
	Layer string `json:"layer"`
	// AMI is the image scanned (images) and AMICreated its creation time.
	AMI          string    `json:"ami,omitempty"`
	AMICreated   time.Time `json:"ami_created,omitzero"`
	ScanInstance string    `json:"scan_instance,omitempty"`
	PatchGroup   string    `json:"patch_group,omitempty"`
	BaselineID   string    `json:"baseline_id,omitempty"`
	CommandID    string    `json:"command_id,omitempty"`
	ScannedAt    time.Time `json:"scanned_at"`

	Targets           int     `json:"targets"`
	Scanned           int     `json:"scanned"`
	Compliant         int     `json:"compliant"`
	CompliancePercent float64 `json:"compliance_percent"`

	Missing []Finding `json:"missing"`
	Failed  []Finding `json:"failed"`
	// MissingBySeverity and MissingByClassification count missing packages.
	MissingBySeverity       map[string]int `json:"missing_by_severity"`
	MissingByClassification map[string]int `json:"missing_by_classification"`
	FailedBySeverity        map[string]int `json:"failed_by_severity"`
	// OldestMissing is the release date of the oldest missing advisory and
	// OldestMissingDays its age at ScannedAt.
	OldestMissing     time.Time `json:"oldest_missing,omitzero"`
	OldestMissingDays int       `json:"oldest_missing_days"`

	// Packages is the image's package set (name → version), from every
	// row the scan reports except NOT_APPLICABLE. Images only.
	Packages map[string]string `json:"packages,omitempty"`

	Failures []InvocationFailure `json:"failures,omitempty"`
}

// Fleet says how to reach a fleet's instances.
type Fleet struct {
	Name  string
	Layer string
	// PatchGroup targets instances tagged "Patch Group" = PatchGroup when
	// TargetTags is empty, and reads the results per patch group.
	PatchGroup     string
	TargetTags     map[string]string
	MaxConcurrency string
	MaxErrors      string
}

// Image is an AMI to scan.
type Image struct {
	Layer        string
	AMI          string
	Created      time.Time
	PatchGroup   string
	InstanceType string
}

func (s *Scanner) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return 5 * time.Second
}

func (s *Scanner) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 30 * time.Minute
}

func (s *Scanner) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scanner) progress(format string, args ...any) {
	if s.Progress != nil {
		s.Progress(format, args...)
	}
}

// ScanFleet runs the scan on a fleet's instances and reports its missing
// and failed patches.
func (s *Scanner) ScanFleet(ctx context.Context, f Fleet) (*Report, error) {
	var targets []ssmtypes.Target
	for _, k := range sortedKeys(f.TargetTags) {
		targets = append(targets, ssmtypes.Target{Key: aws.String("tag:" + k), Values: []string{f.TargetTags[k]}})
	}
	if len(targets) == 0 {
		if f.PatchGroup == "" {
			return nil, fmt.Errorf("fleet %s: no targets { tags } and no patch group to reach its instances", f.Name)
		}
		targets = []ssmtypes.Target{{Key: aws.String("tag:" + PatchGroupTag), Values: []string{f.PatchGroup}}}
	}
	in := &ssm.SendCommandInput{DocumentName: aws.String(Document), Targets: targets,
		Parameters: map[string][]string{"Operation": {"Scan"}},
		Comment:    aws.String(truncate("amibake patch scan: fleet "+f.Name, 100))}
	if f.MaxConcurrency != "" {
		in.MaxConcurrency = aws.String(f.MaxConcurrency)
	}
	if f.MaxErrors != "" {
		in.MaxErrors = aws.String(f.MaxErrors)
	}
	rep := &Report{Kind: KindFleet, Name: f.Name, Layer: f.Layer, PatchGroup: f.PatchGroup}
	s.progress("scanning fleet %s", f.Name)
	ok, err := s.runCommand(ctx, in, rep)
	if err != nil {
		return nil, fmt.Errorf("scan fleet %s: %w", f.Name, err)
	}
	states, err := s.patchStates(ctx, f.PatchGroup, ok)
	if err != nil {
		return nil, fmt.Errorf("scan fleet %s: %w", f.Name, err)
	}
	if err := s.collect(ctx, rep, states, false); err != nil {
		return nil, fmt.Errorf("scan fleet %s: %w", f.Name, err)
	}
	return rep, nil
}

// ScanImage launches a scan instance from the image, scans it and always
// terminates it, also when the scan fails or ctx is cancelled.
func (s *Scanner) ScanImage(ctx context.Context, img Image) (rep *Report, err error) {
	typ := img.InstanceType
	if typ == "" {
		typ = "t3.small"
	}
	tags := []ec2types.Tag{
		{Key: aws.String("Name"), Value: aws.String(truncate("amibake-scan-"+img.Layer, 255))},
		{Key: aws.String(lineage.TagProject), Value: aws.String(s.Project)},
		{Key: aws.String(lineage.TagRole), Value: aws.String(lineage.RoleScan)},
		{Key: aws.String(lineage.TagLayer), Value: aws.String(img.Layer)},
	}
	if img.PatchGroup != "" {
		tags = append(tags, ec2types.Tag{Key: aws.String(PatchGroupTag), Value: aws.String(img.PatchGroup)})
	}
	in := &ec2.RunInstancesInput{
		ImageId: aws.String(img.AMI), InstanceType: ec2types.InstanceType(typ), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		MetadataOptions: &ec2types.InstanceMetadataOptionsRequest{HttpTokens: ec2types.HttpTokensStateRequired,
			HttpEndpoint: ec2types.InstanceMetadataEndpointStateEnabled},
		InstanceInitiatedShutdownBehavior: ec2types.ShutdownBehaviorTerminate,
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: tags},
		},
	}
	if s.InstanceProfile != "" {
		in.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Name: aws.String(s.InstanceProfile)}
	}
	if s.SubnetID != "" {
		in.SubnetId = aws.String(s.SubnetID)
	}
	s.progress("launching a scan instance of %s (%s)", img.Layer, img.AMI)
	out, err := s.EC2.RunInstances(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("scan image %s (%s): launch scan instance: %w", img.AMI, img.Layer, err)
	}
	if len(out.Instances) == 0 {
		return nil, fmt.Errorf("scan image %s (%s): RunInstances returned no instance", img.AMI, img.Layer)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	crashpoint.Hit("patch.scan-instance-launched")
	defer func() {
		// A fresh context: the instance goes also when ctx was cancelled.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if _, terr := s.EC2.TerminateInstances(tctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); terr != nil {
			err = errors.Join(err, fmt.Errorf("terminate scan instance %s: %w (terminate it by hand)", id, terr))
		} else {
			s.progress("terminated scan instance %s", id)
		}
	}()

	if err := s.waitRunning(ctx, id); err != nil {
		return nil, fmt.Errorf("scan image %s (%s): %w", img.AMI, img.Layer, err)
	}
	if err := s.waitOnline(ctx, id); err != nil {
		return nil, fmt.Errorf("scan image %s (%s): %w", img.AMI, img.Layer, err)
	}
	rep = &Report{Kind: KindImage, Name: img.Layer, Layer: img.Layer, AMI: img.AMI, AMICreated: img.Created,
		ScanInstance: id, PatchGroup: img.PatchGroup}
	s.progress("scanning %s on %s", img.AMI, id)
	ok, err := s.runCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String(Document), InstanceIds: []string{id},
		Parameters: map[string][]string{"Operation": {"Scan"}},
		Comment:    aws.String(truncate("amibake patch scan: image "+img.AMI+" ("+img.Layer+")", 100))}, rep)
	if err != nil {
		return nil, fmt.Errorf("scan image %s (%s): %w", img.AMI, img.Layer, err)
	}
	if len(ok) == 0 {
		msg := "the scan did not succeed"
		if len(rep.Failures) > 0 {
			msg += ": " + rep.Failures[0].Status
			if rep.Failures[0].Detail != "" {
				msg += " (" + rep.Failures[0].Detail + ")"
			}
		}
		return nil, fmt.Errorf("scan image %s (%s) on %s: %s", img.AMI, img.Layer, id, msg)
	}
	states, err := s.patchStates(ctx, "", ok)
	if err != nil {
		return nil, fmt.Errorf("scan image %s (%s): %w", img.AMI, img.Layer, err)
	}
	if err := s.collect(ctx, rep, states, true); err != nil {
		return nil, fmt.Errorf("scan image %s (%s): %w", img.AMI, img.Layer, err)
	}
	if hook, _ := ctx.Value(instanceHookKey{}).(InstanceHook); hook != nil {
		hook(ctx, img, id, rep)
	}
	return rep, nil
}

// InstanceHook runs on an image scan's instance once it is scanned (rep
// is the scan's report), while it is still running and online in SSM,
// before it is terminated. It reports no error: what it does is not part
// of the scan's verdict (a caller that needs it done records that itself).
type InstanceHook func(ctx context.Context, img Image, instanceID string, rep *Report)

type instanceHookKey struct{}

// WithInstanceHook returns ctx with hook for the image scans run under it.
// It travels in the context because those scans are reached through
// callers that know nothing of it: the automation rebake gathers the new
// AMI's software inventory on the instance its verify step (patch run's,
// which only gets a layer and its AMIs) launches from that AMI.
func WithInstanceHook(ctx context.Context, hook InstanceHook) context.Context {
	return context.WithValue(ctx, instanceHookKey{}, hook)
}

// wait calls check every Poll until it says done, ctx ends or Timeout passes.
func (s *Scanner) wait(ctx context.Context, what string, check func() (bool, error)) error {
	deadline := time.Now().Add(s.timeout())
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", s.timeout(), what)
		}
		t := time.NewTimer(s.poll())
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

func (s *Scanner) waitRunning(ctx context.Context, id string) error {
	return s.wait(ctx, "scan instance "+id+" to run", func() (bool, error) {
		out, err := s.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			var code interface{ ErrorCode() string }
			if errors.As(err, &code) && code.ErrorCode() == "InvalidInstanceID.NotFound" {
				return false, nil // eventual consistency right after launch
			}
			return false, fmt.Errorf("describe scan instance %s: %w", id, err)
		}
		for _, r := range out.Reservations {
			for _, inst := range r.Instances {
				if inst.State == nil {
					continue
				}
				switch inst.State.Name {
				case ec2types.InstanceStateNameRunning:
					return true, nil
				case ec2types.InstanceStateNamePending:
					return false, nil
				default:
					return false, fmt.Errorf("scan instance %s is %s", id, inst.State.Name)
				}
			}
		}
		return false, nil
	})
}

func (s *Scanner) waitOnline(ctx context.Context, id string) error {
	return s.wait(ctx, "scan instance "+id+" to be online in SSM", func() (bool, error) {
		out, err := s.SSM.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
			Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{id}}}})
		if err != nil {
			return false, fmt.Errorf("describe instance information %s: %w", id, err)
		}
		for _, ii := range out.InstanceInformationList {
			if aws.ToString(ii.InstanceId) == id && ii.PingStatus == ssmtypes.PingStatusOnline {
				return true, nil
			}
		}
		return false, nil
	})
}

// runCommand sends the command, waits for it (ListCommands, the aggregate
// status) and then reads every invocation once (ListCommandInvocations,
// paged). It returns the instances the scan succeeded on and records the
// others in rep.Failures.
func (s *Scanner) runCommand(ctx context.Context, in *ssm.SendCommandInput, rep *Report) ([]string, error) {
	out, err := s.SSM.SendCommand(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("send %s Scan: %w", Document, err)
	}
	id := aws.ToString(out.Command.CommandId)
	rep.CommandID = id
	var cmd ssmtypes.Command
	err = s.wait(ctx, "command "+id, func() (bool, error) {
		lc, err := s.SSM.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: aws.String(id)})
		if err != nil {
			return false, fmt.Errorf("list command %s: %w", id, err)
		}
		if len(lc.Commands) == 0 {
			return false, nil // not visible yet
		}
		cmd = lc.Commands[0]
		switch cmd.Status {
		case ssmtypes.CommandStatusPending, ssmtypes.CommandStatusInProgress, ssmtypes.CommandStatusCancelling:
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	rep.Targets = int(cmd.TargetCount)
	var ok []string
	var token *string
	for {
		li, err := s.SSM.ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: aws.String(id), NextToken: token, MaxResults: aws.Int32(50)})
		if err != nil {
			return nil, fmt.Errorf("list invocations of %s: %w", id, err)
		}
		for _, inv := range li.CommandInvocations {
			iid := aws.ToString(inv.InstanceId)
			if inv.Status == ssmtypes.CommandInvocationStatusSuccess {
				ok = append(ok, iid)
				continue
			}
			rep.Failures = append(rep.Failures, InvocationFailure{InstanceID: iid, Status: string(inv.Status),
				Detail: aws.ToString(inv.StatusDetails)})
		}
		if token = li.NextToken; token == nil {
			break
		}
	}
	if rep.Targets == 0 {
		rep.Targets = len(ok) + len(rep.Failures)
	}
	sort.Strings(ok)
	return ok, nil
}

// patchStates reads the patch state of each instance: per patch group when
// there is one (DescribeInstancePatchStatesForPatchGroup), and by instance
// id for the instances the group does not hold.
func (s *Scanner) patchStates(ctx context.Context, group string, ids []string) ([]ssmtypes.InstancePatchState, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var states []ssmtypes.InstancePatchState
	if group != "" && len(ids) > 0 {
		var token *string
		for {
			out, err := s.SSM.DescribeInstancePatchStatesForPatchGroup(ctx, &ssm.DescribeInstancePatchStatesForPatchGroupInput{
				PatchGroup: aws.String(group), NextToken: token, MaxResults: aws.Int32(100)})
			if err != nil {
				return nil, fmt.Errorf("describe patch states of group %q: %w", group, err)
			}
			for _, st := range out.InstancePatchStates {
				if want[aws.ToString(st.InstanceId)] {
					states = append(states, st)
					delete(want, aws.ToString(st.InstanceId))
				}
			}
			if token = out.NextToken; token == nil {
				break
			}
		}
	}
	rest := sortedKeys(want)
	for len(rest) > 0 {
		n := min(50, len(rest))
		batch := rest[:n]
		rest = rest[n:]
		var token *string
		for {
			out, err := s.SSM.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: batch, NextToken: token})
			if err != nil {
				return nil, fmt.Errorf("describe instance patch states: %w", err)
			}
			states = append(states, out.InstancePatchStates...)
			if token = out.NextToken; token == nil {
				break
			}
		}
	}
	sort.Slice(states, func(i, j int) bool { return aws.ToString(states[i].InstanceId) < aws.ToString(states[j].InstanceId) })
	return states, nil
}

// collect reads each instance's missing and failed patches (every row for
// an image, to learn its package set) and fills rep.
func (s *Scanner) collect(ctx context.Context, rep *Report, states []ssmtypes.InstancePatchState, all bool) error {
	rep.ScannedAt = s.now().UTC()
	rep.MissingBySeverity, rep.MissingByClassification, rep.FailedBySeverity = map[string]int{}, map[string]int{}, map[string]int{}
	rep.Missing, rep.Failed = []Finding{}, []Finding{}
	if all {
		rep.Packages = map[string]string{}
	}
	missing, failed := map[string]*Finding{}, map[string]*Finding{}
	for _, st := range states {
		rep.Scanned++
		if rep.BaselineID == "" {
			rep.BaselineID = aws.ToString(st.BaselineId)
		}
		if st.MissingCount == 0 && st.FailedCount == 0 {
			rep.Compliant++
		}
		id := aws.ToString(st.InstanceId)
		in := &ssm.DescribeInstancePatchesInput{InstanceId: aws.String(id), MaxResults: aws.Int32(100)}
		if !all {
			in.Filters = []ssmtypes.PatchOrchestratorFilter{{Key: aws.String("State"), Values: []string{"Missing", "Failed"}}}
		}
		for {
			out, err := s.SSM.DescribeInstancePatches(ctx, in)
			if err != nil {
				return fmt.Errorf("describe patches of %s: %w", id, err)
			}
			for _, p := range out.Patches {
				name, version := parseRow(p)
				state := string(p.State)
				if all && p.State != ssmtypes.PatchComplianceDataStateNotApplicable && p.State != ssmtypes.PatchComplianceDataStateMissing {
					rep.Packages[name] = version
				}
				var into map[string]*Finding
				switch p.State {
				case ssmtypes.PatchComplianceDataStateMissing:
					into = missing
					if all {
						rep.Packages[name] = "" // installed, version unknown from a missing row
					}
				case ssmtypes.PatchComplianceDataStateFailed:
					into = failed
				default:
					continue
				}
				f := into[name]
				if f == nil {
					f = &Finding{Package: name, Version: version, KBId: aws.ToString(p.KBId), State: state,
						Severity: aws.ToString(p.Severity), Classification: aws.ToString(p.Classification), CVEs: splitCVEs(aws.ToString(p.CVEIds))}
					into[name] = f
				}
				f.Instances++
			}
			if in.NextToken = out.NextToken; in.NextToken == nil {
				break
			}
		}
	}
	if rep.Scanned > 0 {
		rep.CompliancePercent = float64(rep.Compliant) * 100 / float64(rep.Scanned)
	}
	for _, name := range sortedKeys(missing) {
		f := missing[name]
		rel, err := s.released(ctx, *f)
		if err != nil {
			return err
		}
		f.Released = rel
		if !rel.IsZero() && (rep.OldestMissing.IsZero() || rel.Before(rep.OldestMissing)) {
			rep.OldestMissing = rel
		}
		rep.MissingBySeverity[f.Severity]++
		rep.MissingByClassification[f.Classification]++
		rep.Missing = append(rep.Missing, *f)
	}
	for _, name := range sortedKeys(failed) {
		rep.FailedBySeverity[failed[name].Severity]++
		rep.Failed = append(rep.Failed, *failed[name])
	}
	if !rep.OldestMissing.IsZero() {
		rep.OldestMissingDays = int(rep.ScannedAt.Sub(rep.OldestMissing) / (24 * time.Hour))
	}
	return nil
}

// released is the release date of the oldest advisory behind a missing
// row: the package's available patches (DescribeAvailablePatches NAME,
// cached per package) that fix one of the row's CVEs, or, for a row
// without CVEs, the one that ships the wanted version.
func (s *Scanner) released(ctx context.Context, f Finding) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.releases == nil {
		s.releases = map[string][]ssmtypes.Patch{}
	}
	ps, ok := s.releases[f.Package]
	if !ok {
		in := &ssm.DescribeAvailablePatchesInput{Filters: []ssmtypes.PatchOrchestratorFilter{
			{Key: aws.String("NAME"), Values: []string{f.Package}}}, MaxResults: aws.Int32(100)}
		for {
			out, err := s.SSM.DescribeAvailablePatches(ctx, in)
			if err != nil {
				return time.Time{}, fmt.Errorf("describe available patches of %s: %w", f.Package, err)
			}
			ps = append(ps, out.Patches...)
			if in.NextToken = out.NextToken; in.NextToken == nil {
				break
			}
		}
		s.releases[f.Package] = ps
	}
	cves := map[string]bool{}
	for _, c := range f.CVEs {
		cves[c] = true
	}
	var oldest time.Time
	for _, p := range ps {
		match := false
		if len(cves) > 0 {
			for _, c := range p.CVEIds {
				match = match || cves[c]
			}
		} else {
			match = aws.ToString(p.Version)+"-"+aws.ToString(p.Release) == f.Version
		}
		if rel := aws.ToTime(p.ReleaseDate); match && !rel.IsZero() && (oldest.IsZero() || rel.Before(oldest)) {
			oldest = rel
		}
	}
	return oldest.UTC(), nil
}

// parseRow splits Patch Manager's Amazon Linux row: KBId "name.arch",
// Title "name.arch:epoch:version-release".
func parseRow(p ssmtypes.PatchComplianceData) (name, version string) {
	kb := aws.ToString(p.KBId)
	name = kb
	if i := strings.LastIndex(kb, "."); i > 0 {
		name = kb[:i]
	}
	title := aws.ToString(p.Title)
	if i := strings.LastIndex(title, ":"); i >= 0 {
		version = title[i+1:]
	}
	return name, version
}

func splitCVEs(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
