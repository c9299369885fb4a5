package bake_test

// End-to-end: `amibake bake` in-process through root.Main, with the real
// packer binary, the real amazon plugin and packer-plugin-amibake built
// from this tree, against the in-tree sandbox, on a copy of the example
// project at the repository root.

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/internal/testutil"
)

const (
	project     = "acme-golden"
	home        = "us-east-1"
	away        = "eu-west-1"
	secretToken = "edr-t0ken-9c1b7e5a-must-not-leak"
	// The sandbox accepts any KMS key; packer refuses to share an AMI
	// encrypted with the default key, so the test project names one.
	kmsKey = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
)

var layers = []string{"linux", "foundation", "base", "app-web", "app-worker"}

var parentOf = map[string]string{"foundation": "linux", "base": "foundation", "app-web": "base", "app-worker": "base"}

// helperArgs, when set in the environment, makes the test binary act as
// the amibake command with these arguments (separated by \x1f): a process
// a test can kill -9.
const helperArgs = "AMIBAKE_E2E_HELPER_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(helperArgs); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := root.Main(ctx, append([]string{"amibake"}, strings.Split(args, "\x1f")...), root.NewFactory(iostreams.System()))
		stop()
		os.Exit(code)
	}
	code := m.Run()
	testutil.CleanupPluginDir()
	os.Exit(code)
}

// harness is one sandbox and one copy of the example project, with the
// process environment set as a user's shell would be for the sandbox.
type harness struct {
	t   *testing.T
	sb  *sandbox.Sandbox
	dir string
	ec2 map[string]*ec2.Client
	ssm *ssm.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end bake with real packer")
	}
	bin, pluginDir := testutil.PluginDir(t) // before HOME or anything else changes
	sb := sandbox.Start(t)
	h := &harness{t: t, sb: sb, dir: copyProject(t), ssm: ssm.NewFromConfig(sb.Config), ec2: map[string]*ec2.Client{}}
	for _, r := range []string{home, away} {
		h.ec2[r] = ec2.NewFromConfig(sb.ConfigFor(sandbox.DefaultAccount, r))
	}
	for _, kv := range sb.Env(sandbox.DefaultAccount, home) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AMIBAKE_PACKER", bin)
	t.Setenv("PACKER_PLUGIN_PATH", pluginDir)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("AMIBAKE_VAR_security_agent_token", secretToken)
	// Nothing from the machine's AWS setup reaches packer.
	for _, k := range []string{"AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return h
}

// copyProject copies the example project (the repository root's HCL,
// layers, recipes, fleets) into a temporary directory; should the project
// lose its customer KMS key, one is added (shared encrypted AMIs need one).
func copyProject(t *testing.T) string {
	t.Helper()
	root, err := testutil.RepoRoot()
	require.NoError(t, err)
	dst := t.TempDir()
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.IsDir() && strings.HasSuffix(name, ".hcl"):
			copyFile(t, filepath.Join(root, name), filepath.Join(dst, name))
		case e.IsDir() && (name == "layers" || name == "recipes" || name == "fleets"):
			require.NoError(t, filepath.WalkDir(filepath.Join(root, name), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(root, p)
				if d.IsDir() {
					return os.MkdirAll(filepath.Join(dst, rel), 0o755)
				}
				copyFile(t, p, filepath.Join(dst, rel))
				return nil
			}))
		}
	}
	hcl := readFile(t, filepath.Join(dst, "amibake.hcl"))
	if !regexp.MustCompile(`(?m)^\s*kms_key_id\s*=`).MatchString(hcl) {
		hcl = strings.Replace(hcl, `project "acme-golden" {`, `project "acme-golden" {`+"\n  kms_key_id = \""+kmsKey+"\"", 1)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dst, "amibake.hcl"), []byte(hcl), 0o644))
	return dst
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	st, err := os.Stat(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, b, st.Mode().Perm()))
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// run runs `amibake --chdir <project> ARGS…` in-process, as main does.
func (h *harness) run(ctx context.Context, args ...string) (int, string, string) {
	h.t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return h.sb.Config, nil }
	code := root.Main(ctx, append([]string{"amibake", "--chdir", h.dir}, args...), f)
	return code, out.String(), errOut.String()
}

