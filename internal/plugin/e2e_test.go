package plugin_test

// End-to-end: the real packer binary and the real amazon plugin build AMIs
// against the in-tree sandbox, with packer-plugin-amibake built from this
// tree and installed with `packer plugins install --path`.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/internal/testutil"
)

const (
	e2eRegion      = sandbox.DefaultRegion
	baseChannel    = "/amibake/e2e/layers/base/latest"
	appChannel     = "/amibake/e2e/layers/app/latest"
	secretParam    = "/amibake/e2e/secret/token"
	secretValue    = "s3cr3t-value-that-must-not-leak"
	pluginSource   = "github.com/amibake/amibake"
	buildTimeout   = 5 * time.Minute
	pluginBinaryGo = "github.com/amibake/amibake/cmd/packer-plugin-amibake"
)

// packerEnv is one packer installation: the binary and a plugin directory
// holding the amazon plugin and this tree's amibake plugin.
type packerEnv struct {
	bin       string
	pluginDir string
	home      string
}

var (
	pluginOnce  sync.Once
	pluginBuilt string
	pluginErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginBuilt != "" {
		_ = os.RemoveAll(filepath.Dir(pluginBuilt))
	}
	os.Exit(code)
}

// buildPlugin builds packer-plugin-amibake once per test binary; TestMain
// removes it.
func buildPlugin(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		dir, err := os.MkdirTemp("", "amibake-plugin-e2e-")
		if err != nil {
			pluginErr = err
			return
		}
		pluginBuilt = filepath.Join(dir, "packer-plugin-amibake")
		cmd := exec.Command("go", "build", "-o", pluginBuilt, pluginBinaryGo)
		if out, err := cmd.CombinedOutput(); err != nil {
			pluginErr = fmt.Errorf("go build plugin: %v\n%s", err, out)
		}
	})
	require.NoError(t, pluginErr)
	return pluginBuilt
}

// newPackerEnv makes a private plugin directory with the amazon plugin
// (symlinked from the tools cache) and installs the amibake plugin into it.
func newPackerEnv(t *testing.T) *packerEnv {
	t.Helper()
	bin, toolsPlugins := testutil.Packer(t)
	pe := &packerEnv{bin: bin, pluginDir: t.TempDir(), home: t.TempDir()}

	amazon := filepath.Join("github.com", "hashicorp", "amazon")
	src := filepath.Join(toolsPlugins, amazon)
	entries, err := os.ReadDir(src)
	require.NoError(t, err, "amazon plugin in the tools cache")
	require.NoError(t, os.MkdirAll(filepath.Join(pe.pluginDir, amazon), 0o755))
	for _, e := range entries {
		require.NoError(t, os.Symlink(filepath.Join(src, e.Name()), filepath.Join(pe.pluginDir, amazon, e.Name())))
	}

	out, err := pe.run(t, nil, "", "plugins", "install", "--path", buildPlugin(t), pluginSource)
	require.NoError(t, err, out)
	out, err = pe.run(t, nil, "", "plugins", "installed")
	require.NoError(t, err, out)
	require.Contains(t, out, "packer-plugin-amibake_v")
	require.Contains(t, out, "packer-plugin-amazon_v")
	return pe
}

// command prepares packer with a clean environment: nothing from the
// developer's AWS setup (profiles, CA bundle, real keys) reaches it.
func (pe *packerEnv) command(ctx context.Context, t *testing.T, extraEnv []string, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, pe.bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + pe.home,
		"TMPDIR=" + t.TempDir(),
		"CHECKPOINT_DISABLE=1",
		"PACKER_PLUGIN_PATH=" + pe.pluginDir,
		"PACKER_NO_COLOR=1",
	}, extraEnv...)
	return cmd
}

// run runs packer to the end and returns its combined output.
func (pe *packerEnv) run(t *testing.T, extraEnv []string, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := pe.command(ctx, t, extraEnv, dir, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// buildResult is what one `packer build -machine-readable` produced.
type buildResult struct {
	out       string
	log       string // PACKER_LOG output, plugins included
	err       error
	artifacts []string // artifact ids
}

// render writes tmpl with data into a fresh directory, with extra files.
func render(t *testing.T, tmpl string, data any, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	var hcl bytes.Buffer
	require.NoError(t, template.Must(template.New("t").Parse(tmpl)).Execute(&hcl, data))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "build.pkr.hcl"), hcl.Bytes(), 0o644))
	return dir
}

// buildEnv is packer's environment for a build against the sandbox, with
// the debug log in dir; the log is shown if the test fails.
func buildEnv(t *testing.T, sb *sandbox.Sandbox, dir string) []string {
	t.Helper()
	logPath := filepath.Join(dir, "packer.log")
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("%s:\n%s", logPath, tailString(string(b), 12000))
			}
		}
	})
	return append(sb.Env(sandbox.DefaultAccount, e2eRegion), "PACKER_LOG=1", "PACKER_LOG_PATH="+logPath)
}

