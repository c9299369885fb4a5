package bake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
)

// Engines of patch run --engine.
const (
	EnginePacker     = "packer"
	EngineAutomation = "automation"
)

// Automation is the --engine automation Engine: it rebakes a patch-drifted
// layer without packer, through the project's own SSM Automation runbook
// in the style of AWS-UpdateLinuxAmi (launch from the layer's current AMI,
// AWS-RunPatchBaseline Install with the layer's patch group, stop, create
// the image, tag it, terminate). The content is unchanged — same
// fingerprint — so only patch-drift layers can be baked this way; the new
// AMI is tagged, verified and published exactly as a packer build's.
type Automation struct {
	// SSM returns a region's Automation client.
	SSM func(region string) awsapi.SSMAutomation
	// Poll is how often the execution is read (default 5s); Timeout bounds
	// one execution (default 2h).
	Poll    time.Duration
	Timeout time.Duration

	mu   sync.Mutex
	docs map[string]string // region → the runbook version to run
}

var _ Engine = (*Automation)(nil)

// NotPatchDriftError is the failure of a layer the automation engine
// cannot build: its content changed (or it is new), which needs packer.
type NotPatchDriftError struct {
	Layer  string
	Reason plan.Reason
}

func (e *NotPatchDriftError) Error() string {
	return fmt.Sprintf("the automation engine only rebakes patch-drift layers (same fingerprint, new patch level); %s is %s: "+
		"bake it with packer (patch run without --engine automation, or amibake bake)", e.Layer, e.Reason)
}

var docNameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.\-]`)

// RunbookName is the project's runbook: amibake-<project>-patch-rebake.
func RunbookName(project string) string {
	return "amibake-" + docNameUnsafe.ReplaceAllString(project, "-") + "-patch-rebake"
}

// Runbook is the Automation document (JSON, schema 0.3) amibake keeps as
// RunbookName. It is the same bytes for every project (the project comes
// in as a parameter), so its hash says whether the stored one is current.
func Runbook() []byte {
	str := func(desc string, def ...string) map[string]any {
		p := map[string]any{"type": "String", "description": desc}
		if len(def) > 0 {
			p["default"] = def[0]
		}
		return p
	}
	ids := "{{ launchInstance.InstanceIds }}"
	tag := func(k, v string) map[string]string { return map[string]string{"Key": k, "Value": v} }
	doc := map[string]any{
		"schemaVersion": "0.3",
		"description":   "amibake patch rebake: launch from a layer's AMI, install its patch baseline, image it. Managed by amibake; edits are replaced.",
		"assumeRole":    "{{ AutomationAssumeRole }}",
		"parameters": map[string]any{
			"SourceAmiId":            str("the layer's current (patch-drifted) AMI"),
			"TargetAmiName":          str("name of the new AMI"),
			"InstanceType":           str("build instance type", "t3.small"),
			"IamInstanceProfileName": str("instance profile of the build instance (SSM managed)", ""),
			"SubnetId":               str("subnet of the build instance (empty: default VPC)", ""),
			"PatchGroup":             str("Patch Manager patch group: selects the layer's baseline", ""),
			"Project":                str("amibake project"),
			"Layer":                  str("amibake layer"),
			"BuildId":                str("amibake build id"),
			"Fingerprint":            str("the layer's content fingerprint (unchanged by a patch rebake)"),
			"PatchLevel":             str("amibake:patch-level of the new AMI", ""),
			"AutomationAssumeRole":   str("role the automation assumes (empty: the caller's permissions)", ""),
		},
		"mainSteps": []map[string]any{
			{"name": "launchInstance", "action": "aws:runInstances", "onFailure": "Abort", "maxAttempts": 1, "timeoutSeconds": 1800,
				"inputs": map[string]any{
					"ImageId": "{{ SourceAmiId }}", "InstanceType": "{{ InstanceType }}", "MinInstanceCount": 1, "MaxInstanceCount": 1,
					"IamInstanceProfileName": "{{ IamInstanceProfileName }}", "SubnetId": "{{ SubnetId }}",
					"TagSpecifications": []map[string]any{{"ResourceType": "instance", "Tags": []map[string]string{
						tag(lineage.TagProject, "{{ Project }}"), tag(lineage.TagLayer, "{{ Layer }}"),
						tag(lineage.TagBuildID, "{{ BuildId }}"), tag(lineage.TagRole, lineage.RoleBuild),
						tag("Name", "amibake build {{ Project }}/{{ Layer }}"), tag(PatchGroupTag, "{{ PatchGroup }}"),
					}}},
				}},
			{"name": "installPatches", "action": "aws:runCommand", "onFailure": "Abort", "maxAttempts": 1, "timeoutSeconds": 7200,
				"inputs": map[string]any{
					"DocumentName": "AWS-RunPatchBaseline", "InstanceIds": ids,
					"Parameters": map[string]any{"Operation": "Install", "RebootOption": "NoReboot"},
				}},
			{"name": "stopInstance", "action": "aws:changeInstanceState", "onFailure": "Abort", "maxAttempts": 1,
				"inputs": map[string]any{"InstanceIds": ids, "DesiredState": "stopped"}},
			{"name": "createImage", "action": "aws:createImage", "onFailure": "Abort", "maxAttempts": 1,
				"inputs": map[string]any{"InstanceId": ids, "ImageName": "{{ TargetAmiName }}", "NoReboot": true,
					"ImageDescription": "amibake {{ Project }}/{{ Layer }} patch rebake of {{ SourceAmiId }}"}},
			{"name": "tagImage", "action": "aws:createTags", "onFailure": "Abort", "maxAttempts": 1,
				"inputs": map[string]any{"ResourceType": "EC2", "ResourceIds": []string{"{{ createImage.ImageId }}"}, "Tags": []map[string]string{
					tag(lineage.TagProject, "{{ Project }}"), tag(lineage.TagLayer, "{{ Layer }}"),
					tag(lineage.TagFingerprint, "{{ Fingerprint }}"), tag(lineage.TagBuildID, "{{ BuildId }}"),
					tag(lineage.TagPatchLevel, "{{ PatchLevel }}"),
				}}},
			{"name": "terminateInstance", "action": "aws:changeInstanceState", "onFailure": "Abort", "maxAttempts": 1, "isEnd": true,
				"inputs": map[string]any{"InstanceIds": ids, "DesiredState": "terminated"}},
		},
		"outputs": []string{"createImage.ImageId"},
	}
	out, _ := json.MarshalIndent(doc, "", "  ") // maps marshal with sorted keys: stable bytes
	return out
}

func (a *Automation) poll() time.Duration {
	if a.Poll > 0 {
		return a.Poll
	}
	return 5 * time.Second
}

func (a *Automation) timeout() time.Duration {
	if a.Timeout > 0 {
		return a.Timeout
	}
	return 2 * time.Hour
}

// EnsureRunbook creates or updates the project's runbook in region so that
// its default version is Runbook(), and returns that version. Nothing is
// written when the stored default already has the same hash.
func (a *Automation) EnsureRunbook(ctx context.Context, region, project string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if v := a.docs[region]; v != "" {
		return v, nil
	}
	name := RunbookName(project)
	content := string(Runbook())
	sum := sha256.Sum256([]byte(content))
	hash := hex.EncodeToString(sum[:])
	client := a.SSM(region)

	var version string
	desc, err := client.DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String(name)})
	var nf *ssmtypes.InvalidDocument
	switch {
	case errors.As(err, &nf):
		out, err := client.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String(name), Content: aws.String(content),
			DocumentType: ssmtypes.DocumentTypeAutomation, DocumentFormat: ssmtypes.DocumentFormatJson,
			Tags: []ssmtypes.Tag{{Key: aws.String(lineage.TagProject), Value: aws.String(project)}}})
		if err != nil {
			return "", fmt.Errorf("create runbook %s: %w", name, err)
		}
		version = aws.ToString(out.DocumentDescription.DocumentVersion)
	case err != nil:
		return "", fmt.Errorf("describe runbook %s: %w", name, err)
	case aws.ToString(desc.Document.Hash) == hash:
		version = aws.ToString(desc.Document.DocumentVersion)
	default:
		out, err := client.UpdateDocument(ctx, &ssm.UpdateDocumentInput{Name: aws.String(name), Content: aws.String(content),
			DocumentVersion: aws.String("$LATEST"), DocumentFormat: ssmtypes.DocumentFormatJson})
		var dup *ssmtypes.DuplicateDocumentContent
		switch {
		case errors.As(err, &dup):
			// The latest version is ours already; only the default lags.
			version = aws.ToString(desc.Document.LatestVersion)
		case err != nil:
			return "", fmt.Errorf("update runbook %s: %w", name, err)
		default:
			version = aws.ToString(out.DocumentDescription.DocumentVersion)
		}
		if _, err := client.UpdateDocumentDefaultVersion(ctx, &ssm.UpdateDocumentDefaultVersionInput{Name: aws.String(name),
			DocumentVersion: aws.String(version)}); err != nil {
			return "", fmt.Errorf("make version %s of runbook %s the default: %w", version, name, err)
		}
	}
	if version == "" {
		return "", fmt.Errorf("runbook %s: no document version in the response", name)
	}
	if a.docs == nil {
		a.docs = map[string]string{}
	}
	a.docs[region] = version
	return version, nil
}

// Build rebakes one patch-drift layer: adopt an AMI an earlier, interrupted
// run made for the same fingerprint and patch level, or run the runbook;
// then tag, wait and verify it in the build region, copy it to the
// layer's other regions, and publish as a packer build does — the channel
// moves only once every copy is available.
func (a *Automation) Build(ctx context.Context, b *Baker, n *graph.Node, pl *plan.Layer) *Result {
	start := time.Now()
	r := &Result{Layer: pl.Layer, Action: pl.Action, Reason: pl.Reason, Detail: pl.Detail, BuildID: b.RunID + "-" + pl.Layer, AMI: map[string]string{}}
	fail := func(err error) *Result {
		r.Status, r.Err, r.Duration = StatusFailed, fmt.Errorf("bake %s: %w", pl.Layer, err), time.Since(start)
		return r
	}
	if pl.Reason != plan.ReasonPatchDrift {
		return fail(&NotPatchDriftError{Layer: pl.Layer, Reason: pl.Reason})
	}
	regions := plan.Regions(b.Config, n.Layer)
	region := regions[0]
	if pl.PreviousAMI == "" {
		return fail(errors.New("no current AMI to patch (the layer's latest channel is empty)"))
	}
	fp := b.Fingerprints[pl.Layer]
	if fp == nil {
		return fail(errors.New("no fingerprint"))
	}
	if b.PatchLevel != nil {
		level, err := b.PatchLevel(ctx, pl.Layer)
		if err != nil {
			return fail(fmt.Errorf("patch level: %w", err))
		}
		r.PatchLevel = level
	}
	ec2c := b.Clients.EC2(region)
	src, err := describeImage(ctx, ec2c, pl.PreviousAMI)
	if err != nil {
		return fail(err)
	}
	if got := imageTag(src, lineage.TagFingerprint); got != fp.Hash {
		return fail(fmt.Errorf("the current AMI %s has fingerprint %q, not the layer's %s: its content changed, which needs packer", pl.PreviousAMI, got, fp.Short))
	}

	// The build id and image name follow from (layer, fingerprint, patch
	// level), so a re-run of the same rebake finds the image a dead run's
	// execution made even before its tagImage step tagged it.
	name := ""
	if r.PatchLevel != "" {
		r.BuildID = RebakeBuildID(pl.Layer, fp.Hash, r.PatchLevel)
		name = RebakeImageName(b.Config.Project.Name, r.BuildID)
	}
	ami, err := a.adoptByName(ctx, ec2c, name, pl.PreviousAMI)
	var taken *nameTakenError
	switch {
	case errors.As(err, &taken):
		// An earlier attempt's image failed or was revoked: this attempt
		// is a build of its own, named after this run.
		b.message(pl.Layer, "%v: building under this run's id", err)
		r.BuildID, name = b.RunID+"-"+pl.Layer, ""
	case err != nil:
		return fail(err)
	}
	data, _, diags := NewTemplateData(RenderInput{Config: b.Config, Layer: n.Layer, Fingerprint: fp, BuildID: r.BuildID,
		Timestamp: b.now(), AmibakeVersion: b.AmibakeVersion, Sandbox: b.Sandbox, PatchLevel: r.PatchLevel, NoChannels: true})
	if diags.HasErrors() {
		return fail(fmt.Errorf("render: %w", diags))
	}
	if name == "" {
		name = data.AMIName
	}
	if ami == "" {
		ami, err = a.adoptable(ctx, ec2c, b.Config.Project.Name, pl.Layer, fp.Hash, r.PatchLevel, pl.PreviousAMI)
		if err != nil {
			return fail(err)
		}
	}
	if ami != "" {
		b.message(pl.Layer, "adopting %s: an earlier run made it for this fingerprint and patch level", ami)
	} else {
		ami, err = a.run(ctx, b, pl.Layer, region, r.BuildID, name, pl.PreviousAMI, data, r.PatchLevel, fp.Hash)
		// Whatever happened, no build instance of this build outlives it.
		if cerr := terminateBuildInstances(context.WithoutCancel(ctx), ec2c, b.Config.Project.Name, r.BuildID); cerr != nil {
			b.message(pl.Layer, "warning: %v (the next run's recovery terminates it)", cerr)
		}
		if err != nil {
			return fail(err)
		}
	}

	// The full tag set of a packer build: defaults, the layer's, lineage;
	// the parent (or source) is the one the patched AMI descends from. An
	// adopted image keeps the build id it was made under.
	img, err := describeImage(ctx, ec2c, ami)
	if err != nil {
		return fail(err)
	}
	if id := imageTag(img, lineage.TagBuildID); id != "" {
		r.BuildID = id
	}
	tags := map[string]string{}
	for k, v := range data.Tags {
		if v == "{{ .SourceAMI }}" {
			v = imageTag(src, k)
			if v == "" {
				continue
			}
		}
		tags[k] = v
	}
	tags[lineage.TagBuildID] = r.BuildID
	tags["Name"] = aws.ToString(img.Name)
	if err := tagImage(ctx, ec2c, img, tags); err != nil {
		return fail(err)
	}
	r.AMI[region] = ami
	if err := b.waitAvailable(ctx, r.AMI); err != nil {
		return fail(err)
	}
	var deprecateAt time.Time
	if data.DeprecateAt != "" {
		deprecateAt, _ = time.Parse(time.RFC3339, data.DeprecateAt)
	}
	if err := b.finishImages(ctx, pl.Layer, r.AMI, deprecateAt); err != nil {
		return fail(err)
	}
	// The inventory is read on the verify step's scan instance
	// (automation_inventory.go says why).
	vctx, gathered := b.gatherOnScan(ctx, pl.Layer, region, ami, r.BuildID, a)
	if b.Verify != nil {
		b.message(pl.Layer, "verifying %s before publishing it", ami)
		if err := b.Verify(vctx, pl.Layer, r.AMI); err != nil {
			if terr := b.markUnverified(ctx, r.AMI, err); terr != nil {
				err = errors.Join(err, terr)
			}
			return fail(fmt.Errorf("not published: %w", err))
		}
		r.Verified = true
	}
	if gathered != nil {
		if err := gathered.result(); err != nil {
			return fail(fmt.Errorf("not published: %w", err))
		}
	}
	// Verified first: a patched image that fails is never copied.
	copies, err := b.copyAndFinish(ctx, pl.Layer, region, ami, regions[1:])
	for k, v := range copies {
		r.AMI[k] = v
	}
	if err != nil {
		return fail(fmt.Errorf("not published: %w", err))
	}
	// The document (and each copy's) before the channel moves.
	url, err := b.recordInventory(ctx, pl.Layer, region, r.AMI, false)
	if err != nil {
		return fail(fmt.Errorf("not published: %w", err))
	}
	r.Inventory = url
	moved, err := b.publish(ctx, pl.Layer, region, ami)
	if err != nil {
		return fail(err)
	}
	if moved {
		b.message(pl.Layer, "latest → %s", ami)
	}
	r.Published = true
	r.Status, r.Duration = StatusBuilt, time.Since(start)
	return r
}

// RebakeBuildID is the build id of the automation engine's rebake of a
// layer to a patch level: the same for every attempt at the same
// (layer, fingerprint, patch level), so that the attempts share one
// image name.
func RebakeBuildID(layer, fingerprint, level string) string {
	s := sha256.Sum256([]byte("amibake-patch-rebake\x00" + layer + "\x00" + fingerprint + "\x00" + level))
	return "rebake-" + hex.EncodeToString(s[:6]) + "-" + layer
}

// RebakeImageName is the AMI name of a rebake: the project and the build
// id, cut to EC2's 128 characters (the digest comes first, so the cut
// keeps names distinct).
func RebakeImageName(project, buildID string) string {
	name := amiNameUnsafe.ReplaceAllString(project+"-"+buildID, "-")
	if len(name) > 128 {
		name = name[:128]
	}
	return name
}

var amiNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9()\[\] ./\-'@_]`)

