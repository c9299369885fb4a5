//go:generate ../sdc.sh mapstructure-to-hcl2 -type Config

// Package postprocessor is the amibake-lineage Packer post-processor: after
// an amazon-ebs build it waits until every copy of the new AMI is
// available, makes sure each copy (and its snapshots) carries the lineage
// tags, and only then moves the layer's channel parameters to it.
package postprocessor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/hashicorp/hcl/v2/hcldec"
	sdkcommon "github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/plugin/common"
)

// Defaults for the timing settings.
const (
	DefaultPollInterval = 5 * time.Second
	DefaultWaitTimeout  = 30 * time.Minute
)

// ImageDataType is the Parameter Store data type of a channel: AWS checks
// that the value is an AMI id and EC2 accepts it as resolve:ssm:….
const ImageDataType = "aws:ec2:image"

// Config is the post-processor's HCL configuration.
type Config struct {
	sdkcommon.PackerConfig `mapstructure:",squash"`
	// region is the build region: the channel parameters live there and
	// point at that region's copy.
	common.AccessConfig `mapstructure:",squash"`

	// Lineage tags every copy of the AMI and its snapshots must carry.
	Tags map[string]string `mapstructure:"tags" required:"false"`
	// Channel parameters to point at the new AMI, for example
	// /amibake/acme-golden/layers/base/latest.
	Channels []string `mapstructure:"channels" required:"false"`
	// How often to poll image state. Defaults to 5s.
	PollInterval time.Duration `mapstructure:"poll_interval" required:"false"`
	// How long to wait for every copy to become available. Defaults to 30m.
	WaitTimeout time.Duration `mapstructure:"wait_timeout" required:"false"`
}

// PostProcessor publishes a finished build's lineage.
type PostProcessor struct {
	config Config
}

var _ packersdk.PostProcessor = (*PostProcessor)(nil)

// ConfigSpec returns the generated HCL2 spec of Config.
func (p *PostProcessor) ConfigSpec() hcldec.ObjectSpec {
	return p.config.FlatMapstructure().HCL2Spec()
}

// Configure decodes and validates the configuration.
func (p *PostProcessor) Configure(raws ...interface{}) error {
	if err := config.Decode(&p.config, &config.DecodeOpts{PluginType: "amibake-lineage", Interpolate: false}, raws...); err != nil {
		return fmt.Errorf("amibake-lineage: %w", err)
	}
	c := &p.config
	var errs *packersdk.MultiError
	errs = packersdk.MultiErrorAppend(errs, c.AccessConfig.Prepare()...)
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
	if c.PollInterval < 0 || c.WaitTimeout < 0 {
		errs = packersdk.MultiErrorAppend(errs, errors.New("poll_interval and wait_timeout must not be negative"))
	}
	for k := range c.Tags {
		if k == "" || strings.HasPrefix(strings.ToLower(k), "aws:") {
			errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("tags: %q is not a tag key amibake may set", k))
		}
	}
	for _, ch := range c.Channels {
		if !strings.HasPrefix(ch, "/") || strings.HasSuffix(ch, "/") || strings.Contains(ch, "//") {
			errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("channels: %q is not a full parameter name like /amibake/PROJECT/layers/LAYER/latest", ch))
		}
	}
	if errs != nil && len(errs.Errors) > 0 {
		return fmt.Errorf("amibake-lineage: %w", errs)
	}
	return nil
}

