package inventory_test

// End-to-end: `amibake bake` in-process with the real packer binary, the
// real amazon plugin and packer-plugin-amibake built from this tree,
// against the sandbox, on a two-layer project with an inventory_bucket.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/iam"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupPluginDir()
	os.Exit(code)
}

const e2eProject = `
project "inv-e2e" {
  regions          = ["us-east-1", "eu-west-1"]
  param_prefix     = "/amibake"
  provisioner      = "ssm"
  inventory_bucket = "inv-e2e-inventory"
}
`

const e2eLayers = `
layer "linux" {
  source {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }
}

layer "app" {
  parent  = layer.linux
  recipes = [recipe.tools]
}
`

func e2eRecipe(version string) string {
	return `recipe "tools" {
  version = "` + version + `"
  step "script" {
    name = "install"
    path = "install.sh"
  }
}
`
}

func e2eScript(pkgs ...string) string {
	return "#!/usr/bin/env bash\nset -euo pipefail\ndnf install -y " + strings.Join(pkgs, " ") + "\n"
}

// run runs `amibake --chdir dir ARGS…` in-process, as main does.
func runCLI(t *testing.T, sb *sandbox.Sandbox, dir string, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", dir}, args...), f)
	return code, out.String(), errOut.String()
}

type e2eBake struct {
	Results []struct {
		Layer     string            `json:"layer"`
		Status    string            `json:"status"`
		AMI       map[string]string `json:"ami"`
		Inventory string            `json:"inventory"`
		BuildID   string            `json:"build_id"`
		Error     string            `json:"error"`
	} `json:"results"`
}

func bakeE2E(t *testing.T, sb *sandbox.Sandbox, dir string) (built, copies map[string]string) {
	t.Helper()
	sb.ResetLog()
	code, out, errOut := runCLI(t, sb, dir, "-o", "json", "bake")
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	// The bake policy of a project with an inventory bucket allows every
	// call the bake (amibake, packer, the plugin) made.
	cfg, diags := config.Load(dir, config.LoadOptions{})
	require.False(t, diags.HasErrors(), diags.Error())
	allowed := map[string]bool{}
	for _, a := range iam.Policy(iam.Bake, iam.ScopeFor(cfg, "aws", "123456789012")).Actions() {
		allowed[a] = true
	}
	for _, e := range sb.Log() {
		a := iam.IAMAction(iam.ServicePrefix(e.Service) + ":" + e.Action)
		assert.True(t, allowed[a], "the bake policy lacks %s", a)
	}
	var rep e2eBake
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	built, copies = map[string]string{}, map[string]string{}
	for _, r := range rep.Results {
		require.Empty(t, r.Error, r.Layer)
		if r.Status == "built" {
			ami := r.AMI["us-east-1"]
			assert.Equal(t, inventory.URL("inv-e2e-inventory", "inv-e2e", ami), r.Inventory, r.Layer)
			built[r.Layer] = ami
			copies[r.Layer] = r.AMI["eu-west-1"]
		}
	}
	return built, copies
}

