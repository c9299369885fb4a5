package main

// FAKEPACKER_AWS=1: the build is simulated through EC2 and SSM at the
// template's aws_endpoint (the sandbox), in the order of the amazon-ebs
// builder and the amibake-lineage post-processor, so that a killed or
// interrupted run leaves what packer would leave: a tagged build instance,
// an AMI without tags, a copy in flight, a channel not yet moved.
//
// Its steps are crash points (internal/crashpoint) named
// packer.<layer>.{instance-launched,image-created,copy-started,tagged,
// channel-moved}; a crash there kills amibake too (main sets
// crashpoint.BeforeKill): the machine running both is lost.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/amibake/amibake/internal/crashpoint"
)

// awsTemplate is what the sandbox build needs from a rendered template.
type awsTemplate struct {
	region, instanceType, amiName, description string
	copyRegions, users                         []string
	deprecateAt, kmsKey                        string
	encrypted                                  bool
	tags, runTags                              map[string]string
	sourceParam, parentChannel                 string // one of them, or a filter
	sourceFilterName                           string
	channels                                   []string // the post-processor's
	// patchOp and patchReboot: the amibake provisioner's patch step
	// (AWS-RunPatchBaseline), the only step the simulation runs, so that
	// patch rebakes and their verification mean something.
	patchOp, patchReboot string
}

func parseAWSTemplate(path string, vars map[string]string) (*awsTemplate, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	body := f.Body.(*hclsyntax.Body)
	// Variables: defaults, then -var.
	vals := map[string]cty.Value{}
	for _, b := range body.Blocks {
		if b.Type == "variable" && len(b.Labels) == 1 {
			if a := b.Body.Attributes["default"]; a != nil {
				if v, d := a.Expr.Value(nil); !d.HasErrors() {
					vals[b.Labels[0]] = v
				}
			}
		}
	}
	for k, v := range vars {
		vals[k] = cty.StringVal(v)
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vals)}}
	str := func(b *hclsyntax.Body, name string) string {
		a := b.Attributes[name]
		if a == nil {
			return ""
		}
		v, d := a.Expr.Value(ctx)
		if d.HasErrors() || v.IsNull() || !v.Type().Equals(cty.String) {
			return ""
		}
		return v.AsString()
	}
	list := func(b *hclsyntax.Body, name string) []string {
		a := b.Attributes[name]
		if a == nil {
			return nil
		}
		v, d := a.Expr.Value(ctx)
		if d.HasErrors() || v.IsNull() {
			return nil
		}
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, e.AsString())
		}
		return out
	}
	strMap := func(b *hclsyntax.Body, name string) map[string]string {
		out := map[string]string{}
		a := b.Attributes[name]
		if a == nil {
			return out
		}
		v, d := a.Expr.Value(ctx)
		if d.HasErrors() || v.IsNull() {
			return out
		}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = e.AsString()
		}
		return out
	}

	t := &awsTemplate{}
	data := map[string]string{}
	for _, b := range body.Blocks {
		switch {
		case b.Type == "data" && len(b.Labels) == 2 && b.Labels[0] == "amibake-channel":
			data["amibake-channel"] = str(b.Body, "parameter")
		case b.Type == "data" && len(b.Labels) == 2 && b.Labels[0] == "amazon-parameterstore":
			data["amazon-parameterstore"] = str(b.Body, "name")
		case b.Type == "source" && len(b.Labels) == 2 && b.Labels[0] == "amazon-ebs":
			s := b.Body
			t.region, t.instanceType = str(s, "region"), str(s, "instance_type")
			t.amiName, t.description = str(s, "ami_name"), str(s, "ami_description")
			t.copyRegions, t.users = list(s, "ami_regions"), list(s, "ami_users")
			t.deprecateAt, t.kmsKey = str(s, "deprecate_at"), str(s, "kms_key_id")
			if a := s.Attributes["encrypt_boot"]; a != nil {
				v, d := a.Expr.Value(ctx)
				t.encrypted = !d.HasErrors() && v.Type().Equals(cty.Bool) && v.True()
			}
			t.tags, t.runTags = strMap(s, "tags"), strMap(s, "run_tags")
			if a := s.Attributes["source_ami"]; a != nil {
				if trav := a.Expr.Variables(); len(trav) == 1 && len(trav[0]) > 1 {
					if ta, ok := trav[0][1].(hcl.TraverseAttr); ok {
						switch ta.Name {
						case "amibake-channel":
							t.parentChannel = "?"
						case "amazon-parameterstore":
							t.sourceParam = "?"
						}
					}
				}
			}
			for _, sb := range s.Blocks {
				if sb.Type == "source_ami_filter" {
					if a := sb.Body.Attributes["filters"]; a != nil {
						if v, d := a.Expr.Value(ctx); !d.HasErrors() && v.Type().HasAttribute("name") {
							t.sourceFilterName = v.GetAttr("name").AsString()
						}
					}
				}
			}
		case b.Type == "build":
			for _, pp := range b.Body.Blocks {
				if pp.Type == "post-processor" && len(pp.Labels) == 1 && pp.Labels[0] == "amibake-lineage" {
					t.channels = list(pp.Body, "channels")
				}
				if pp.Type == "provisioner" && len(pp.Labels) == 1 && pp.Labels[0] == "amibake" {
					for _, step := range pp.Body.Blocks {
						for _, pb := range step.Body.Blocks {
							if step.Type == "step" && pb.Type == "patch" {
								t.patchOp, t.patchReboot = orDefault(str(pb.Body, "operation"), "Install"), orDefault(str(pb.Body, "reboot"), "NoReboot")
							}
						}
					}
				}
			}
		}
	}
	if t.parentChannel == "?" {
		t.parentChannel = data["amibake-channel"]
	}
	if t.sourceParam == "?" {
		t.sourceParam = data["amazon-parameterstore"]
	}
	if t.region == "" {
		return nil, errors.New("no amazon-ebs source with a region in the template")
	}
	return t, nil
}