type bakeResult struct {
	Layer     string            `json:"layer"`
	Status    string            `json:"status"`
	Action    string            `json:"action"`
	Reason    string            `json:"reason"`
	Detail    string            `json:"detail"`
	AMI       map[string]string `json:"ami"`
	Published bool              `json:"published"`
	BuildID   string            `json:"build_id"`
	Template  string            `json:"template"`
	Log       string            `json:"log"`
	Error     string            `json:"error"`
}

type bakeReport struct {
	RunID   string        `json:"run_id"`
	Results []*bakeResult `json:"results"`
	Built   int           `json:"built"`
	Reused  int           `json:"reused"`
	Failed  int           `json:"failed"`
	Skipped int           `json:"skipped"`
}

func (r *bakeReport) byLayer() map[string]*bakeResult {
	m := map[string]*bakeResult{}
	for _, res := range r.Results {
		m[res.Layer] = res
	}
	return m
}

func (r *bakeReport) statuses() map[string]string {
	m := map[string]string{}
	for _, res := range r.Results {
		m[res.Layer] = res.Status
	}
	return m
}

// bake runs `amibake -o json bake ARGS…` and decodes the report.
func (h *harness) bake(args ...string) (int, *bakeReport, string) {
	h.t.Helper()
	code, out, errOut := h.run(context.Background(), append([]string{"-o", "json", "bake"}, args...)...)
	rep := &bakeReport{}
	require.NoError(h.t, json.Unmarshal([]byte(out), rep), "stdout: %s\nstderr: %s", out, errOut)
	return code, rep, errOut
}

func (h *harness) channel(layer string) string {
	h.t.Helper()
	name := lineage.Paths{Prefix: "/amibake", Project: project}.Channel(layer, lineage.ChannelLatest)
	out, err := h.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
	require.NoError(h.t, err, name)
	return aws.ToString(out.Parameter.Value)
}

func (h *harness) image(region, id string) ec2types.Image {
	h.t.Helper()
	out, err := h.ec2[region].DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{id}})
	require.NoError(h.t, err, id)
	require.Len(h.t, out.Images, 1, id)
	return out.Images[0]
}

func tags(img ec2types.Image) map[string]string {
	m := map[string]string{}
	for _, t := range img.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// projectImages counts the project's AMIs per region (any state but
// deregistered).
func (h *harness) projectImages(region string) []ec2types.Image {
	h.t.Helper()
	out, err := h.ec2[region].DescribeImages(context.Background(), &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + lineage.TagProject), Values: []string{project}}},
	})
	require.NoError(h.t, err)
	return out.Images
}

// liveBuildInstances lists the project's build instances not terminated.
func (h *harness) liveBuildInstances() []string {
	h.t.Helper()
	out, err := h.ec2[home].DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + lineage.TagProject), Values: []string{project}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
		},
	})
	require.NoError(h.t, err)
	var ids []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	return ids
}

// bakeAll bakes the whole project from nothing and checks it worked.
func (h *harness) bakeAll() *bakeReport {
	h.t.Helper()
	code, rep, errOut := h.bake()
	require.Equal(h.t, 0, code, "stderr:\n%s", errOut)
	require.Len(h.t, rep.Results, len(layers))
	for _, r := range rep.Results {
		require.Equal(h.t, "built", r.Status, "%s: %s", r.Layer, r.Error)
	}
	return rep
}

