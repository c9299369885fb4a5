package provisioner

import (
	"errors"
	"time"

	"github.com/amibake/amibake/internal/plugin/stepcmd"
)

// Step is one recipe step: a script file, inline commands or a file upload,
// with its environment. It is the HCL shape (packer-sdc generates its flat
// spec); stepcmd renders it, so the amibake CLI need not link this package.
type Step struct {
	// Recorded step name, conventionally "<recipe>/<step>". Required.
	Name string `mapstructure:"name" required:"true"`
	// Path of a local shell script, read when the step runs.
	Script string `mapstructure:"script" required:"false"`
	// Shell commands, one per element.
	Inline []string `mapstructure:"inline" required:"false"`
	// Local file to upload to the instance (base64 inside the command).
	FileSource string `mapstructure:"file_source" required:"false"`
	// Absolute destination path on the instance; parents are created.
	FileDestination string `mapstructure:"file_destination" required:"false"`
	// Octal mode of the uploaded file. Defaults to 0644.
	FileMode string `mapstructure:"file_mode" required:"false"`
	// Environment variables for the step, exported before the script.
	Env map[string]string `mapstructure:"env" required:"false"`
	// Environment variables read on the instance from SecureString
	// parameters: NAME = "/parameter/name". The value never passes through
	// Packer: the instance fetches it with its own role.
	SecretEnv map[string]string `mapstructure:"secret_env" required:"false"`
	// How long this step may run; overrides the provisioner's step_timeout.
	Timeout time.Duration `mapstructure:"timeout" required:"false"`
	// Runs AWS-RunPatchBaseline on the instance instead of a shell step:
	// the baseline is the one registered for the instance's patch group
	// (its `Patch Group` tag), else the region's default.
	Patch *PatchStep `mapstructure:"patch" required:"false"`
}

// PatchStep is a step that sends AWS-RunPatchBaseline.
type PatchStep struct {
	// Scan or Install. Defaults to Install.
	Operation string `mapstructure:"operation" required:"false"`
	// NoReboot or RebootIfNeeded. Defaults to NoReboot: a build instance
	// is stopped and imaged right after, so the new kernel runs from the
	// image's first boot.
	Reboot string `mapstructure:"reboot" required:"false"`
}

// Defaults of a patch step.
const (
	DefaultPatchOperation = stepcmd.DefaultPatchOperation
	DefaultPatchReboot    = stepcmd.DefaultPatchReboot
)

// cmd is the step as stepcmd renders and validates it.
func (s *Step) cmd() stepcmd.Step {
	return stepcmd.Step{
		Name: s.Name, Script: s.Script, Inline: s.Inline,
		FileSource: s.FileSource, FileDestination: s.FileDestination, FileMode: s.FileMode,
		Env: s.Env, SecretEnv: s.SecretEnv, Timeout: s.Timeout, Patch: s.Patch.cmd(),
	}
}

func (p *PatchStep) cmd() *stepcmd.Patch {
	if p == nil {
		return nil
	}
	return &stepcmd.Patch{Operation: p.Operation, Reboot: p.Reboot}
}

func (p *PatchStep) operation() string { return p.cmd().OperationOrDefault() }

func (p *PatchStep) reboot() string { return p.cmd().RebootOrDefault() }

// validate checks one step's settings; i is its position for messages.
func (s *Step) validate(i int) []error {
	c := s.cmd()
	return c.Validate(i)
}

// BuildCommands renders a step into the AWS-RunShellScript command list
// (see stepcmd.BuildCommands).
func BuildCommands(s Step, body []byte, region string) ([]string, error) {
	return stepcmd.BuildCommands(s.cmd(), body, region)
}

// LoadBody reads what a step needs from the local disk at run time.
func LoadBody(s Step) ([]byte, error) {
	return stepcmd.LoadBody(s.cmd())
}

var errNoInstance = errors.New(`the builder gave no instance id (generatedData["ID"]): ` +
	`the amibake provisioner runs commands through SSM on an EC2 build instance, so use it with an amazon-ebs source`)