// sandboxBuild is one simulated amazon-ebs build against the endpoint.
type sandboxBuild struct {
	t        *awsTemplate
	cfg      aws.Config
	u        ui
	target   string
	pause    time.Duration // between steps (FAKEPACKER_SLEEP spread out)
	sigs     <-chan os.Signal
	instance string
	source   string
	layer    string
}

var errInterrupted = errors.New("interrupted")

func newSandboxBuild(t *awsTemplate, endpoint string, u ui, target string, pause time.Duration, sigs <-chan os.Signal) *sandboxBuild {
	cfg := aws.Config{
		Region: t.region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		// Like the amazon plugin: throttling and 5xx are retried.
		RetryMaxAttempts: 12,
		RetryMode:        aws.RetryModeStandard,
	}
	// FAKEPACKER_MAX_BACKOFF caps the retry backoff (storm tests: the
	// same retries as the plugin, without its real waits).
	if d, err := time.ParseDuration(os.Getenv("FAKEPACKER_MAX_BACKOFF")); err == nil && d > 0 {
		cfg.Retryer = func() aws.Retryer {
			return retry.AddWithMaxBackoffDelay(retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 12 }), d)
		}
	}
	return &sandboxBuild{t: t, cfg: cfg, u: u, target: target, pause: pause, sigs: sigs}
}

func (s *sandboxBuild) ec2(region string) *ec2.Client {
	return ec2.NewFromConfig(s.cfg, func(o *ec2.Options) { o.Region = region })
}

func (s *sandboxBuild) ssm(region string) *ssm.Client {
	return ssm.NewFromConfig(s.cfg, func(o *ssm.Options) { o.Region = region })
}

func (s *sandboxBuild) say(text string)     { s.u.say("say", "==> "+s.target+": "+text) }
func (s *sandboxBuild) message(text string) { s.u.say("message", "    "+s.target+": "+text) }

// hit is a crash point of this build: packer.<layer>.<step>, one name
// per layer because every layer's packer is a process of its own.
func (s *sandboxBuild) hit(step string) { crashpoint.Hit("packer." + s.layer + "." + step) }

// step waits the per-step pause, or returns errInterrupted on a signal.
func (s *sandboxBuild) step() error {
	select {
	case <-s.sigs:
		return errInterrupted
	case <-time.After(s.pause):
		return nil
	}
}

// run performs the build and returns the AMI per region. On an error or
// an interrupt it terminates the build instance, as packer's cleanup does.
func (s *sandboxBuild) run(ctx context.Context) (map[string]string, error) {
	amis, err := s.build(ctx)
	if s.instance != "" {
		s.say("Terminating the source AWS instance...")
		if _, terr := s.ec2(s.t.region).TerminateInstances(context.WithoutCancel(ctx), &ec2.TerminateInstancesInput{InstanceIds: []string{s.instance}}); terr != nil && err == nil {
			err = fmt.Errorf("TerminateInstances %s: %w", s.instance, terr)
		}
	}
	return amis, err
}