// TestBakeFromNothing is issue test 1: every layer gets an AMI in every
// region, lineage tags chain, latest channels point at the build region's
// AMIs, and app-web's AMI holds the steps of every layer above it in order.
func TestBakeFromNothing(t *testing.T) {
	h := newHarness(t)
	// Watch Parameter Store while the bake runs: base's sensitive input
	// must exist as a SecureString for the build's duration only.
	type seen struct{ typ, value string }
	secrets := map[string]seen{}
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			out, err := h.ssm.GetParametersByPath(context.Background(), &ssm.GetParametersByPathInput{
				Path: aws.String("/amibake/" + project + "/builds"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true),
			})
			if err != nil {
				continue
			}
			for _, p := range out.Parameters {
				secrets[aws.ToString(p.Name)] = seen{string(p.Type), aws.ToString(p.Value)}
			}
		}
	}()
	rep := h.bakeAll()
	close(stop)
	<-watched
	require.Len(t, secrets, 1, "one sensitive input in the project")
	for name, s := range secrets {
		assert.Equal(t, seen{"SecureString", secretToken}, s)
		assert.True(t, strings.HasPrefix(name, "/amibake/"+project+"/builds/"+rep.byLayer()["base"].BuildID+"/secrets/"), name)
	}
	left, err := h.ssm.GetParametersByPath(context.Background(), &ssm.GetParametersByPathInput{Path: aws.String("/amibake/" + project + "/builds"), Recursive: aws.Bool(true)})
	require.NoError(t, err)
	assert.Empty(t, left.Parameters, "secrets are deleted when the build ends")
	res := rep.byLayer()
	assert.Equal(t, 5, rep.Built)

	for _, l := range layers {
		r := res[l]
		require.NotEmpty(t, r.AMI[home], l)
		require.NotEmpty(t, r.AMI[away], l)
		assert.Equal(t, r.AMI[home], h.channel(l), "%s latest channel", l)
		assert.FileExists(t, r.Template)
		assert.FileExists(t, r.Log)
		assert.True(t, strings.HasPrefix(r.Template, filepath.Join(h.dir, ".amibake", "builds", rep.RunID)), r.Template)

		img := h.image(home, r.AMI[home])
		assert.Equal(t, ec2types.ImageStateAvailable, img.State)
		tg := tags(img)
		assert.Equal(t, project, tg[lineage.TagProject])
		assert.Equal(t, l, tg[lineage.TagLayer])
		assert.Equal(t, r.BuildID, tg[lineage.TagBuildID])
		assert.Len(t, tg[lineage.TagFingerprint], 64)
		copyTags := tags(h.image(away, r.AMI[away]))
		assert.Equal(t, tg[lineage.TagFingerprint], copyTags[lineage.TagFingerprint], "%s: the copy carries the lineage", l)

		if p := parentOf[l]; p != "" {
			parentTags := tags(h.image(home, res[p].AMI[home]))
			assert.Equal(t, res[p].AMI[home], tg[lineage.TagParentAMI], "%s parent AMI", l)
			assert.Equal(t, parentTags[lineage.TagFingerprint], tg[lineage.TagParentFingerprint], "%s parent fingerprint", l)
		}
	}

	// The root layer records the upstream JeOS AMI it started from.
	src, err := h.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(src.Parameter.Value), tags(h.image(home, res["linux"].AMI[home]))[lineage.TagSource])

	// app-web's content: foundation's steps, then base's, then its own;
	// every layer (all under linux's patch block) ends with the patch
	// baseline's Install.
	content, ok := h.sb.ContentOf(res["app-web"].AMI[home])
	require.True(t, ok)
	var recipes []string
	for _, s := range content.Steps {
		r, _, _ := strings.Cut(s.Name, "/")
		if len(recipes) == 0 || recipes[len(recipes)-1] != r {
			recipes = append(recipes, r)
		}
	}
	assert.Equal(t, []string{
		"patch-baseline",                                                                                  // linux (no recipes)
		"ssm_agent", "cloudwatch_agent", "time_sync", "cis_hardening", "imds_hardening", "patch-baseline", // foundation
		"internal_ca", "log_shipping", "node_monitoring", "security_agent", "patch-baseline", // base
		"nginx_runtime", "patch-baseline", // app-web
	}, recipes, "steps: %v", content.Steps)

	assert.Empty(t, h.liveBuildInstances(), "every build instance is terminated")
	assertNoSecret(t, h.dir, "")
}

// assertNoSecret greps every file under dir (templates, logs) and the
// given output for the seeded secret.
func assertNoSecret(t *testing.T, dir, output string) {
	t.Helper()
	assert.NotContains(t, output, secretToken)
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		assert.NotContains(t, string(b), secretToken, "secret in %s", p)
		return nil
	}))
	assert.Positive(t, n)
}

// appendLine appends a line to a file of the test project.
func (h *harness) appendLine(rel, line string) {
	h.t.Helper()
	p := filepath.Join(h.dir, filepath.FromSlash(rel))
	b := readFile(h.t, p)
	if !strings.HasSuffix(b, "\n") {
		b += "\n"
	}
	require.NoError(h.t, os.WriteFile(p, []byte(b+line+"\n"), 0o755))
}