// build renders tmpl and runs packer build on it.
func (pe *packerEnv) build(t *testing.T, sb *sandbox.Sandbox, tmpl string, data any, files map[string]string) buildResult {
	t.Helper()
	dir := render(t, tmpl, data, files)
	out, err := pe.run(t, buildEnv(t, sb, dir), dir, "build", "-machine-readable", "build.pkr.hcl")
	res := buildResult{out: out, err: err}
	if b, rerr := os.ReadFile(filepath.Join(dir, "packer.log")); rerr == nil {
		res.log = string(b)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		// timestamp,target,artifact,N,id,VALUE
		if len(f) >= 6 && f[2] == "artifact" && f[4] == "id" {
			res.artifacts = append(res.artifacts, strings.ReplaceAll(strings.Join(f[5:], ","), "%!(PACKER_COMMA)", ","))
		}
	}
	return res
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// amiOf returns the AMI of e2eRegion a build produced. Packer lists the
// builder's artifact and the post-processor's (the same one, passed on).
func amiOf(t *testing.T, res buildResult) string {
	t.Helper()
	require.NotEmpty(t, res.artifacts, res.out)
	for _, a := range res.artifacts {
		require.Equal(t, res.artifacts[0], a, "every artifact is the one AMI set")
	}
	for _, part := range strings.Split(res.artifacts[0], ",") {
		if r, ami, ok := strings.Cut(part, ":"); ok && r == e2eRegion {
			return ami
		}
	}
	t.Fatalf("no %s AMI in artifact %q", e2eRegion, res.artifacts[0])
	return ""
}

type tmplData struct {
	Endpoint      string
	Region        string
	Name          string
	ParentChannel string
	Channel       string
	Layer         string
	Steps         string
}

const buildTemplate = `
packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.6"
    }
    amibake = {
      source  = "github.com/amibake/amibake"
      version = ">= 0.1.0"
    }
  }
}
{{ if .ParentChannel }}
data "amibake-channel" "parent" {
  parameter = "{{ .ParentChannel }}"
  region    = "{{ .Region }}"
  endpoint  = "{{ .Endpoint }}"
}
{{ end }}
source "amazon-ebs" "layer" {
  region        = "{{ .Region }}"
  instance_type = "t3.small"
  ami_name      = "{{ .Name }}"
{{- if .ParentChannel }}
  source_ami = data.amibake-channel.parent.image_id
{{- else }}
  source_ami_filter {
    owners      = ["amazon"]
    most_recent = true
    filters = {
      name         = "al2023-ami-*"
      architecture = "x86_64"
    }
  }
{{- end }}
  communicator = "none"
  tags = { "amibake:layer" = "{{ .Layer }}" }

  custom_endpoint_ec2        = "{{ .Endpoint }}"
  access_key                 = "` + sandbox.AccessKeyID + `"
  secret_key                 = "` + sandbox.SecretAccessKey + `"
  skip_credential_validation = true
  skip_metadata_api_check    = true
  skip_region_validation     = true
  aws_polling {
    delay_seconds = 1
    max_attempts  = 60
  }
}

build {
  name    = "{{ .Layer }}"
  sources = ["source.amazon-ebs.layer"]

  provisioner "amibake" {
    region                 = "{{ .Region }}"
    endpoint               = "{{ .Endpoint }}"
    access_key             = "` + sandbox.AccessKeyID + `"
    secret_key             = "` + sandbox.SecretAccessKey + `"
    poll_interval          = "100ms"
    step_timeout           = "2m"
    instance_ready_timeout = "1m"
{{ .Steps }}
  }

  post-processor "amibake-lineage" {
    region        = "{{ .Region }}"
    endpoint      = "{{ .Endpoint }}"
    channels      = ["{{ .Channel }}"]
    tags          = { "amibake:fingerprint" = "fp-{{ .Layer }}", "amibake:build-id" = "e2e-{{ .Name }}" }
    poll_interval = "100ms"
    wait_timeout  = "2m"
  }
}
`

const baseSteps = `
    step {
      name   = "base/packages"
      script = "install.sh"
      env    = { GREETING = "it's \"quoted\" $HOME" }
      secret_env = { TOKEN = "` + secretParam + `" }
    }
    step {
      name    = "base/motd"
      inline  = ["echo 'welcome' > /etc/motd", "echo done"]
      timeout = "5m"
    }
`

const appSteps = `
    step {
      name   = "app/runtime"
      inline = ["dnf install -y nginx"]
    }
`

const failingSteps = `
    step {
      name   = "base/ok"
      inline = ["echo fine"]
    }
    step {
      name   = "base/broken"
      script = "broken.sh"
    }
    step {
      name   = "base/never"
      inline = ["echo never"]
    }
`

// stepNames returns the image's recorded step names.
func stepNames(sb *sandbox.Sandbox, ami string) (steps []string, packages map[string]string, ok bool) {
	sb.Do(func(w *sandbox.World) {
		img := w.EC2.Images[ami]
		if img == nil {
			return
		}
		ok = true
		for _, s := range img.Content.Steps {
			steps = append(steps, s.Name)
		}
		packages = img.Content.Clone().Packages
	})
	return steps, packages, ok
}

// liveInstances lists instances that are not terminated or terminating.
func liveInstances(sb *sandbox.Sandbox) []string {
	var live []string
	sb.Do(func(w *sandbox.World) {
		for id, inst := range w.EC2.Instances {
			if inst.State != sandbox.StateTerminated && inst.State != sandbox.StateShuttingDown {
				live = append(live, id+" ("+inst.State+")")
			}
		}
	})
	return live
}

func channel(t *testing.T, sb *sandbox.Sandbox, name string) *ssmtypes.Parameter {
	t.Helper()
	out, err := ssm.NewFromConfig(sb.Config).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
	require.NoError(t, err, "channel %s", name)
	return out.Parameter
}

func TestPackerBuildWithPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end packer build")
	}
	pe := newPackerEnv(t)
	sb := sandbox.Start(t)
	ssmc := ssm.NewFromConfig(sb.Config)
	_, err := ssmc.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(secretParam), Value: aws.String(secretValue), Type: ssmtypes.ParameterTypeSecureString,
	})
	require.NoError(t, err)

	files := map[string]string{"install.sh": "#!/bin/bash\ndnf install -y jq\n", "broken.sh": "echo about to fail >&2\nexit 1\n"}

	// Parent layer: AL2023 → base.
	base := pe.build(t, sb, buildTemplate, tmplData{
		Endpoint: sb.URL(), Region: e2eRegion, Name: "e2e-base", Layer: "base", Channel: baseChannel, Steps: baseSteps,
	}, files)
	require.NoError(t, base.err, base.out)
	baseAMI := amiOf(t, base)

	steps, pkgs, ok := stepNames(sb, baseAMI)
	require.True(t, ok, "AMI %s exists in the sandbox", baseAMI)
	assert.Equal(t, []string{"base/packages", "base/motd"}, steps)
	assert.Contains(t, pkgs, "jq")

	p := channel(t, sb, baseChannel)
	assert.Equal(t, baseAMI, aws.ToString(p.Value))
	assert.Equal(t, "aws:ec2:image", aws.ToString(p.DataType))
	assert.Equal(t, ssmtypes.ParameterTypeString, p.Type)

	sb.Do(func(w *sandbox.World) {
		img := w.EC2.Images[baseAMI]
		assert.Equal(t, "fp-base", img.Tags["amibake:fingerprint"])
		assert.Equal(t, "base", img.Tags["amibake:layer"])
		for _, bd := range img.BlockDevices {
			if snap := w.EC2.Snapshots[bd.SnapshotID]; snap != nil {
				assert.Equal(t, "fp-base", snap.Tags["amibake:fingerprint"], "snapshot %s", snap.ID)
			}
		}
	})
	assert.Empty(t, liveInstances(sb), "the build instance is gone")
	timeouts := map[string][]string{}
	sb.Do(func(w *sandbox.World) {
		for _, sc := range w.SSM.Scopes {
			for _, cmd := range sc.Commands {
				assert.Equal(t, "AWS-RunShellScript", cmd.DocumentName)
				timeouts[cmd.Comment] = cmd.Parameters["executionTimeout"]
			}
		}
	})
	assert.Equal(t, map[string][]string{
		"amibake step base/packages": {"120"}, // step_timeout
		"amibake step base/motd":     {"300"}, // the step's own timeout
	}, timeouts)
	assert.NotContains(t, base.out, secretValue, "the secret never reaches packer")
	assert.False(t, strings.Contains(base.log, secretValue), "nor its debug log")
	assert.Contains(t, base.out, "base/packages")

	// Child layer: base (from its channel) → app.
	app := pe.build(t, sb, buildTemplate, tmplData{
		Endpoint: sb.URL(), Region: e2eRegion, Name: "e2e-app", Layer: "app", ParentChannel: baseChannel, Channel: appChannel, Steps: appSteps,
	}, files)
	require.NoError(t, app.err, app.out)
	appAMI := amiOf(t, app)
	require.NotEqual(t, baseAMI, appAMI)
	steps, pkgs, _ = stepNames(sb, appAMI)
	assert.Equal(t, []string{"base/packages", "base/motd", "app/runtime"}, steps, "child content is parent steps then child steps")
	assert.Contains(t, pkgs, "jq")
	assert.Contains(t, pkgs, "nginx")
	assert.Equal(t, appAMI, aws.ToString(channel(t, sb, appChannel).Value))
	assert.Empty(t, liveInstances(sb))

	// A failing step fails the build, names the step, runs nothing after
	// it, moves no channel and leaves no instance running.
	versionBefore := channel(t, sb, baseChannel).Version
	bad := pe.build(t, sb, buildTemplate, tmplData{
		Endpoint: sb.URL(), Region: e2eRegion, Name: "e2e-bad", Layer: "base", Channel: baseChannel, Steps: failingSteps,
	}, files)
	require.Error(t, bad.err, bad.out)
	assert.Empty(t, bad.artifacts)
	assert.Contains(t, bad.out, `step "base/broken" failed`)
	assert.NotContains(t, bad.out, `"base/never" over SSM`)
	p = channel(t, sb, baseChannel)
	assert.Equal(t, baseAMI, aws.ToString(p.Value), "the channel did not move")
	assert.Equal(t, versionBefore, p.Version)
	assert.Empty(t, liveInstances(sb), "no instance left running after a failed build")

	// A revoked parent is refused before any instance starts.
	sb.Do(func(w *sandbox.World) { w.EC2.Images[baseAMI].Tags["amibake:revoked"] = "CVE-2026-0001" })
	revoked := pe.build(t, sb, buildTemplate, tmplData{
		Endpoint: sb.URL(), Region: e2eRegion, Name: "e2e-app2", Layer: "app", ParentChannel: baseChannel, Channel: appChannel, Steps: appSteps,
	}, files)
	require.Error(t, revoked.err, revoked.out)
	assert.Contains(t, revoked.out, "revoked")
	assert.Contains(t, revoked.out, "CVE-2026-0001")
	assert.Equal(t, appAMI, aws.ToString(channel(t, sb, appChannel).Value))
}