func (s *sandboxBuild) build(ctx context.Context) (map[string]string, error) {
	t := s.t
	home := s.ec2(t.region)
	src, err := s.resolveSource(ctx)
	if err != nil {
		return nil, err
	}
	s.source = src
	s.message("Found Image ID: " + src)
	if err := s.step(); err != nil {
		return nil, err
	}

	s.say("Launching a source AWS instance...")
	runTags := tagList(t.runTags, "")
	ri, err := home.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(src), InstanceType: ec2types.InstanceType(orDefault(t.instanceType, "t3.micro")),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: runTags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: runTags},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("RunInstances: %w", err)
	}
	s.instance = aws.ToString(ri.Instances[0].InstanceId)
	s.hit("instance-launched")
	s.message("Instance ID: " + s.instance)
	s.say("Waiting for instance (" + s.instance + ") to become ready...")
	if err := s.waitInstance(ctx, "running"); err != nil {
		return nil, err
	}
	if err := s.step(); err != nil {
		return nil, err
	}
	s.say("Provisioning with fakepacker: only the patch step runs on " + s.instance)
	if t.patchOp != "" {
		if err := s.patch(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.step(); err != nil {
		return nil, err
	}

	s.say("Stopping the source instance...")
	if _, err := home.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{s.instance}}); err != nil {
		return nil, fmt.Errorf("StopInstances: %w", err)
	}
	if err := s.waitInstance(ctx, "stopped"); err != nil {
		return nil, err
	}
	s.say("Creating AMI " + t.amiName + " from instance " + s.instance)
	ci, err := home.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(s.instance), Name: aws.String(t.amiName), Description: aws.String(t.description)})
	if err != nil {
		return nil, fmt.Errorf("CreateImage: %w", err)
	}
	amis := map[string]string{t.region: aws.ToString(ci.ImageId)}
	s.hit("image-created")
	s.message("AMI: " + amis[t.region])
	s.say("Waiting for AMI to become ready...")
	if err := s.waitImage(ctx, t.region, amis[t.region]); err != nil {
		return nil, err
	}
	if err := s.step(); err != nil {
		return amis, err
	}

	if len(t.copyRegions) > 0 {
		s.say("Copying/Encrypting AMI (" + amis[t.region] + ") to other regions...")
	}
	for _, r := range t.copyRegions {
		if r == t.region {
			continue
		}
		in := &ec2.CopyImageInput{SourceRegion: aws.String(t.region), SourceImageId: aws.String(amis[t.region]), Name: aws.String(t.amiName), Description: aws.String(t.description)}
		if t.encrypted {
			in.Encrypted = aws.Bool(true)
			if t.kmsKey != "" {
				in.KmsKeyId = aws.String(t.kmsKey)
			}
		}
		out, err := s.ec2(r).CopyImage(ctx, in)
		if err != nil {
			return amis, fmt.Errorf("CopyImage to %s: %w", r, err)
		}
		amis[r] = aws.ToString(out.ImageId)
		s.message("Copying AMI to " + r + ": " + amis[r])
		s.hit("copy-started")
	}
	for _, r := range sortedRegions(amis) {
		if err := s.waitImage(ctx, r, amis[r]); err != nil {
			return amis, err
		}
	}

	for _, r := range sortedRegions(amis) {
		if len(t.users) > 0 {
			perms := &ec2types.LaunchPermissionModifications{}
			for _, u := range t.users {
				perms.Add = append(perms.Add, ec2types.LaunchPermission{UserId: aws.String(u)})
			}
			if _, err := s.ec2(r).ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(amis[r]), LaunchPermission: perms}); err != nil {
				return amis, fmt.Errorf("ModifyImageAttribute %s in %s: %w", amis[r], r, err)
			}
		}
	}
	s.say("Adding tags to AMIs and snapshots...")
	for _, r := range sortedRegions(amis) {
		if err := s.tagImage(ctx, r, amis[r]); err != nil {
			return amis, err
		}
	}
	s.hit("tagged")
	if t.deprecateAt != "" {
		at, err := time.Parse(time.RFC3339, t.deprecateAt)
		if err == nil {
			for _, r := range sortedRegions(amis) {
				if _, err := s.ec2(r).EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(amis[r]), DeprecateAt: aws.Time(at)}); err != nil {
					return amis, fmt.Errorf("EnableImageDeprecation %s in %s: %w", amis[r], r, err)
				}
			}
		}
	}
	if err := s.step(); err != nil {
		return amis, err
	}
	return amis, nil
}

// postProcess is the amibake-lineage post-processor: every copy available,
// then the channels move to the build region's AMI.
func (s *sandboxBuild) postProcess(ctx context.Context, amis map[string]string) error {
	if len(s.t.channels) == 0 {
		return nil
	}
	for _, r := range sortedRegions(amis) {
		if err := s.waitImage(ctx, r, amis[r]); err != nil {
			return err
		}
	}
	for _, ch := range s.t.channels {
		_, err := s.ssm(s.t.region).PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(ch), Value: aws.String(amis[s.t.region]), Type: ssmtypes.ParameterTypeString,
			DataType: aws.String("aws:ec2:image"), Overwrite: aws.Bool(true),
			Description: aws.String("amibake channel; set by fakepacker's amibake-lineage"),
		})
		if err != nil {
			return fmt.Errorf("move channel %s: %w", ch, err)
		}
		s.u.say("say", fmt.Sprintf("==> %s (amibake-lineage): Channel %s -> %s", s.target, ch, amis[s.t.region]))
		s.hit("channel-moved")
	}
	return nil
}

