//go:generate ../sdc.sh mapstructure-to-hcl2 -type Config,Step,PatchStep

// Package provisioner is the amibake Packer provisioner: it runs recipe
// steps on the build instance through SSM Run Command (AWS-RunShellScript,
// or AWS-RunPatchBaseline for a `patch {}` step) instead of SSH, so a build needs no key pair login and no inbound port,
// the way AWS-UpdateLinuxAmi works.
package provisioner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	sdkcommon "github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/plugin/common"
	"github.com/amibake/amibake/internal/plugin/stepcmd"
)

// Defaults for the timing settings.
const (
	DefaultPollInterval         = 2 * time.Second
	DefaultTimeout              = stepcmd.DefaultTimeout
	DefaultInstanceReadyTimeout = 10 * time.Minute
)

// placeholderID is what packer puts in generatedData["ID"] when the builder
// has no instance id.
const placeholderID = "ERR_ID_NOT_IMPLEMENTED_BY_BUILDER"

// Config is the provisioner's HCL configuration.
type Config struct {
	sdkcommon.PackerConfig `mapstructure:",squash"`
	common.AccessConfig    `mapstructure:",squash"`

	// How often to poll a running command. Defaults to 2s.
	PollInterval time.Duration `mapstructure:"poll_interval" required:"false"`
	// How long one step may run (the command's executionTimeout) unless
	// the step sets its own timeout. Defaults to 30m. (Packer's own
	// provisioner-level `timeout` bounds the whole provisioner instead.)
	StepTimeout time.Duration `mapstructure:"step_timeout" required:"false"`
	// How long to wait for the instance's SSM agent to report Online.
	// Defaults to 10m.
	InstanceReadyTimeout time.Duration `mapstructure:"instance_ready_timeout" required:"false"`
	// The steps, run in order; the build fails at the first failing step.
	Steps []Step `mapstructure:"step" required:"false"`

	// When set, the provisioner ends by gathering the instance's software
	// inventory (AWS-GatherSoftwareInventory, AWS:Application) and staging
	// it at s3://<inventory_bucket>/<inventory_project>/inventory/staging/<inventory_build_id>.json
	// for amibake, which records it under the AMI's id once the AMI exists.
	InventoryBucket  string `mapstructure:"inventory_bucket" required:"false"`
	InventoryProject string `mapstructure:"inventory_project" required:"false"`
	InventoryBuildID string `mapstructure:"inventory_build_id" required:"false"`
	// How long to wait for a fresh inventory capture. Defaults to 10m.
	InventoryTimeout time.Duration `mapstructure:"inventory_timeout" required:"false"`
}

// Provisioner runs recipe steps over SSM Run Command.
type Provisioner struct {
	config Config
}

var _ packersdk.Provisioner = (*Provisioner)(nil)

// ConfigSpec returns the generated HCL2 spec of Config.
func (p *Provisioner) ConfigSpec() hcldec.ObjectSpec {
	return p.config.FlatMapstructure().HCL2Spec()
}

// Prepare decodes and validates the configuration.
func (p *Provisioner) Prepare(raws ...interface{}) error {
	if err := config.Decode(&p.config, &config.DecodeOpts{PluginType: "amibake", Interpolate: false}, raws...); err != nil {
		return fmt.Errorf("amibake provisioner: %w", err)
	}
	c := &p.config
	var errs *packersdk.MultiError
	errs = packersdk.MultiErrorAppend(errs, c.AccessConfig.Prepare()...)
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.StepTimeout == 0 {
		c.StepTimeout = DefaultTimeout
	}
	if c.InstanceReadyTimeout == 0 {
		c.InstanceReadyTimeout = DefaultInstanceReadyTimeout
	}
	if c.PollInterval < 0 || c.StepTimeout < 0 || c.InstanceReadyTimeout < 0 {
		errs = packersdk.MultiErrorAppend(errs, errors.New("poll_interval, step_timeout and instance_ready_timeout must not be negative"))
	}
	if c.StepTimeout > 0 && c.StepTimeout < time.Second {
		errs = packersdk.MultiErrorAppend(errs, errors.New("step_timeout must be at least 1s"))
	}
	if c.InventoryTimeout == 0 {
		c.InventoryTimeout = inventory.DefaultGatherTimeout
	}
	if c.InventoryBucket != "" && (c.InventoryProject == "" || c.InventoryBuildID == "") {
		errs = packersdk.MultiErrorAppend(errs, errors.New("inventory_bucket needs inventory_project and inventory_build_id"))
	}
	if c.InventoryTimeout < 0 {
		errs = packersdk.MultiErrorAppend(errs, errors.New("inventory_timeout must not be negative"))
	}
	if len(c.Steps) == 0 && c.InventoryBucket == "" {
		errs = packersdk.MultiErrorAppend(errs, errors.New("at least one step block (or inventory_bucket) is required"))
	}
	seen := map[string]int{}
	for i := range c.Steps {
		errs = packersdk.MultiErrorAppend(errs, c.Steps[i].validate(i)...)
		if n := c.Steps[i].Name; n != "" {
			if j, dup := seen[n]; dup {
				errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("step %d: name %q is already used by step %d", i+1, n, j+1))
			}
			seen[n] = i
		}
	}
	if errs != nil && len(errs.Errors) > 0 {
		return fmt.Errorf("amibake provisioner: %w", errs)
	}
	return nil
}