// TestPackerInterruptCancelsRunningStep interrupts packer (as amibake's
// signal forwarding does) while a step runs: the provisioner
// cancels the SSM command, packer cleans up its instance, nothing is
// published.
func TestPackerInterruptCancelsRunningStep(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end packer build")
	}
	pe := newPackerEnv(t)
	sb := sandbox.Start(t)
	dir := render(t, buildTemplate, tmplData{
		Endpoint: sb.URL(), Region: e2eRegion, Name: "e2e-interrupted", Layer: "base", Channel: baseChannel,
		Steps: `
    step {
      name   = "base/long"
      inline = ["sleep 600"]
    }
`,
	}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := pe.command(ctx, t, buildEnv(t, sb, dir), dir, "build", "-machine-readable", "build.pkr.hcl")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	require.NoError(t, cmd.Start())

	var (
		mu      sync.Mutex
		out     strings.Builder
		once    sync.Once
		started = make(chan struct{})
		drained = make(chan struct{})
	)
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), `step "base/long": SSM command`) {
				once.Do(func() { close(started) })
			}
		}
	}()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }

	select {
	case <-started:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the step never started:\n%s", output())
	}
	interrupted := time.Now()
	// SIGTERM to packer itself: its panicwrap parent forwards SIGTERM to
	// the real packer process but not SIGINT, which a terminal delivers to
	// the whole process group instead.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	_ = pw.Close()
	<-drained
	require.Error(t, err, output())
	assert.Less(t, time.Since(interrupted), time.Minute, "packer stopped promptly")

	// The provisioner cancels the command when packer cancels it, but
	// packer does not wait for a cancelled provisioner before tearing down
	// the instance and the plugin, so on a loaded machine the instance can
	// go first. Either way the step must never complete: let the sandbox
	// settle the invocation (an instance that is gone fails it) and check.
	sb.AdvanceClock(time.Hour)
	var statuses []string
	sb.Do(func(w *sandbox.World) {
		for _, sc := range w.SSM.Scopes {
			for _, id := range sc.CommandOrder {
				for _, inv := range sc.Commands[id].Invocations {
					statuses = append(statuses, inv.Status)
				}
			}
		}
	})
	require.Len(t, statuses, 1, output())
	assert.Contains(t, []string{"Cancelled", "Failed"}, statuses[0], "the running command was cancelled or died with its instance, never completed\n%s", output())
	assert.Empty(t, liveInstances(sb), "packer cleaned up its instance")
	_, gerr := ssm.NewFromConfig(sb.Config).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(baseChannel)})
	var nf *ssmtypes.ParameterNotFound
	assert.ErrorAs(t, gerr, &nf, "nothing was published")
}