// patch runs AWS-RunPatchBaseline on the build instance, as the amibake
// provisioner's patch step does, and waits for it to succeed.
func (s *sandboxBuild) patch(ctx context.Context) error {
	client := s.ssm(s.t.region)
	var id string
	for i := 0; ; i++ {
		out, err := client.SendCommand(ctx, &ssm.SendCommandInput{
			DocumentName: aws.String("AWS-RunPatchBaseline"), InstanceIds: []string{s.instance},
			Parameters: map[string][]string{"Operation": {s.t.patchOp}, "RebootOption": {s.t.patchReboot}},
		})
		if err == nil {
			id = aws.ToString(out.Command.CommandId)
			break
		}
		if i > 100 { // the instance may take a moment to reach SSM
			return fmt.Errorf("patch step: SendCommand: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.message("step \"patch\": SSM command " + id + " on " + s.instance)
	for i := 0; ; i++ {
		inv, err := client.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(s.instance)})
		if err == nil {
			switch inv.Status {
			case ssmtypes.CommandInvocationStatusSuccess:
				return nil
			case ssmtypes.CommandInvocationStatusFailed, ssmtypes.CommandInvocationStatusTimedOut, ssmtypes.CommandInvocationStatusCancelled:
				return fmt.Errorf("patch step: command %s is %s", id, inv.Status)
			}
		}
		if i > 1200 {
			return fmt.Errorf("patch step: command %s did not end", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *sandboxBuild) resolveSource(ctx context.Context) (string, error) {
	t := s.t
	param := t.parentChannel
	if param == "" {
		param = t.sourceParam
	}
	if param != "" {
		out, err := s.ssm(t.region).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
		if err != nil {
			return "", fmt.Errorf("source AMI from %s: %w", param, err)
		}
		return aws.ToString(out.Parameter.Value), nil
	}
	in := &ec2.DescribeImagesInput{}
	if t.sourceFilterName != "" {
		in.Filters = []ec2types.Filter{{Name: aws.String("name"), Values: []string{t.sourceFilterName}}}
	}
	out, err := s.ec2(t.region).DescribeImages(ctx, in)
	if err != nil {
		return "", fmt.Errorf("source AMI: DescribeImages: %w", err)
	}
	if len(out.Images) == 0 {
		return "", errors.New("source AMI: no image matches the filter")
	}
	sort.Slice(out.Images, func(i, j int) bool {
		return aws.ToString(out.Images[i].CreationDate) > aws.ToString(out.Images[j].CreationDate)
	})
	return aws.ToString(out.Images[0].ImageId), nil
}

func (s *sandboxBuild) tagImage(ctx context.Context, region, ami string) error {
	client := s.ec2(region)
	resources := []string{ami}
	out, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil {
		return fmt.Errorf("DescribeImages %s in %s: %w", ami, region, err)
	}
	for _, img := range out.Images {
		for _, bd := range img.BlockDeviceMappings {
			if bd.Ebs != nil && bd.Ebs.SnapshotId != nil {
				resources = append(resources, *bd.Ebs.SnapshotId)
			}
		}
	}
	if _, err := client.CreateTags(ctx, &ec2.CreateTagsInput{Resources: resources, Tags: tagList(s.t.tags, s.source)}); err != nil {
		return fmt.Errorf("CreateTags %v in %s: %w", resources, region, err)
	}
	return nil
}

func (s *sandboxBuild) waitInstance(ctx context.Context, want string) error {
	for i := 0; ; i++ {
		out, err := s.ec2(s.t.region).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{s.instance}})
		if err == nil {
			for _, r := range out.Reservations {
				for _, in := range r.Instances {
					if in.State != nil && string(in.State.Name) == want {
						return nil
					}
				}
			}
		}
		if i > 600 {
			return fmt.Errorf("instance %s never became %s", s.instance, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *sandboxBuild) waitImage(ctx context.Context, region, ami string) error {
	for i := 0; ; i++ {
		out, err := s.ec2(region).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		if err == nil {
			for _, img := range out.Images {
				switch img.State {
				case ec2types.ImageStateAvailable:
					return nil
				case ec2types.ImageStatePending:
				default:
					return fmt.Errorf("AMI %s in %s is %s", ami, region, img.State)
				}
			}
		}
		if i > 600 {
			return fmt.Errorf("AMI %s in %s never became available", ami, region)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tagList(m map[string]string, sourceAMI string) []ec2types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ec2types.Tag, 0, len(keys))
	for _, k := range keys {
		v := strings.ReplaceAll(m[k], "{{ .SourceAMI }}", sourceAMI)
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