// Provision runs every step on the build instance, in order.
func (p *Provisioner) Provision(ctx context.Context, ui packersdk.Ui, _ packersdk.Communicator, generatedData map[string]interface{}) error {
	id, err := instanceID(generatedData)
	if err != nil {
		return fmt.Errorf("amibake provisioner: %w", err)
	}
	clients, err := p.config.Clients(ctx)
	if err != nil {
		return fmt.Errorf("amibake provisioner: %w", err)
	}
	ssmc, ok := clients.SSM(p.config.Region).(ssmAPI)
	if !ok {
		return errors.New("amibake provisioner: SSM client cannot cancel commands")
	}
	r := &runner{ssm: ssmc, ui: ui, instanceID: id, poll: p.config.PollInterval}

	ui.Say(fmt.Sprintf("Waiting for the SSM agent on %s to come online...", id))
	if err := r.waitOnline(ctx, p.config.InstanceReadyTimeout); err != nil {
		return fmt.Errorf("amibake provisioner: %w", err)
	}
	for i, step := range p.config.Steps {
		timeout := p.config.StepTimeout
		if step.Timeout > 0 {
			timeout = step.Timeout
		}
		if step.Patch != nil {
			ui.Say(fmt.Sprintf("Running step %d/%d %q: AWS-RunPatchBaseline Operation=%s RebootOption=%s...",
				i+1, len(p.config.Steps), step.Name, step.Patch.operation(), step.Patch.reboot()))
			if err := r.runPatch(ctx, step.Name, step.Patch, timeout); err != nil {
				return fmt.Errorf("amibake provisioner: %w", err)
			}
			continue
		}
		body, err := LoadBody(step)
		if err != nil {
			return fmt.Errorf("amibake provisioner: %w", err)
		}
		cmds, err := BuildCommands(step, body, p.config.Region)
		if err != nil {
			return fmt.Errorf("amibake provisioner: %w", err)
		}
		ui.Say(fmt.Sprintf("Running step %d/%d %q over SSM Run Command...", i+1, len(p.config.Steps), step.Name))
		if err := r.run(ctx, step.Name, cmds, timeout); err != nil {
			return fmt.Errorf("amibake provisioner: %w", err)
		}
	}
	if p.config.InventoryBucket != "" {
		// Last, so it sees everything the steps (and the patch step)
		// installed: the instance is stopped and imaged right after.
		if err := p.stageInventory(ctx, ui, clients, id); err != nil {
			return fmt.Errorf("amibake provisioner: %w", err)
		}
	}
	return nil
}

// stageInventory gathers the instance's software inventory and stages it
// for amibake under the build id. Any failure fails the build, so no AMI
// is made whose inventory was required but not recorded.
func (p *Provisioner) stageInventory(ctx context.Context, ui packersdk.Ui, clients *awsapi.Clients, id string) error {
	c := &p.config
	ui.Say(fmt.Sprintf("Gathering the software inventory of %s (%s)...", id, inventory.GatherDocument))
	g, err := inventory.Gather(ctx, clients.SSMAssociations(c.Region), clients.SSMInventory(c.Region), id, inventory.GatherOptions{
		Name: inventory.AssociationName(c.InventoryBuildID), Timeout: c.InventoryTimeout, Poll: c.PollInterval,
		Sleep: common.Sleep, Say: ui.Message,
	})
	if err != nil {
		return err
	}
	url, err := inventory.Stage(ctx, clients.S3(c.Region), c.InventoryBucket, c.InventoryProject, c.InventoryBuildID, id, g)
	if err != nil {
		return err
	}
	ui.Say(fmt.Sprintf("Inventory of %s: %d packages, captured %s, staged at %s", id, len(g.Packages), g.CaptureTime.Format(time.RFC3339), url))
	return nil
}

// instanceID reads the build instance id packer hands every provisioner.
func instanceID(generatedData map[string]interface{}) (string, error) {
	id, _ := generatedData["ID"].(string)
	if id == "" || id == placeholderID {
		return "", errNoInstance
	}
	return id, nil
}