type planReport struct {
	Layers []struct {
		Layer  string `json:"layer"`
		Action string `json:"action"`
		Reason string `json:"reason"`
		Detail string `json:"detail"`
	} `json:"layers"`
}

func (h *harness) plan() map[string]string {
	h.t.Helper()
	code, out, errOut := h.run(context.Background(), "-o", "json", "plan")
	require.Equal(h.t, 0, code, errOut)
	var p planReport
	require.NoError(h.t, json.Unmarshal([]byte(out), &p), out)
	m := map[string]string{}
	for _, l := range p.Layers {
		m[l.Layer] = l.Action + ":" + l.Reason
	}
	return m
}

// TestBakeRerunAndChange is issue tests 2 and 3: a re-run after success
// builds nothing; one changed byte in a base recipe script rebuilds base
// and its descendants only.
func TestBakeRerunAndChange(t *testing.T) {
	h := newHarness(t)
	first := h.bakeAll().byLayer()

	t.Run("rerun builds nothing", func(t *testing.T) {
		h.sb.ResetLog()
		code, rep, errOut := h.bake()
		require.Equal(t, 0, code, errOut)
		for _, l := range layers {
			assert.Equal(t, "reused", rep.byLayer()[l].Status, l)
			assert.Equal(t, first[l].AMI, rep.byLayer()[l].AMI, l)
			assert.False(t, rep.byLayer()[l].Published, "%s: the channel already points at it", l)
		}
		assert.Zero(t, h.sb.CountCalls("ec2", "RunInstances"), "no packer build")
		assert.Zero(t, h.sb.CountCalls("ec2", "CreateImage"))
		assert.Equal(t, 1, h.sb.CountCalls("ssm", "PutParameter"), "the lease only: no channel written")
		assert.Equal(t, 2, h.sb.CountCalls("ec2", "DescribeImages"), "the plan's one query per region; nothing re-read per layer")
	})

	t.Run("one byte of a base recipe rebuilds base and below", func(t *testing.T) {
		h.appendLine("recipes/log_shipping/install.sh", "#")
		assert.Equal(t, map[string]string{
			"linux":      "reuse:up-to-date",
			"foundation": "reuse:up-to-date",
			"base":       "build:recipe-changed",
			"app-web":    "build:parent-rebuilt",
			"app-worker": "build:parent-rebuilt",
		}, h.plan())

		h.sb.ResetLog()
		code, rep, errOut := h.bake()
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, map[string]string{
			"linux": "reused", "foundation": "reused", "base": "built", "app-web": "built", "app-worker": "built",
		}, rep.statuses())
		assert.Equal(t, 3, h.sb.CountCalls("ec2", "RunInstances"), "exactly three packer builds")
		res := rep.byLayer()
		assert.Equal(t, first["foundation"].AMI, res["foundation"].AMI)
		assert.NotEqual(t, first["base"].AMI[home], res["base"].AMI[home])
		assert.Equal(t, res["base"].AMI[home], tags(h.image(home, res["app-web"].AMI[home]))[lineage.TagParentAMI])
		for _, l := range []string{"base", "app-web", "app-worker"} {
			assert.Equal(t, res[l].AMI[home], h.channel(l), l)
		}
		assert.Empty(t, h.liveBuildInstances())
	})
}