// nameTakenError: the rebake's image name belongs to an image that can
// no longer be adopted (revoked after a failed verify).
type nameTakenError struct{ name, id, why string }

func (e *nameTakenError) Error() string {
	return fmt.Sprintf("the image name %s is taken by %s (%s)", e.name, e.id, e.why)
}

// adoptByName finds the image of an earlier attempt at this rebake by its
// name, tagged or not (a run that died between the runbook's createImage
// and tagImage steps left it untagged). A failed one is deregistered with
// its snapshots (it holds the name); a revoked one is a *nameTakenError.
func (a *Automation) adoptByName(ctx context.Context, client awsapi.EC2, name, current string) (string, error) {
	if name == "" {
		return "", nil
	}
	out, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, IncludeDeprecated: aws.Bool(true),
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{name}}}})
	if err != nil {
		return "", fmt.Errorf("look for the image %s of an earlier run: %w", name, err)
	}
	for _, img := range out.Images {
		id := aws.ToString(img.ImageId)
		switch {
		case id == current || img.State == ec2types.ImageStateDeregistered:
		case hasTag(&img, lineage.TagRevoked):
			return "", &nameTakenError{name: name, id: id, why: "revoked: " + imageTag(&img, lineage.TagRevoked)}
		case img.State == ec2types.ImageStateAvailable || img.State == ec2types.ImageStatePending:
			return id, nil
		case img.State == ec2types.ImageStateFailed:
			if _, err := client.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: img.ImageId,
				DeleteAssociatedSnapshots: aws.Bool(true)}); err != nil {
				return "", fmt.Errorf("deregister the failed image %s of an earlier run: %w", id, err)
			}
		default:
			return "", &nameTakenError{name: name, id: id, why: string(img.State)}
		}
	}
	return "", nil
}