// PostProcess waits, tags and publishes, then hands the artifact on
// unchanged and kept.
func (p *PostProcessor) PostProcess(ctx context.Context, ui packersdk.Ui, artifact packersdk.Artifact) (packersdk.Artifact, bool, bool, error) {
	amis, err := ParseArtifactID(artifact.Id())
	if err != nil {
		return nil, false, false, fmt.Errorf("amibake-lineage: artifact from %s: %w", artifact.BuilderId(), err)
	}
	clients, err := p.config.Clients(ctx)
	if err != nil {
		return nil, false, false, fmt.Errorf("amibake-lineage: %w", err)
	}
	pub := &publisher{
		ec2:     func(region string) awsapi.EC2 { return clients.EC2(region) },
		ssm:     clients.SSM(p.config.Region),
		say:     ui.Say,
		poll:    p.config.PollInterval,
		timeout: p.config.WaitTimeout,
	}
	if err := pub.publish(ctx, amis, p.config.Region, p.config.Tags, p.config.Channels); err != nil {
		return nil, false, false, fmt.Errorf("amibake-lineage: %w", err)
	}
	// keep = true, and forced: a user's keep_input_artifact = false would
	// make Packer destroy (deregister) the AMI a channel now points at.
	return artifact, true, true, nil
}

// RegionAMI is one copy of a built image.
type RegionAMI struct {
	Region string
	AMI    string
}

