package run_test

// End-to-end: `amibake patch run` in-process through root.Main, with the
// real packer binary, the real amazon plugin and packer-plugin-amibake
// built from this tree, against the in-tree sandbox, on a copy of the
// example project: bake it, release patches, rebake.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/internal/testutil"
)

const home = "us-east-1"

var (
	layers = []string{"linux", "foundation", "base", "app-web", "app-worker"}
	paths  = lineage.Paths{Prefix: "/amibake", Project: "acme-golden"}
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupPluginDir()
	os.Exit(code)
}

type harness struct {
	t   *testing.T
	sb  *sandbox.Sandbox
	dir string
	ec2 *ec2.Client
	ssm *ssm.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end patch run with real packer")
	}
	bin, pluginDir := testutil.PluginDir(t)
	sb := sandbox.Start(t)
	h := &harness{t: t, sb: sb, dir: channeltest.CopyProject(t), ec2: ec2.NewFromConfig(sb.Config), ssm: ssm.NewFromConfig(sb.Config)}
	for _, kv := range sb.Env(sandbox.DefaultAccount, home) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AMIBAKE_PACKER", bin)
	t.Setenv("PACKER_PLUGIN_PATH", pluginDir)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("AMIBAKE_VAR_security_agent_token", "edr-t0ken-patch-run")
	for _, k := range []string{"AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return h
}

// run runs `amibake --chdir <project> ARGS…` in-process on the sandbox's clock.
func (h *harness) run(args ...string) (int, string, string) {
	h.t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return h.sb.Config, nil }
	f.Now = h.sb.Clock().Now
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", h.dir}, args...), f)
	return code, out.String(), errOut.String()
}

type result struct {
	Layer      string            `json:"layer"`
	Status     string            `json:"status"`
	Reason     string            `json:"reason"`
	Detail     string            `json:"detail"`
	AMI        map[string]string `json:"ami"`
	Published  bool              `json:"published"`
	PatchLevel string            `json:"patch_level"`
	Verified   bool              `json:"verified"`
	Error      string            `json:"error"`
}

type report struct {
	Applied  bool `json:"applied"`
	Decision struct {
		Roots []string `json:"roots"`
		Stale []string `json:"stale"`
	} `json:"decision"`
	Results  []*result                  `json:"results"`
	Verified map[string]json.RawMessage `json:"verified"`
	Rebaked  int                        `json:"rebaked"`
	Failed   int                        `json:"failed"`
	Skipped  int                        `json:"skipped"`
	Message  string                     `json:"message"`
}

func (h *harness) patchRun(wantCode int, args ...string) *report {
	h.t.Helper()
	code, out, errOut := h.run(append([]string{"-o", "json", "patch", "run", "--poll", "20ms"}, args...)...)
	require.Equal(h.t, wantCode, code, "stderr:\n%s\nstdout:\n%s", errOut, out)
	var rep report
	require.NoError(h.t, json.Unmarshal([]byte(out), &rep), out)
	return &rep
}

func (h *harness) latest() map[string]string {
	h.t.Helper()
	m := map[string]string{}
	for _, l := range layers {
		out, err := h.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(paths.Channel(l, lineage.ChannelLatest))})
		require.NoError(h.t, err)
		m[l] = aws.ToString(out.Parameter.Value)
	}
	return m
}