// run starts the runbook for one layer, follows it and returns the AMI it
// made. On failure, timeout or interrupt it stops the execution.
func (a *Automation) run(ctx context.Context, b *Baker, layer, region, buildID, name, source string, data *TemplateData, level, fingerprint string) (string, error) {
	version, err := a.EnsureRunbook(ctx, region, b.Config.Project.Name)
	if err != nil {
		return "", err
	}
	doc := RunbookName(b.Config.Project.Name)
	params := map[string][]string{
		"SourceAmiId": {source}, "TargetAmiName": {name}, "InstanceType": {data.InstanceType},
		"Project": {data.Project}, "Layer": {layer}, "BuildId": {buildID}, "Fingerprint": {fingerprint},
	}
	for k, v := range map[string]string{"IamInstanceProfileName": data.IAMInstanceProfile, "SubnetId": data.SubnetID, "PatchLevel": level} {
		if v != "" {
			params[k] = []string{v}
		}
	}
	if data.Patch != nil && data.Patch.PatchGroup != "" {
		params["PatchGroup"] = []string{data.Patch.PatchGroup}
	}
	client := a.SSM(region)
	out, err := client.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{
		DocumentName: aws.String(doc), DocumentVersion: aws.String(version), Parameters: params,
		ClientToken: aws.String(tokenFor(b.RunID, buildID)),
		Tags: []ssmtypes.Tag{{Key: aws.String(lineage.TagProject), Value: aws.String(data.Project)},
			{Key: aws.String(lineage.TagLayer), Value: aws.String(layer)}, {Key: aws.String(lineage.TagBuildID), Value: aws.String(buildID)}},
	})
	if err != nil {
		return "", fmt.Errorf("start runbook %s v%s: %w", doc, version, err)
	}
	id := aws.ToString(out.AutomationExecutionId)
	b.message(layer, "automation %s: runbook %s v%s from %s", id, doc, version, source)
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = client.StopAutomationExecution(sctx, &ssm.StopAutomationExecutionInput{AutomationExecutionId: aws.String(id),
			Type: ssmtypes.StopTypeCancel})
	}
	deadline := time.Now().Add(a.timeout())
	seen := map[string]ssmtypes.AutomationExecutionStatus{} // step → last status reported
	for {
		g, err := client.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
		if err != nil {
			if ctx.Err() != nil {
				stop()
				return "", context.Cause(ctx)
			}
			stop()
			return "", fmt.Errorf("automation %s: %w", id, err)
		}
		ex := g.AutomationExecution
		for _, s := range ex.StepExecutions {
			name, status := aws.ToString(s.StepName), s.StepStatus
			if status == ssmtypes.AutomationExecutionStatusPending || seen[name] == status {
				continue
			}
			seen[name] = status
			b.message(layer, "automation %s: %s (%s) %s", id, name, aws.ToString(s.Action), strings.ToLower(string(status)))
		}
		switch ex.AutomationExecutionStatus {
		case ssmtypes.AutomationExecutionStatusSuccess:
			if ids := ex.Outputs["createImage.ImageId"]; len(ids) == 1 && ids[0] != "" {
				return ids[0], nil
			}
			return "", fmt.Errorf("automation %s succeeded without an image id (outputs %v)", id, ex.Outputs)
		case ssmtypes.AutomationExecutionStatusFailed, ssmtypes.AutomationExecutionStatusTimedout,
			ssmtypes.AutomationExecutionStatusCancelled, ssmtypes.AutomationExecutionStatusCompletedWithFailure,
			ssmtypes.AutomationExecutionStatusRejected, ssmtypes.AutomationExecutionStatusExited:
			return "", fmt.Errorf("automation %s %s: %s", id, ex.AutomationExecutionStatus, failedStep(ctx, client, id, ex))
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("automation %s not done after %s (stopped)", id, a.timeout())
		}
		select {
		case <-ctx.Done():
			stop()
			return "", context.Cause(ctx)
		case <-time.After(a.poll()):
		}
	}
}