// TestBakeFailedLayer is issue test 5: one app layer's step fails; its
// sibling still publishes, the failure names the log, exit code 3.
func TestBakeFailedLayer(t *testing.T) {
	h := newHarness(t)
	h.appendLine("recipes/worker_runtime/install.sh", "exit 1")

	code, out, errOut := h.run(context.Background(), "bake")
	t.Logf("stdout:\n%s", out)
	require.Equal(t, 3, code, "partial failure\nstdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Regexp(t, `(?m)^app-web\s+built\s+eu-west-1\s+ami-\w+\s+\S+\s+new\n\s+us-east-1\s+ami-`, out)
	assert.Regexp(t, `(?m)^app-worker\s+failed\s+-\s+-\s+`, out)
	assert.Contains(t, out, "Bake: 4 built, 0 reused, 1 failed, 0 skipped.")
	logs, err := filepath.Glob(filepath.Join(h.dir, ".amibake", "builds", "*", "app-worker.log"))
	require.NoError(t, err)
	require.Len(t, logs, 1)
	assert.Contains(t, out, logs[0], "the summary names the failed layer's log")
	assert.Contains(t, readFile(t, logs[0]), "worker_runtime")

	// app-web is published; app-worker has no channel.
	webAMI := h.channel("app-web")
	assert.Regexp(t, `^ami-`, webAMI)
	name := lineage.Paths{Prefix: "/amibake", Project: project}.Channel("app-worker", lineage.ChannelLatest)
	_, err = h.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
	assert.Error(t, err, "no channel for the failed layer")
	assert.Empty(t, h.liveBuildInstances(), "packer cleaned up the failed build's instance")
	assertNoSecret(t, h.dir, out+errOut)
}

// TestBakeSourceMoved is issue test 4: a new upstream AL2023 release moves
// the public parameter; every layer rebuilds, the root from the new AMI.
func TestBakeSourceMoved(t *testing.T) {
	h := newHarness(t)
	first := h.bakeAll().byLayer()

	release := "2023.9." + time.Now().UTC().Add(-24*time.Hour).Format("20060102") + ".0"
	_, err := h.sb.PublishAmazonLinuxRelease(release)
	require.NoError(t, err)
	src, err := h.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
	require.NoError(t, err)
	newSource := aws.ToString(src.Parameter.Value)
	require.NotEqual(t, tags(h.image(home, first["linux"].AMI[home]))[lineage.TagSource], newSource, "the parameter moved")

	p := h.plan()
	assert.Equal(t, "build:source-moved", p["linux"])
	for _, l := range layers[1:] {
		assert.Equal(t, "build:parent-rebuilt", p[l], l)
	}

	res := h.bakeAll().byLayer()
	assert.Equal(t, newSource, tags(h.image(home, res["linux"].AMI[home]))[lineage.TagSource])
	for _, l := range layers {
		assert.NotEqual(t, first[l].AMI[home], res[l].AMI[home], l)
		assert.Equal(t, res[l].AMI[home], h.channel(l), l)
	}
}

// TestBakeRecoversAfterCrash: what a killed bake leaves — an orphaned build
// instance, a build secret, an AMI that finished after the crash with no
// channel moved — is cleaned up or adopted by the next bake, which builds
// nothing.
func TestBakeRecoversAfterCrash(t *testing.T) {
	h := newHarness(t)
	first := h.bakeAll().byLayer()
	ctx := context.Background()

	// An orphaned build instance of this project, and one of another project.
	run := func(proj string) string {
		out, err := h.ec2[home].RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(first["base"].AMI[home]), InstanceType: ec2types.InstanceTypeT3Small,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{
				{Key: aws.String(lineage.TagProject), Value: aws.String(proj)},
				{Key: aws.String(lineage.TagRole), Value: aws.String(lineage.RoleBuild)},
			}}},
		})
		require.NoError(t, err)
		return aws.ToString(out.Instances[0].InstanceId)
	}
	orphan, other := run(project), run("someone-else")
	// A build secret the crashed run never deleted.
	secret := "/amibake/" + project + "/builds/b-crashed-base/secrets/security_agent-install-SECURITY_AGENT_TOKEN"
	_, err := h.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(secret), Value: aws.String(secretToken), Type: "SecureString"})
	require.NoError(t, err)
	// app-web's AMI was still being created when the run died, so its
	// channel never moved.
	webAMI := first["app-web"].AMI[home]
	h.sb.Do(func(w *sandbox.World) {
		img := w.EC2.Images[webAMI]
		img.State, img.AvailableAt = "pending", time.Now().Add(1500*time.Millisecond)
	})
	_, err = h.ssm.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(lineage.Paths{Prefix: "/amibake", Project: project}.Channel("app-web", lineage.ChannelLatest))})
	require.NoError(t, err)

	h.sb.ResetLog()
	code, out, errOut := h.run(ctx, "-o", "json", "bake")
	require.Equal(t, 0, code, errOut)
	var rep struct {
		bakeReport
		Recovered struct {
			TerminatedInstances map[string][]string `json:"terminated_instances"`
			DeletedSecrets      []string            `json:"deleted_secrets"`
		} `json:"recovered"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, map[string][]string{home: {orphan}}, rep.Recovered.TerminatedInstances)
	assert.Equal(t, []string{secret}, rep.Recovered.DeletedSecrets)
	assert.Contains(t, errOut, "terminated orphaned build instances in us-east-1: "+orphan)
	assert.Zero(t, h.sb.CountCalls("ec2", "RunInstances"), "the AMI that finished after the crash is adopted, not rebuilt")

	web := rep.byLayer()["app-web"]
	assert.Equal(t, "reused", web.Status)
	assert.True(t, web.Published)
	assert.Equal(t, webAMI, h.channel("app-web"))
	assert.Equal(t, ec2types.ImageStateAvailable, h.image(home, webAMI).State)

	states := map[string]string{}
	desc, err := h.ec2[home].DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{orphan, other}})
	require.NoError(t, err)
	for _, r := range desc.Reservations {
		for _, i := range r.Instances {
			states[aws.ToString(i.InstanceId)] = string(i.State.Name)
		}
	}
	assert.Contains(t, []string{"shutting-down", "terminated"}, states[orphan])
	assert.Equal(t, "running", states[other], "another project's instance is not ours to clean")
	assertNoSecret(t, h.dir, out+errOut)
}

// TestBakeInterrupted is issue test 6: the context is cancelled (SIGINT)
// while base's step runs; packer is interrupted and cleans up, the bake
// exits 130 and leaves nothing running; the re-run finishes the job with
// one AMI per layer and region.
func TestBakeInterrupted(t *testing.T) {
	h := newHarness(t)
	h.appendLine("recipes/internal_ca/trust.sh", "sleep 3")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			out, err := h.ec2[home].DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
				{Name: aws.String("tag:" + lineage.TagLayer), Values: []string{"base"}},
				{Name: aws.String("instance-state-name"), Values: []string{"running"}},
			}})
			if err == nil && len(out.Reservations) > 0 {
				time.Sleep(700 * time.Millisecond) // into the step
				cancel()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	code, out, errOut := h.run(ctx, "bake")
	require.Equal(t, 130, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Regexp(t, `(?m)^base\s+failed\s`, out)
	assert.Regexp(t, `(?m)^app-web\s+skipped\s`, out)
	assert.Empty(t, h.liveBuildInstances(), "packer terminated its instance on the interrupt")
	lockOut, err := h.ssm.GetParametersByPath(context.Background(), &ssm.GetParametersByPathInput{Path: aws.String("/amibake/" + project), Recursive: aws.Bool(true)})
	require.NoError(t, err)
	for _, p := range lockOut.Parameters {
		assert.NotContains(t, aws.ToString(p.Name), "/builds/", "secret left behind")
		assert.NotEqual(t, "/amibake/"+project+"/lock", aws.ToString(p.Name), "lock released")
	}

	code, rep, errOut := h.bake()
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, map[string]string{
		"linux": "reused", "foundation": "reused", "base": "built", "app-web": "built", "app-worker": "built",
	}, rep.statuses())
	for _, region := range []string{home, away} {
		count := map[string]int{}
		for _, img := range h.projectImages(region) {
			count[tags(img)[lineage.TagLayer]]++
		}
		for _, l := range layers {
			assert.Equal(t, 1, count[l], "%s: one AMI of %s", region, l)
		}
	}
	assert.Empty(t, h.liveBuildInstances())
}

// TestBakeLockHeld: another run holds the project lock: exit 4, nothing built.
func TestBakeLockHeld(t *testing.T) {
	h := newHarness(t)
	l := &lock.Locker{SSM: h.ssm, Name: "/amibake/" + project + "/lock", Holder: "ci-job-7", Command: "bake"}
	held, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)
	defer held.Release(context.Background())

	code, _, errOut := h.run(context.Background(), "bake")
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut, "ci-job-7")
	assert.Zero(t, h.sb.CountCalls("ec2", "RunInstances"))
}

// TestBakeDryRun: the plan and the templates bake would run; no lock, no
// change in AWS.
func TestBakeDryRun(t *testing.T) {
	h := newHarness(t)
	code, out, errOut := h.run(context.Background(), "bake", "--dry-run", "app-web")
	require.Equal(t, 0, code, errOut)
	for _, l := range []string{"linux", "foundation", "base", "app-web"} {
		assert.Regexp(t, `(?m)^`+l+`\s+build\s+new\s+-\s+\.amibake/builds/b-[^/]+/`+l+`\.pkr\.hcl$`, out)
	}
	assert.NotContains(t, out, "app-worker")
	assert.Contains(t, out, "nothing was changed")
	assert.Zero(t, h.sb.CountCalls("ssm", "PutParameter"), "no lock, no channel, no secret")
	assert.Zero(t, h.sb.CountCalls("ec2", "RunInstances"))
	assertNoSecret(t, h.dir, out+errOut)
}

// TestBakeNothingSucceeded: the only planned layer fails: exit 1, not 3.
func TestBakeNothingSucceeded(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.bake("linux")
	require.Equal(t, 0, code, errOut)
	h.appendLine("recipes/ssm_agent/install.sh", "exit 1")

	code, rep, errOut := h.bake("foundation")
	assert.Equal(t, 1, code, errOut)
	assert.Equal(t, map[string]string{"foundation": "failed"}, rep.statuses(), "linux is up to date: not in the plan")
	assert.Contains(t, rep.Results[0].Error, "ssm_agent")
	assert.NotEmpty(t, rep.Results[0].Log)
}

// TestBakeKilled is issue test 6 with kill -9: amibake dies mid-build;
// packer, in a process group of its own, finishes the build it was
// running. After the lease is broken, the re-run adopts that AMI instead
// of baking a duplicate, builds the rest, and leaves nothing running.
func TestBakeKilled(t *testing.T) {
	h := newHarness(t)
	h.appendLine("recipes/internal_ca/trust.sh", "sleep 2")
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperArgs+"="+strings.Join([]string{"--chdir", h.dir, "bake"}, "\x1f"))
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	killed := false
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		res, err := h.ec2[home].DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + lineage.TagLayer), Values: []string{"base"}},
			{Name: aws.String("instance-state-name"), Values: []string{"running"}},
		}})
		if err == nil && len(res.Reservations) > 0 {
			time.Sleep(500 * time.Millisecond)
			require.NoError(t, cmd.Process.Kill())
			killed = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Wait()
	require.True(t, killed, "base never started:\n%s", stderr.String())

	// The orphaned packer finishes base: instance gone, channel moved.
	name := lineage.Paths{Prefix: "/amibake", Project: project}.Channel("base", lineage.ChannelLatest)
	require.Eventually(t, func() bool {
		_, err := h.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
		return err == nil && len(h.liveBuildInstances()) == 0
	}, 60*time.Second, 100*time.Millisecond, "the orphaned packer finishes its build")
	baseAMI := h.channel("base")
	buildParams := func() int {
		out, err := h.ssm.GetParametersByPath(context.Background(), &ssm.GetParametersByPathInput{Path: aws.String("/amibake/" + project + "/builds"), Recursive: aws.Bool(true)})
		require.NoError(t, err)
		return len(out.Parameters)
	}
	assert.Equal(t, 1, buildParams(), "the dead run never deleted base's secret")

	// The dead run's lease blocks the next one until it is broken.
	code, _, errOut := h.run(context.Background(), "bake")
	require.Equal(t, 4, code, errOut)
	code, _, errOut = h.run(context.Background(), "lock", "release", "--force")
	require.Equal(t, 0, code, errOut)

	code, rep, errOut := h.bake()
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, map[string]string{
		"linux": "reused", "foundation": "reused", "base": "reused", "app-web": "built", "app-worker": "built",
	}, rep.statuses())
	assert.Equal(t, baseAMI, rep.byLayer()["base"].AMI[home], "the orphan's AMI is adopted")
	assert.Zero(t, buildParams(), "recovery deleted the leftover secret")
	for _, region := range []string{home, away} {
		count := map[string]int{}
		for _, img := range h.projectImages(region) {
			count[tags(img)[lineage.TagLayer]]++
		}
		for _, l := range layers {
			assert.Equal(t, 1, count[l], "%s: one AMI of %s", region, l)
		}
	}
	assert.Empty(t, h.liveBuildInstances())
}