// ParseArtifactID parses an amazon builder artifact id,
// "us-east-1:ami-1,eu-west-1:ami-2", tolerating spaces, empty entries and
// exact repeats. It refuses anything else, including two different AMIs
// for one region. The result is sorted by region.
func ParseArtifactID(id string) ([]RegionAMI, error) {
	byRegion := map[string]string{}
	for _, part := range strings.Split(id, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		region, ami, ok := strings.Cut(part, ":")
		region, ami = strings.TrimSpace(region), strings.TrimSpace(ami)
		if !ok || region == "" || !strings.HasPrefix(ami, "ami-") || len(ami) <= len("ami-") ||
			strings.ContainsAny(region, " \t/:") || strings.ContainsAny(ami, " \t/:") {
			return nil, fmt.Errorf("artifact id %q: %q is not REGION:ami-ID", id, part)
		}
		if prev, dup := byRegion[region]; dup && prev != ami {
			return nil, fmt.Errorf("artifact id %q: region %s has two AMIs, %s and %s", id, region, prev, ami)
		}
		byRegion[region] = ami
	}
	if len(byRegion) == 0 {
		return nil, fmt.Errorf("artifact id %q names no AMI", id)
	}
	out := make([]RegionAMI, 0, len(byRegion))
	for r, a := range byRegion {
		out = append(out, RegionAMI{Region: r, AMI: a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

// publisher does the work against narrow clients, so it can be driven by
// tests with the sandbox's clients.
type publisher struct {
	ec2     func(region string) awsapi.EC2
	ssm     awsapi.SSM
	say     func(string)
	poll    time.Duration
	timeout time.Duration
}

func (p *publisher) publish(ctx context.Context, amis []RegionAMI, buildRegion string, tags map[string]string, channels []string) error {
	var home string
	for _, a := range amis {
		if a.Region == buildRegion {
			home = a.AMI
		}
	}
	if len(channels) > 0 && home == "" {
		return fmt.Errorf("the build made no AMI in region %s (got %v); cannot move channels there", buildRegion, amis)
	}

	p.say(fmt.Sprintf("Waiting for %d AMI copies to be available...", len(amis)))
	images, err := p.waitAvailable(ctx, amis)
	if err != nil {
		return err
	}

	if len(tags) > 0 {
		for _, a := range amis {
			if err := p.tag(ctx, a, images[a.AMI], tags); err != nil {
				return err
			}
		}
		p.say(fmt.Sprintf("Tagged %d AMI copies and their snapshots with %d lineage tags", len(amis), len(tags)))
	}

	for _, ch := range channels {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("move channel %s: %w", ch, err)
		}
		out, err := p.ssm.PutParameter(ctx, &ssm.PutParameterInput{
			Name:      aws.String(ch),
			Value:     aws.String(home),
			Type:      ssmtypes.ParameterTypeString,
			DataType:  aws.String(ImageDataType),
			Overwrite: aws.Bool(true),
			Description: aws.String(fmt.Sprintf("amibake channel; set by amibake-lineage at %s",
				time.Now().UTC().Format(time.RFC3339))),
		})
		if err != nil {
			return fmt.Errorf("move channel %s to %s: %w", ch, home, err)
		}
		p.say(fmt.Sprintf("Channel %s -> %s (version %d)", ch, home, out.Version))
	}
	return nil
}

// waitAvailable polls every region until every AMI is available. A failed
// or deregistered image ends the wait at once; an image EC2 does not know
// yet (eventual consistency) is waited for like a pending one.
func (p *publisher) waitAvailable(ctx context.Context, amis []RegionAMI) (map[string]ec2types.Image, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	byRegion := map[string][]string{}
	var regions []string
	for _, a := range amis {
		if _, ok := byRegion[a.Region]; !ok {
			regions = append(regions, a.Region)
		}
		byRegion[a.Region] = append(byRegion[a.Region], a.AMI)
	}
	done := map[string]ec2types.Image{}
	for {
		var waiting []string
		for _, region := range regions {
			for _, id := range byRegion[region] {
				if _, ok := done[id]; ok {
					continue
				}
				img, state, err := p.describe(ctx, region, id)
				if err != nil {
					if ctx.Err() != nil {
						return nil, fmt.Errorf("wait for %s in %s: %w", id, region, ctx.Err())
					}
					return nil, err
				}
				switch state {
				case ec2types.ImageStateAvailable:
					done[id] = img
				case ec2types.ImageStatePending, ec2types.ImageStateTransient, "":
					waiting = append(waiting, region+":"+id+" ("+stateOrUnknown(state)+")")
				default:
					reason := ""
					if img.StateReason != nil {
						reason = ": " + aws.ToString(img.StateReason.Message)
					}
					return nil, fmt.Errorf("AMI %s in %s is %s%s; channels not moved", id, region, state, reason)
				}
			}
		}
		if len(waiting) == 0 {
			return done, nil
		}
		if err := common.Sleep(ctx, p.poll); err != nil {
			return nil, fmt.Errorf("AMIs not available after %s (still waiting for %s); channels not moved: %w",
				p.timeout, strings.Join(waiting, ", "), err)
		}
	}
}

// describe returns an image and its state; state "" means EC2 does not
// know the image yet.
func (p *publisher) describe(ctx context.Context, region, id string) (ec2types.Image, ec2types.ImageState, error) {
	out, err := p.ec2(region).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidAMIID.NotFound" {
			return ec2types.Image{}, "", nil
		}
		return ec2types.Image{}, "", fmt.Errorf("describe %s in %s: %w", id, region, err)
	}
	for _, img := range out.Images {
		if aws.ToString(img.ImageId) == id {
			return img, img.State, nil
		}
	}
	return ec2types.Image{}, "", nil
}

// tag puts the lineage tags on one copy and its snapshots. CreateTags
// overwrites values, so a tag the builder already set is left as given.
func (p *publisher) tag(ctx context.Context, a RegionAMI, img ec2types.Image, tags map[string]string) error {
	resources := []string{a.AMI}
	for _, bdm := range img.BlockDeviceMappings {
		if bdm.Ebs != nil && aws.ToString(bdm.Ebs.SnapshotId) != "" {
			resources = append(resources, aws.ToString(bdm.Ebs.SnapshotId))
		}
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ec2Tags := make([]ec2types.Tag, 0, len(keys))
	for _, k := range keys {
		ec2Tags = append(ec2Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if _, err := p.ec2(a.Region).CreateTags(ctx, &ec2.CreateTagsInput{Resources: resources, Tags: ec2Tags}); err != nil {
		return fmt.Errorf("tag %s and its snapshots in %s: %w", a.AMI, a.Region, err)
	}
	return nil
}

func stateOrUnknown(s ec2types.ImageState) string {
	if s == "" {
		return "not visible yet"
	}
	return string(s)
}