// failedStep names the step that failed and why.
func failedStep(ctx context.Context, client awsapi.SSMAutomation, id string, ex *ssmtypes.AutomationExecution) string {
	msg := aws.ToString(ex.FailureMessage)
	out, err := client.DescribeAutomationStepExecutions(ctx, &ssm.DescribeAutomationStepExecutionsInput{AutomationExecutionId: aws.String(id),
		Filters: []ssmtypes.StepExecutionFilter{{Key: ssmtypes.StepExecutionFilterKeyStepExecutionStatus, Values: []string{"Failed", "TimedOut"}}}})
	if err == nil && len(out.StepExecutions) > 0 {
		s := out.StepExecutions[0]
		return fmt.Sprintf("step %s (%s) failed: %s", aws.ToString(s.StepName), aws.ToString(s.Action), aws.ToString(s.FailureMessage))
	}
	if msg == "" {
		msg = "no failure message"
	}
	return msg
}

// tokenFor makes StartAutomationExecution's ClientToken (a UUID) from the
// run and build id, so a retried start within one run is the same
// execution, while a later run's attempt at the same rebake (whose build
// id is the same) starts a new one.
func tokenFor(runID, buildID string) string {
	s := sha256.Sum256([]byte("amibake-automation:" + runID + "/" + buildID))
	h := hex.EncodeToString(s[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func describeImage(ctx context.Context, client awsapi.EC2, id string) (*ec2types.Image, error) {
	out, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}, IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("describe AMI %s: %w", id, err)
	}
	for i := range out.Images {
		if aws.ToString(out.Images[i].ImageId) == id {
			return &out.Images[i], nil
		}
	}
	return nil, fmt.Errorf("AMI %s not found", id)
}

// adoptable finds an AMI an earlier run's runbook made for this layer,
// fingerprint and patch level (its tagImage step tags them) that was not
// revoked and is not the current one.
func (a *Automation) adoptable(ctx context.Context, client awsapi.EC2, project, layer, fingerprint, level, current string) (string, error) {
	if level == "" {
		return "", nil
	}
	out, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + lineage.TagProject), Values: []string{project}},
		{Name: aws.String("tag:" + lineage.TagLayer), Values: []string{layer}},
		{Name: aws.String("tag:" + lineage.TagFingerprint), Values: []string{fingerprint}},
		{Name: aws.String("tag:" + lineage.TagPatchLevel), Values: []string{level}},
		{Name: aws.String("state"), Values: []string{"pending", "available"}},
	}})
	if err != nil {
		return "", fmt.Errorf("look for an AMI of an earlier run: %w", err)
	}
	var ids []string
	for _, img := range out.Images {
		if id := aws.ToString(img.ImageId); id != current && !hasTag(&img, lineage.TagRevoked) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return "", nil
	}
	return ids[len(ids)-1], nil
}

