//go:generate ../sdc.sh mapstructure-to-hcl2 -type Config,DatasourceOutput

// Package datasource is the amibake-channel Packer data source: it resolves
// a layer's current AMI from its channel parameter in Parameter Store and
// refuses an AMI that is not available or has been revoked, so a child
// layer never builds on a bad parent.
package datasource

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	"github.com/hashicorp/packer-plugin-sdk/hcl2helper"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/zclconf/go-cty/cty"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/plugin/common"
)

// Tags the data source reads on the resolved AMI.
const (
	TagRevoked     = "amibake:revoked"
	TagFingerprint = "amibake:fingerprint"
)

// DefaultTimeout bounds the whole lookup; Packer gives data sources no
// context of their own.
const DefaultTimeout = 5 * time.Minute

// Config is the data source's HCL configuration.
type Config struct {
	sdkcommon.PackerConfig `mapstructure:",squash"`
	common.AccessConfig    `mapstructure:",squash"`

	// Full name of the channel parameter, for example
	// /amibake/acme-golden/layers/base/latest. A version or label selector
	// (":3", ":stable") is passed through to GetParameter.
	Parameter string `mapstructure:"parameter" required:"true"`
	// How long the lookup may take. Defaults to 5m.
	Timeout time.Duration `mapstructure:"timeout" required:"false"`
}

// DatasourceOutput is what `data.amibake-channel.NAME` exposes.
type DatasourceOutput struct {
	// The AMI the channel points at.
	ImageID string `mapstructure:"image_id"`
	// The parameter version that was read, as a decimal string.
	ParameterVersion string `mapstructure:"parameter_version"`
	// The AMI's name.
	ImageName string `mapstructure:"image_name"`
	// The AMI's amibake:fingerprint tag, empty if it has none; rendered
	// templates use it as the child's amibake:parent-fingerprint.
	Fingerprint string `mapstructure:"fingerprint"`
}

// Datasource resolves a channel parameter to a usable AMI.
type Datasource struct {
	config Config
}

var _ packersdk.Datasource = (*Datasource)(nil)

// ConfigSpec returns the generated HCL2 spec of Config.
func (d *Datasource) ConfigSpec() hcldec.ObjectSpec {
	return d.config.FlatMapstructure().HCL2Spec()
}

// OutputSpec returns the generated HCL2 spec of DatasourceOutput.
func (d *Datasource) OutputSpec() hcldec.ObjectSpec {
	return (&DatasourceOutput{}).FlatMapstructure().HCL2Spec()
}

// Configure decodes and validates the configuration.
func (d *Datasource) Configure(raws ...interface{}) error {
	if err := config.Decode(&d.config, &config.DecodeOpts{PluginType: "amibake-channel", Interpolate: false}, raws...); err != nil {
		return fmt.Errorf("amibake-channel: %w", err)
	}
	c := &d.config
	var errs *packersdk.MultiError
	errs = packersdk.MultiErrorAppend(errs, c.AccessConfig.Prepare()...)
	switch {
	case c.Parameter == "":
		errs = packersdk.MultiErrorAppend(errs, errors.New("parameter is required"))
	case !strings.HasPrefix(c.Parameter, "/") && !strings.HasPrefix(c.Parameter, "arn:"):
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("parameter %q: want a full name starting with /", c.Parameter))
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		errs = packersdk.MultiErrorAppend(errs, errors.New("timeout must not be negative"))
	}
	if errs != nil && len(errs.Errors) > 0 {
		return fmt.Errorf("amibake-channel: %w", errs)
	}
	return nil
}

// Execute reads the channel and checks its AMI.
func (d *Datasource) Execute() (cty.Value, error) {
	null := cty.NullVal(cty.EmptyObject)
	ctx, cancel := context.WithTimeout(context.Background(), d.config.Timeout)
	defer cancel()
	clients, err := d.config.Clients(ctx)
	if err != nil {
		return null, fmt.Errorf("amibake-channel: %w", err)
	}
	out, err := Resolve(ctx, clients.SSM(d.config.Region), clients.EC2(d.config.Region), d.config.Parameter)
	if err != nil {
		return null, fmt.Errorf("amibake-channel: %w", err)
	}
	return hcl2helper.HCL2ValueFromConfig(out, d.OutputSpec()), nil
}

// Resolve reads parameter and returns its AMI after checking that the AMI
// exists, is available and is not revoked.
func Resolve(ctx context.Context, ssmc awsapi.SSM, ec2c awsapi.EC2, parameter string) (DatasourceOutput, error) {
	p, err := ssmc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(parameter)})
	if err != nil {
		var nf *ssmtypes.ParameterNotFound
		if errors.As(err, &nf) {
			return DatasourceOutput{}, fmt.Errorf("channel %s does not exist: has its layer been baked and published?", parameter)
		}
		return DatasourceOutput{}, fmt.Errorf("read channel %s: %w", parameter, err)
	}
	if p.Parameter == nil {
		return DatasourceOutput{}, fmt.Errorf("read channel %s: empty response", parameter)
	}
	amiID := strings.TrimSpace(aws.ToString(p.Parameter.Value))
	if !strings.HasPrefix(amiID, "ami-") {
		return DatasourceOutput{}, fmt.Errorf("channel %s holds %q, not an AMI id", parameter, amiID)
	}
	version := strconv.FormatInt(p.Parameter.Version, 10)

	imgs, err := ec2c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{amiID}})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && strings.HasPrefix(ae.ErrorCode(), "InvalidAMIID.") {
			return DatasourceOutput{}, fmt.Errorf("channel %s (version %s) points at %s, which does not exist (deregistered?): %s", parameter, version, amiID, ae.ErrorCode())
		}
		return DatasourceOutput{}, fmt.Errorf("channel %s (version %s): describe %s: %w", parameter, version, amiID, err)
	}
	var img *ec2types.Image
	for i := range imgs.Images {
		if aws.ToString(imgs.Images[i].ImageId) == amiID {
			img = &imgs.Images[i]
		}
	}
	if img == nil {
		return DatasourceOutput{}, fmt.Errorf("channel %s (version %s) points at %s, which does not exist (deregistered?)", parameter, version, amiID)
	}
	if img.State != ec2types.ImageStateAvailable {
		return DatasourceOutput{}, fmt.Errorf("channel %s (version %s) points at %s, which is %s, not available", parameter, version, amiID, img.State)
	}
	tags := map[string]string{}
	for _, t := range img.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if reason, revoked := tags[TagRevoked]; revoked {
		if reason == "" {
			reason = "no reason given"
		}
		return DatasourceOutput{}, fmt.Errorf("channel %s (version %s) points at %s, which is revoked (%s): refusing to build on it", parameter, version, amiID, reason)
	}
	return DatasourceOutput{
		ImageID:          amiID,
		ParameterVersion: version,
		ImageName:        aws.ToString(img.Name),
		Fingerprint:      tags[TagFingerprint],
	}, nil
}