// TestBakeRecordsInventory: a bake through real packer records each AMI's
// inventory (the provisioner's gather-and-stage step, then bake's
// finalize): document plus checksum tag, no staging left; `amibake
// inventory` shows the recipe's packages; a recipe that installs one more
// package re-bakes app, and `amibake diff` names exactly that package and
// that recipe.
func TestBakeRecordsInventory(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end bake with real packer")
	}
	bin, pluginDir := testutil.PluginDir(t)
	sb := sandbox.Start(t)
	for _, kv := range sb.Env(sandbox.DefaultAccount, "us-east-1") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AMIBAKE_PACKER", bin)
	t.Setenv("PACKER_PLUGIN_PATH", pluginDir)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	for _, k := range []string{"AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	const bkt, project = "inv-e2e-inventory", "inv-e2e"
	sb.Do(func(w *sandbox.World) { w.CreateBucket(sandbox.DefaultAccount, "us-east-1", bkt, sb.Clock().Now()) })

	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("amibake.hcl", e2eProject)
	write("layers/layers.hcl", e2eLayers)
	write("recipes/tools/recipe.hcl", e2eRecipe("1.0.0"))
	write("recipes/tools/install.sh", e2eScript("jq"))

	first, firstCopies := bakeE2E(t, sb, dir)
	require.Len(t, first, 2, "both layers built")
	ctx := context.Background()
	clients := awsapi.NewClients(sb.Config)
	s3c := clients.S3("us-east-1")
	var jq string
	for layer, ami := range first {
		imgs, err := lineage.DescribeIDs(ctx, clients.EC2("us-east-1"), "us-east-1", []string{ami})
		require.NoError(t, err)
		img := imgs[ami]
		require.NotEmpty(t, img.Tags[inventory.TagSHA256], layer)
		doc, err := inventory.Load(ctx, s3c, bkt, project, img)
		require.NoError(t, err, layer)
		assert.Equal(t, layer, doc.Layer)
		assert.Equal(t, img.Tags[lineage.TagBuildID], doc.BuildID)
		assert.NotEmpty(t, doc.InstanceID)
		var content map[string]string
		sb.Do(func(w *sandbox.World) { content = w.EC2.Images[ami].Content.Packages })
		if layer == "app" {
			jq = content["jq"]
		}
		assert.Len(t, doc.Packages, len(content), "%s: every package of the image", layer)
		names := map[string]bool{}
		for _, p := range doc.Packages {
			names[p.Name] = true
		}
		assert.Equal(t, layer == "app", names["jq"], "%s: jq comes with the tools recipe", layer)
	}
	// packer's ami_regions copies get their own documents too.
	for layer, cp := range firstCopies {
		imgs, err := lineage.DescribeIDs(ctx, clients.EC2("eu-west-1"), "eu-west-1", []string{cp})
		require.NoError(t, err)
		doc, err := inventory.Load(ctx, s3c, bkt, project, imgs[cp])
		require.NoError(t, err, layer)
		assert.Equal(t, first[layer], doc.CopyOf, layer)
		assert.Equal(t, "eu-west-1", doc.Region, layer)
		assert.Equal(t, layer, doc.Layer)
		assert.NotEmpty(t, doc.Packages, layer)
	}
	list, err := s3c.(*s3.Client).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bkt), Prefix: aws.String(project + "/inventory/staging/")})
	require.NoError(t, err)
	assert.Empty(t, list.Contents, "no staged inventory left behind")

	code, out, errOut := runCLI(t, sb, dir, "inventory", "app@latest")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, first["app"])
	assert.Regexp(t, `(?m)^\s*tools\s+1\.0\.0\s*$`, out)
	require.NotEmpty(t, jq)
	assert.Regexp(t, `(?m)^\s*jq\s+`+regexp.QuoteMeta(jq)+`\s+x86_64\s`, out)

	// One more package: app is rebuilt, linux is not.
	write("recipes/tools/recipe.hcl", e2eRecipe("1.1.0"))
	write("recipes/tools/install.sh", e2eScript("jq", "htop"))
	second, _ := bakeE2E(t, sb, dir)
	require.Equal(t, []string{"app"}, keys(second))
	require.NotEqual(t, first["app"], second["app"])

	code, out, errOut = runCLI(t, sb, dir, "-o", "json", "diff", first["app"], second["app"])
	require.Equal(t, 0, code, errOut)
	var d inventory.Diff
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	require.Len(t, d.Added, 1, out)
	assert.Equal(t, "htop", d.Added[0].Name)
	assert.Empty(t, d.Removed)
	assert.Empty(t, d.Upgraded)
	assert.Empty(t, d.Downgraded)
	assert.Equal(t, []inventory.RecipeChange{{Name: "tools", From: "1.0.0", To: "1.1.0"}}, d.Recipes)
	assert.False(t, d.ParentChanged)
	assert.Equal(t, "+1 package, recipe tools 1.0.0→1.1.0", d.Summary)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
