package bake

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
)

const secretValue = "s3cr3t-token-1f0e9d8c"

func loadExample(t *testing.T, provisioner string) (*config.Config, *graph.Graph, map[string]*graph.Fingerprint) {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	env := []string{"AMIBAKE_VAR_security_agent_token=" + secretValue}
	cfg, diags := config.Load(root, config.LoadOptions{Env: env, Now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
	require.False(t, diags.HasErrors(), diags.Error())
	if provisioner != "" {
		cfg.Project.Provisioner = provisioner
	}
	g, diags := graph.Build(cfg)
	require.False(t, diags.HasErrors(), diags.Error())
	fps, diags := graph.Fingerprints(g)
	require.False(t, diags.HasErrors(), diags.Error())
	return cfg, g, fps
}

func renderLayer(t *testing.T, cfg *config.Config, fps map[string]*graph.Fingerprint, layer string) (string, *TemplateData, []Secret) {
	t.Helper()
	d, secrets, diags := NewTemplateData(RenderInput{
		Config: cfg, Layer: cfg.Layers[layer], Fingerprint: fps[layer], BuildID: "b-test",
		Timestamp: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), AmibakeVersion: "test",
	})
	require.False(t, diags.HasErrors(), diags.Error())
	out, err := Render(cfg.Dir, d)
	require.NoError(t, err)
	_, pdiags := hclsyntax.ParseConfig(out, layer+".pkr.hcl", hcl.InitialPos)
	require.False(t, pdiags.HasErrors(), "rendered template must parse: %s\n%s", pdiags.Error(), out)
	return string(out), d, secrets
}

func TestRenderEveryExampleLayer(t *testing.T) {
	for _, mode := range []string{ProvisionerSSM, ProvisionerSSH} {
		cfg, g, fps := loadExample(t, mode)
		for _, n := range g.Topo() {
			out, d, _ := renderLayer(t, cfg, fps, n.Name())
			assert.Regexp(t, `"amibake:fingerprint"\s+= "`+fps[n.Name()].Hash+`"`, out, n.Name())
			assert.Regexp(t, `"amibake:build-id"\s+= "b-test"`, out, n.Name())
			assert.Regexp(t, `http_tokens\s+= "required"`, out, n.Name())
			assert.NotContains(t, out, secretValue, "%s/%s: secret leaked into template", mode, n.Name())
			if n.IsRoot() {
				assert.Contains(t, out, `data "amazon-parameterstore" "source"`)
				assert.Contains(t, out, `"amibake:source"`)
			} else {
				assert.Contains(t, out, `data "amibake-channel" "parent"`)
				assert.Contains(t, out, lineage.Paths{Prefix: "/amibake", Project: cfg.Project.Name}.Channel(n.Parent.Name(), "latest"))
				assert.Regexp(t, `"amibake:parent-fingerprint"\s+= "`+fps[n.Parent.Name()].Hash+`"`, out)
			}
			assert.Equal(t, cfg.Project.Regions[0], d.Region)
		}
	}
}

func TestSensitiveInputNeverRendered(t *testing.T) {
	cfg, _, fps := loadExample(t, ProvisionerSSM)
	out, _, secrets := renderLayer(t, cfg, fps, "base")
	require.NotEmpty(t, secrets, "base passes a sensitive token to security_agent")
	for _, s := range secrets {
		assert.Equal(t, secretValue, s.Value)
		assert.Contains(t, out, s.Parameter, "ssm mode references the SecureString parameter")
		assert.True(t, strings.HasPrefix(s.Parameter, "/amibake/"+cfg.Project.Name+"/builds/b-test/secrets/"))
	}
	assert.NotContains(t, out, secretValue)

	cfg, _, fps = loadExample(t, ProvisionerSSH)
	out, d, secrets := renderLayer(t, cfg, fps, "base")
	require.NotEmpty(t, secrets)
	require.NotEmpty(t, d.SecretVars)
	for _, s := range secrets {
		assert.Contains(t, out, `env("`+s.EnvName+`")`)
	}
	assert.NotContains(t, out, secretValue)
}

func TestRenderEscapesInterpolation(t *testing.T) {
	cfg, _, fps := loadExample(t, ProvisionerSSM)
	cfg.Layers["app-web"].Tags = map[string]string{"evil": "${file(\"/etc/passwd\")}\"\n}"}
	out, _, _ := renderLayer(t, cfg, fps, "app-web")
	assert.Contains(t, out, `$${file(`)
}

func TestTemplateOverride(t *testing.T) {
	cfg, _, fps := loadExample(t, ProvisionerSSM)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "templates"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", "layer.pkr.hcl.tmpl"), []byte("# custom {{ .Layer }} {{ hcl .AMIName }}\n"), 0o644))
	d, _, diags := NewTemplateData(RenderInput{Config: cfg, Layer: cfg.Layers["linux"], Fingerprint: fps["linux"], BuildID: "b", Timestamp: time.Unix(0, 0)})
	require.False(t, diags.HasErrors())
	out, err := Render(dir, d)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(out), "# custom linux \"acme-golden-linux-"), string(out))
}

func TestAMINameValidated(t *testing.T) {
	cfg, _, fps := loadExample(t, ProvisionerSSM)
	expr, diags := hclsyntax.ParseTemplate([]byte("bad:name:${layer}"), "amibake.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors())
	cfg.Project.AMIName = expr
	_, _, diags = NewTemplateData(RenderInput{Config: cfg, Layer: cfg.Layers["linux"], Fingerprint: fps["linux"], BuildID: "b", Timestamp: time.Unix(0, 0)})
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags.Error(), "Invalid AMI name")
}