// tagImage tags an AMI and its snapshots.
func tagImage(ctx context.Context, client awsapi.EC2, img *ec2types.Image, tags map[string]string) error {
	ami := aws.ToString(img.ImageId)
	resources := []string{ami}
	for _, bd := range img.BlockDeviceMappings {
		if bd.Ebs != nil && aws.ToString(bd.Ebs.SnapshotId) != "" {
			resources = append(resources, aws.ToString(bd.Ebs.SnapshotId))
		}
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var list []ec2types.Tag
	for _, k := range keys {
		list = append(list, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if _, err := client.CreateTags(ctx, &ec2.CreateTagsInput{Resources: resources, Tags: list}); err != nil {
		return fmt.Errorf("tag %s: %w", ami, err)
	}
	return nil
}

// terminateBuildInstances terminates what is left of one build's instances.
func terminateBuildInstances(ctx context.Context, client awsapi.EC2, project, buildID string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + lineage.TagProject), Values: []string{project}},
		{Name: aws.String("tag:" + lineage.TagBuildID), Values: []string{buildID}},
		{Name: aws.String("tag:" + lineage.TagRole), Values: []string{lineage.RoleBuild}},
		{Name: aws.String("instance-state-name"), Values: orphanStates},
	}})
	if err != nil {
		return fmt.Errorf("find build instances of %s: %w", buildID, err)
	}
	var ids []string
	for _, res := range out.Reservations {
		for _, inst := range res.Instances {
			ids = append(ids, aws.ToString(inst.InstanceId))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		return fmt.Errorf("terminate build instances %v: %w", ids, err)
	}
	return nil
}