func (h *harness) tags(ami string) map[string]string {
	h.t.Helper()
	out, err := h.ec2.DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	require.NoError(h.t, err)
	require.Len(h.t, out.Images, 1)
	m := map[string]string{}
	for _, tg := range out.Images[0].Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

func (h *harness) imageCount() int {
	h.t.Helper()
	out, err := h.ec2.DescribeImages(context.Background(), &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag-key"), Values: []string{lineage.TagFingerprint}}}})
	require.NoError(h.t, err)
	return len(out.Images)
}

func (h *harness) liveInstances() []string {
	h.t.Helper()
	out, err := h.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag-key"), Values: []string{lineage.TagRole}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}}})
	require.NoError(h.t, err)
	var ids []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	return ids
}

func byLayer(rs []*result) map[string]*result {
	m := map[string]*result{}
	for _, r := range rs {
		m[r.Layer] = r
	}
	return m
}

// The example baked with its baselines applied; a critical kernel advisory
// rebakes linux and everything on it; an advisory for a package only
// app-worker installs rebakes app-worker alone; nothing new, nothing done;
// a rebake whose image is still non-compliant is not published.
func TestPatchRun(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("patch", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	code, out, errOut := h.run("bake")
	require.Equal(t, 0, code, "%s\n%s", errOut, out)
	baked := h.latest()
	first, ok := h.sb.ContentOf(baked["app-worker"])
	require.True(t, ok)
	oldPy := first.Packages["python3.11"]
	require.NotEmpty(t, oldPy)
	fingerprints := map[string]string{}
	for l, ami := range baked {
		tg := h.tags(ami)
		fingerprints[l] = tg[lineage.TagFingerprint]
		assert.Regexp(t, `^pb-[0-9a-f]+:[0-9a-f]{12}$`, tg[lineage.TagPatchLevel], "plain bakes carry the patch level too (%s)", l)
	}

	// Nothing released since the bake: nothing to do, exit 0.
	rep := h.patchRun(0, "--apply")
	assert.Empty(t, rep.Decision.Stale)
	assert.Empty(t, rep.Results)
	assert.Contains(t, rep.Message, "Nothing to rebake")

	// A critical kernel advisory ships.
	p, err := h.sb.ReleasePatch(sandbox.PatchRelease{Package: "kernel", Severity: "Critical", Classification: "Security", CVEs: []string{"CVE-2026-4242"}})
	require.NoError(t, err)
	fixed := p.Packages[0].Version
	images := h.imageCount()

	// Dry run: says what and why, changes nothing; --fleets reports the
	// fleets too (none of their instances run here).
	var dry struct {
		Fleets []struct {
			Name string `json:"name"`
		} `json:"fleets"`
		Message string `json:"message"`
	}
	code, out, errOut = h.run("-o", "json", "patch", "run", "--fleets", "--poll", "20ms")
	require.Equal(t, 0, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &dry), out)
	assert.Len(t, dry.Fleets, 2)
	assert.Contains(t, dry.Message, "Dry run: would rebake 5 layer(s)")
	code, out, errOut = h.run("patch", "run", "--poll", "20ms")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "kernel@"+fixed)
	assert.Regexp(t, `linux\s+rebuild|linux\s+rebake\s+patch-drift`, out)
	assert.Contains(t, out, "Dry run: would rebake 5 layer(s) from linux: linux, foundation, base, app-web, app-worker")
	assert.Equal(t, baked, h.latest())
	assert.Equal(t, images, h.imageCount())

	// --apply: linux and every descendant, each verified and published.
	rep = h.patchRun(0, "--apply")
	assert.Equal(t, []string{"linux"}, rep.Decision.Roots)
	assert.ElementsMatch(t, layers, rep.Decision.Stale)
	assert.Equal(t, 5, rep.Rebaked)
	now := h.latest()
	res := byLayer(rep.Results)
	for _, l := range layers {
		r := res[l]
		require.NotNil(t, r, l)
		assert.Equal(t, "built", r.Status, "%s: %s", l, r.Error)
		assert.True(t, r.Verified, l)
		assert.True(t, r.Published, l)
		assert.Contains(t, rep.Verified, l)
		assert.NotEqual(t, baked[l], now[l], "%s: latest moved", l)
		assert.Equal(t, r.AMI[home], now[l], l)
		tg := h.tags(now[l])
		assert.Equal(t, fingerprints[l], tg[lineage.TagFingerprint], "%s: a patch rebake keeps the fingerprint", l)
		assert.Equal(t, r.PatchLevel, tg[lineage.TagPatchLevel], l)
		assert.NotEqual(t, h.tags(baked[l])[lineage.TagPatchLevel], tg[lineage.TagPatchLevel], "%s: a new patch level", l)
		// The patch level's digest is the one the Install on the build
		// instance recorded; the kernel is the fixed one.
		content, ok := h.sb.ContentOf(now[l])
		require.True(t, ok)
		last := content.Steps[len(content.Steps)-1]
		assert.Equal(t, "patch-baseline/install", last.Name, l)
		_, digest, _ := strings.Cut(tg[lineage.TagPatchLevel], ":")
		assert.Equal(t, last.Digest[:12], digest, l)
		assert.Equal(t, fixed, content.Packages["kernel"], l)
		if l == "linux" {
			assert.Equal(t, "patch-drift", r.Reason)
		}
	}
	assert.Empty(t, h.liveInstances(), "build and scan instances terminated")
	// The content plan agrees: same fingerprints, each child on its
	// parent's new AMI — nothing for bake to do.
	code, out, errOut = h.run("plan", "-detailed-exitcode")
	assert.Equal(t, 0, code, "%s\n%s", errOut, out)

	// Again, nothing newly released: nothing to do.
	images = h.imageCount()
	rep = h.patchRun(0, "--apply")
	assert.Empty(t, rep.Decision.Stale)
	assert.Contains(t, rep.Message, "Nothing to rebake")
	assert.Equal(t, images, h.imageCount(), "no build")
	assert.Equal(t, now, h.latest())

	// A python3.11 advisory: only app-worker (python_runtime) installs it.
	p, err = h.sb.ReleasePatch(sandbox.PatchRelease{Package: "python3.11", Severity: "Important", Classification: "Security", CVEs: []string{"CVE-2026-5151"}})
	require.NoError(t, err)
	pyFixed := p.Packages[0].Version
	before := now
	rep = h.patchRun(0, "--apply")
	assert.Equal(t, []string{"app-worker"}, rep.Decision.Stale)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, "app-worker", rep.Results[0].Layer)
	assert.Equal(t, "built", rep.Results[0].Status, rep.Results[0].Error)
	assert.True(t, rep.Results[0].Verified)
	now = h.latest()
	for _, l := range layers {
		if l == "app-worker" {
			assert.NotEqual(t, before[l], now[l])
			content, _ := h.sb.ContentOf(now[l])
			assert.Equal(t, pyFixed, content.Packages["python3.11"])
			assert.Equal(t, fingerprints[l], h.tags(now[l])[lineage.TagFingerprint])
		} else {
			assert.Equal(t, before[l], now[l], "%s untouched", l)
		}
	}

	// A rebake that cannot fix what is missing (the project's template
	// override scans instead of installing) is verified non-compliant: not
	// published, and the run fails listing what is missing. First app-worker
	// alone: the others are published, exit 3.
	tmpl := filepath.Join(h.dir, "templates", "layer.pkr.hcl.tmpl")
	src, err := os.ReadFile(tmpl)
	require.NoError(t, err)
	// app-worker's build pins python3.11 back to the version of the first
	// bake (older than the advisory above) and only scans.
	workerScans := strings.Replace(string(src), `      patch {
        operation = {{ hcl .Operation }}`, `      patch {
        operation = {{ if eq $.Layer "app-worker" }}"Scan"{{ else }}{{ hcl .Operation }}{{ end }}`, 1)
	workerScans = strings.Replace(workerScans, `    step {
      name = {{ hcl .Name }}
      patch {`, `{{- if eq $.Layer "app-worker" }}
    step {
      name   = "test/pin-python"
      inline = ["dnf install -y python3.11-`+oldPy+`"]
    }
{{- end }}
    step {
      name = {{ hcl .Name }}
      patch {`, 1)
	require.NotEqual(t, string(src), workerScans)
	require.Contains(t, workerScans, "test/pin-python")
	require.NoError(t, os.WriteFile(tmpl, []byte(workerScans), 0o644))
	p, err = h.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical", Classification: "Security", CVEs: []string{"CVE-2026-5555"}})
	require.NoError(t, err)
	before = h.latest()
	rep = h.patchRun(3, "--apply")
	res = byLayer(rep.Results)
	require.Len(t, res, 5)
	now = h.latest()
	for _, l := range layers[:4] {
		assert.Equal(t, "built", res[l].Status, "%s: %s", l, res[l].Error)
		assert.NotEqual(t, before[l], now[l], l)
	}
	assert.Equal(t, "failed", res["app-worker"].Status)
	assert.Contains(t, res["app-worker"].Error, "python3.11@"+pyFixed+" (Important, missing)")
	assert.Equal(t, before["app-worker"], now["app-worker"], "app-worker not published")
	assert.Equal(t, 4, rep.Rebaked)
	assert.Equal(t, 1, rep.Failed)

	// Then from linux: nothing is published, exit 1.
	broken := strings.Replace(string(src), `operation = {{ hcl .Operation }}`, `operation = "Scan"`, 1)
	require.NoError(t, os.WriteFile(tmpl, []byte(broken), 0o644))
	p, err = h.sb.ReleasePatch(sandbox.PatchRelease{Package: "kernel", Severity: "Critical", Classification: "Security", CVEs: []string{"CVE-2026-6161"}})
	require.NoError(t, err)
	before = h.latest()
	rep = h.patchRun(1, "--apply")
	res = byLayer(rep.Results)
	require.Len(t, res, 5)
	r := res["linux"]
	assert.Equal(t, "failed", r.Status)
	assert.False(t, r.Published)
	assert.False(t, r.Verified)
	require.NotEmpty(t, r.AMI[home], "the AMI was built")
	assert.Contains(t, h.tags(r.AMI[home])[lineage.TagRevoked], "verify failed", "never adopted by a later plan")
	assert.Contains(t, r.Error, "not published")
	assert.Contains(t, r.Error, "is not compliant with its patch baseline")
	assert.Contains(t, r.Error, "kernel@"+p.Packages[0].Version+" (Critical, missing)")
	for _, l := range layers[1:] {
		assert.Equal(t, "skipped", res[l].Status, l)
	}
	assert.Equal(t, before, h.latest(), "latest did not move")
	assert.Empty(t, h.liveInstances())
	code, out, _ = h.run("patch", "run", "--apply", "--poll", "20ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "kernel@"+p.Packages[0].Version+" (Critical, missing)")
	assert.Contains(t, out, "Rebaked 0 layer(s); 1 failed, 4 skipped (not published).")
	// bake does not adopt the unverified AMIs (same fingerprint) either:
	// linux stays on its latest; only app-worker, whose parent moved in
	// the partial run, is due for a (content) rebuild.
	code, out, errOut = h.run("-o", "json", "plan")
	require.Equal(t, 0, code, "%s\n%s", errOut, out)
	var pl struct {
		Layers []struct {
			Layer   string `json:"layer"`
			Action  string `json:"action"`
			Reason  string `json:"reason"`
			Publish bool   `json:"publish"`
		} `json:"layers"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &pl), out)
	for _, l := range pl.Layers {
		if l.Layer == "app-worker" {
			assert.Equal(t, "build", l.Action, l.Reason)
			assert.Equal(t, "parent-rebuilt", l.Reason)
			continue
		}
		assert.Equal(t, "reuse", l.Action, "%s: %s", l.Layer, l.Reason)
		assert.False(t, l.Publish, l.Layer)
	}

	require.NoError(t, os.WriteFile(tmpl, src, 0o644))

	// The lock held by another run: exit 4, nothing scanned.
	held, err := (&lock.Locker{SSM: h.ssm, Name: paths.Lock(), Command: "test"}).Acquire(context.Background(), 0)
	require.NoError(t, err)
	code, _, errOut = h.run("patch", "run", "--apply")
	assert.Equal(t, 4, code, errOut)
	require.NoError(t, held.Release(context.Background()))
}