func TestRenderDigestTags(t *testing.T) {
	cfg, _, fps := loadExample(t, ProvisionerSSM)
	out, d, _ := renderLayer(t, cfg, fps, "foundation")
	digests := plan.RecipeDigests(fps["foundation"])
	require.Len(t, digests, len(cfg.Layers["foundation"].Recipes))
	assert.Equal(t, lineage.FormatDigests(digests), d.Tags[lineage.TagRecipeDigests])
	assert.Equal(t, plan.SettingsDigest(fps["foundation"]), d.Tags[lineage.TagSettingsDigest])
	assert.Regexp(t, `"amibake:recipe-digests"\s+= "`+lineage.FormatDigests(digests)+`"`, out)
	assert.Regexp(t, `"amibake:settings-digest"\s+= "[0-9a-f]{12}"`, out)
	// Tag values are at most 256 characters.
	for k, v := range d.Tags {
		assert.LessOrEqual(t, len(v), 256, k)
	}
}

// A layer with a patch block, or below one, ends its build with the
// AWS-RunPatchBaseline Install step; its build instance carries the patch
// group tag; the patch level is tagged; NoChannels leaves latest to bake.
func TestRenderPatchStep(t *testing.T) {
	for _, mode := range []string{ProvisionerSSM, ProvisionerSSH} {
		cfg, g, fps := loadExample(t, mode)
		for _, n := range g.Topo() {
			pr := EffectivePatch(cfg, n.Layer)
			require.NotNil(t, pr, "every example layer is under linux's patch block")
			d, _, diags := NewTemplateData(RenderInput{
				Config: cfg, Layer: n.Layer, Fingerprint: fps[n.Name()], BuildID: "b-test",
				Timestamp: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), AmibakeVersion: "test",
				PatchLevel: "pb-0123:abcdef012345", NoChannels: true,
			})
			require.False(t, diags.HasErrors(), diags.Error())
			out, err := Render(cfg.Dir, d)
			require.NoError(t, err)
			_, pdiags := hclsyntax.ParseConfig(out, "x.pkr.hcl", hcl.InitialPos)
			require.False(t, pdiags.HasErrors(), "%s\n%s", pdiags.Error(), out)
			src := string(out)
			assert.Regexp(t, `(?s)step \{\s+name = "patch-baseline/install"\s+patch \{\s+operation = "Install"\s+reboot\s+= "NoReboot"`, src, n.Name())
			// The patch step is the build's last step.
			assert.Greater(t, strings.Index(src, `"patch-baseline/install"`), strings.LastIndex(src, "provisioner \"shell\""), n.Name())
			assert.Regexp(t, `"Patch Group"\s+= "`+pr.PatchGroup+`"`, src)
			assert.Regexp(t, `"amibake:patch-level"\s+= "pb-0123:abcdef012345"`, src)
			assert.NotContains(t, src, "post-processor \"amibake-lineage\"", "NoChannels: bake publishes")
			assert.Contains(t, src, `source  = "github.com/amibake/amibake"`)
		}
	}
	// Without a patch block anywhere up the chain: no step, no tag.
	cfg, _, fps := loadExample(t, "")
	for _, l := range cfg.Layers {
		l.Patch = nil
	}
	out, _, _ := renderLayer(t, cfg, fps, "app-web")
	assert.NotContains(t, out, "patch-baseline/install")
	assert.NotContains(t, out, "Patch Group")
	assert.NotContains(t, out, "amibake:patch-level")
	assert.Contains(t, out, "post-processor \"amibake-lineage\"")
}

// With an inventory_bucket every build ends with the amibake provisioner's
// gather-and-stage step (ssh mode too, in its own amibake block after the
// shell provisioners), and no post-processor moves latest: bake does, once
// the document is stored.
func TestRenderInventoryStep(t *testing.T) {
	for _, mode := range []string{ProvisionerSSM, ProvisionerSSH} {
		cfg, g, fps := loadExample(t, mode)
		cfg.Project.InventoryBucket = "acme-amibake-inventory"
		for _, l := range cfg.Layers {
			l.Patch = nil // ssh mode: the amibake block holds the inventory step alone
		}
		for _, n := range g.Topo() {
			out, d, _ := renderLayer(t, cfg, fps, n.Name())
			require.NotNil(t, d.Inventory)
			assert.Empty(t, d.Channels, "%s/%s", mode, n.Name())
			assert.True(t, d.NeedsAmibakePlugin())
			assert.Regexp(t, `inventory_bucket\s+= "acme-amibake-inventory"`, out)
			assert.Regexp(t, `inventory_project\s+= "acme-golden"`, out)
			assert.Regexp(t, `inventory_build_id = "b-test"`, out)
			assert.NotContains(t, out, `post-processor "amibake-lineage"`)
			assert.Equal(t, 1, strings.Count(out, `provisioner "amibake"`), "%s/%s", mode, n.Name())
			if mode == ProvisionerSSH {
				assert.Greater(t, strings.Index(out, `provisioner "amibake"`), strings.LastIndex(out, `provisioner "shell"`), "after the recipes")
			}
		}
	}
	// Without a bucket: no gather step, the post-processor publishes.
	cfg, _, fps := loadExample(t, "")
	out, d, _ := renderLayer(t, cfg, fps, "app-web")
	assert.Nil(t, d.Inventory)
	assert.NotContains(t, out, "inventory_bucket")
	assert.Contains(t, out, `post-processor "amibake-lineage"`)
}
