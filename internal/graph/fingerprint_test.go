package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/amibake/amibake/internal/config"
)

// fpFixture is a small project on disk, built by hand as config.Load would
// decode it:
//
//	linux ── foundation [hardening] ─┬─ base [tools, agent] ─┬─ app-web [web]
//	                                 │                       └─ app-worker
//	                                 └─ sidecar [tools]
type fpFixture struct {
	dir   string
	files map[string]string
}

var fixtureFiles = map[string]string{
	"recipes/hardening/harden.sh":       "#!/bin/sh\nset -eu\necho \"level $CIS_LEVEL\"\n",
	"recipes/hardening/files/sshd":      "PermitRootLogin no\nPasswordAuthentication no\n",
	"recipes/tools/install.sh":          "#!/bin/sh\ndnf install -y jq\n",
	"recipes/tools/conf/a.conf":         "a=1\n",
	"recipes/tools/conf/sub/b.conf":     "b=2\n",
	"recipes/agent/install.sh":          "#!/bin/sh\n/opt/agent/register \"$TOKEN\"\n",
	"recipes/web/setup.sh":              "#!/bin/sh\necho web\n",
	"recipes/web/files/nginx.conf":      "worker_connections 1024;\n",
	"recipes/unused_but_here/recipe.sh": "#!/bin/sh\n",
}

func newFPFixture(t testing.TB) *fpFixture {
	t.Helper()
	fx := &fpFixture{dir: t.TempDir(), files: map[string]string{}}
	for p, c := range fixtureFiles {
		fx.write(t, p, c)
	}
	return fx
}

func (fx *fpFixture) write(t testing.TB, rel, content string) {
	t.Helper()
	full := filepath.Join(fx.dir, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
	require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	fx.files[rel] = content
}

func expr(t testing.TB, src string) hcl.Expression {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(src), "recipe.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), diags.Error())
	return e
}

func (fx *fpFixture) config(t testing.TB) *config.Config {
	t.Helper()
	cfg := mkConfig(
		mkLayer("linux", ""),
		mkLayer("foundation", "linux", "hardening"),
		mkLayer("base", "foundation", "tools", "agent"),
		mkLayer("sidecar", "foundation", "tools"),
		mkLayer("app-web", "base", "web"),
		mkLayer("app-worker", "base"),
	)
	cfg.Dir = fx.dir
	cfg.Project.DefaultTags = map[string]string{"team": "platform"}
	cfg.Variables = map[string]*config.Variable{
		"token": {Name: "token", Type: cty.String, Sensitive: true, Value: cty.StringVal("s3cr3t-token-value")},
	}
	cfg.Locals = map[string]*config.Local{"greeting": {Name: "greeting", Value: cty.StringVal("hello")}}
	cfg.Layers["foundation"].Recipes[0].Inputs = map[string]cty.Value{"level": cty.NumberIntVal(1)}
	cfg.Layers["base"].Recipes[1].Inputs = map[string]cty.Value{"token": cty.StringVal("s3cr3t-token-value").Mark(config.SensitiveMark)}
	cfg.Layers["app-web"].Recipes[0].Inputs = map[string]cty.Value{
		"ports": cty.TupleVal([]cty.Value{cty.NumberIntVal(80), cty.NumberIntVal(443)}),
		"labels": cty.ObjectVal(map[string]cty.Value{
			"tier": cty.StringVal("front"), "env": cty.StringVal("prod"),
		}),
	}

	cfg.Recipes = map[string]*config.Recipe{
		"hardening": {
			Name: "hardening", Version: "1.4.0", Dir: "recipes/hardening",
			Inputs: []*config.RecipeInput{{Name: "level", Type: cty.Number, Default: cty.NumberIntVal(1)}},
			Steps: []*config.Step{
				{Kind: config.StepScript, Name: "harden", Path: "harden.sh", Env: map[string]hcl.Expression{"CIS_LEVEL": expr(t, "input.level")}},
				{Kind: config.StepFile, Source: "files/sshd", Destination: "/etc/ssh/sshd_config", Mode: "0600"},
				{Kind: config.StepInline, Name: "restart", Inline: []string{"sshd -t", "systemctl restart sshd"}},
			},
			DeclRange: rng("recipes/hardening/recipe.hcl", 1),
		},
		"tools": {
			Name: "tools", Version: "2.0.0", Dir: "recipes/tools",
			Steps: []*config.Step{
				{Kind: config.StepScript, Path: "install.sh", Env: map[string]hcl.Expression{"GREETING": expr(t, "local.greeting")}},
				{Kind: config.StepFile, Name: "conf", Source: "conf", Destination: "/etc/tools/"},
			},
			DeclRange: rng("recipes/tools/recipe.hcl", 1),
		},
		"agent": {
			Name: "agent", Version: "3.1.0", Dir: "recipes/agent",
			Inputs: []*config.RecipeInput{{Name: "token", Type: cty.String, Sensitive: true}},
			Steps: []*config.Step{
				{Kind: config.StepScript, Name: "install", Path: "install.sh", Env: map[string]hcl.Expression{"TOKEN": expr(t, "input.token")},
					DeclRange: rng("recipes/agent/recipe.hcl", 5)},
			},
			DeclRange: rng("recipes/agent/recipe.hcl", 1),
		},
		"web": {
			Name: "web", Version: "0.3.0", Dir: "recipes/web",
			Inputs: []*config.RecipeInput{
				{Name: "ports", Type: cty.List(cty.Number)},
				{Name: "labels", Type: cty.Map(cty.String), Default: cty.MapValEmpty(cty.String)},
				{Name: "workers", Type: cty.Number, Default: cty.NumberIntVal(4)},
			},
			Steps: []*config.Step{
				{Kind: config.StepScript, Path: "./setup.sh", Env: map[string]hcl.Expression{
					"PORTS": expr(t, `"${input.ports[0]},${input.ports[1]}"`), "WORKERS": expr(t, "input.workers")}},
				{Kind: config.StepFile, Source: "files/nginx.conf", Destination: "/etc/nginx/nginx.conf", DeclRange: rng("recipes/web/recipe.hcl", 9)},
			},
			DeclRange: rng("recipes/web/recipe.hcl", 1),
		},
	}
	return cfg
}

func fingerprints(t testing.TB, cfg *config.Config) map[string]*Fingerprint {
	t.Helper()
	g, diags := Build(cfg)
	require.False(t, diags.HasErrors(), diags.Error())
	fps, diags := Fingerprints(g)
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, fps, len(g.Nodes))
	return fps
}

func hashes(fps map[string]*Fingerprint) map[string]string {
	out := map[string]string{}
	for k, v := range fps {
		out[k] = v.Hash
	}
	return out
}

func TestFingerprintShape(t *testing.T) {
	fx := newFPFixture(t)
	fps := fingerprints(t, fx.config(t))
	base := fps["base"]
	assert.Len(t, base.Hash, 64)
	assert.Equal(t, base.Hash[:12], base.Short)
	assert.Equal(t, fps["foundation"].Hash, base.Parent)
	assert.Equal(t, "foundation", base.ParentLayer)
	assert.Empty(t, fps["linux"].Parent)

	var kinds []string
	for _, c := range base.Components {
		kinds = append(kinds, c.Kind+":"+c.Name)
	}
	assert.Equal(t, []string{
		"parent:foundation",
		"setting:volume.size", "setting:volume.type", "setting:volume.encrypted",
		"setting:volume.kms_key_id", "setting:imdsv2_required", "setting:provisioner",
		"recipe:tools", "recipe:agent",
	}, kinds)
	assert.Equal(t, KindSource, fps["linux"].Components[0].Kind)
	assert.Equal(t, "ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", fps["linux"].Components[0].Name)

	tools := base.Components[7]
	var parts []string
	for _, p := range tools.Parts {
		parts = append(parts, p.Kind+":"+p.Name+"="+p.Value)
	}
	assert.Equal(t, []string{
		`step:tools/1=script install.sh env GREETING="hello"`,
		"file:install.sh=",
		"step:conf=file conf → /etc/tools/ (0644)",
		"file:conf=directory, 2 files",
	}, parts)
	web := fps["app-web"].Components[7]
	require.Equal(t, "web", web.Name)
	assert.Equal(t, "0.3.0", web.Value)
	assert.Equal(t, "input:labels={env = \"prod\", tier = \"front\"}", web.Parts[0].Kind+":"+web.Parts[0].Name+"="+web.Parts[0].Value)
	assert.Equal(t, "input:ports=[80, 443]", web.Parts[1].Kind+":"+web.Parts[1].Name+"="+web.Parts[1].Value)
	assert.Equal(t, "input:workers=4", web.Parts[2].Kind+":"+web.Parts[2].Name+"="+web.Parts[2].Value)
	assert.Equal(t, "setup.sh", web.Parts[4].Name, "paths are cleaned")
}

func TestFingerprintSensitiveNeverShown(t *testing.T) {
	fx := newFPFixture(t)
	cfg := fx.config(t)
	fps := fingerprints(t, cfg)
	agent := fps["base"].Components[8]
	require.Equal(t, "agent", agent.Name)
	require.Len(t, agent.Parts, 3)
	in := agent.Parts[0]
	assert.Equal(t, Component{Kind: KindInput, Name: "token", Value: SensitiveValue, Sensitive: true}, in)
	step := agent.Parts[1]
	assert.True(t, step.Sensitive)
	assert.Empty(t, step.Digest)
	assert.Equal(t, "script install.sh env TOKEN=(sensitive)", step.Value)
	for _, fp := range fps {
		assert.NotContains(t, strings.Join(flatten(fp.Components), "\n"), "s3cr3t")
	}

	// The secret is still hashed: another token is another image.
	cfg.Layers["base"].Recipes[1].Inputs["token"] = cty.StringVal("other")
	other := fingerprints(t, cfg)
	assert.NotEqual(t, fps["base"].Hash, other["base"].Hash)
	assert.Equal(t, fps["foundation"].Hash, other["foundation"].Hash)
}

func flatten(cs []Component) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind, c.Name, c.Value, c.Digest)
		out = append(out, flatten(c.Parts)...)
	}
	return out
}

func TestFingerprintStable(t *testing.T) {
	fx := newFPFixture(t)
	want := hashes(fingerprints(t, fx.config(t)))

	t.Run("repeat", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			require.Equal(t, want, hashes(fingerprints(t, fx.config(t))))
		}
	})
	t.Run("files written in another order, another directory", func(t *testing.T) {
		other := &fpFixture{dir: t.TempDir(), files: map[string]string{}}
		keys := sortedKeys(fixtureFiles)
		for i := len(keys) - 1; i >= 0; i-- {
			other.write(t, keys[i], fixtureFiles[keys[i]])
		}
		assert.Equal(t, want, hashes(fingerprints(t, other.config(t))))
	})
	t.Run("declaration order of inputs and map construction order", func(t *testing.T) {
		cfg := fx.config(t)
		in := cfg.Recipes["web"].Inputs
		in[0], in[2] = in[2], in[0]
		cfg.Layers["app-web"].Recipes[0].Inputs["labels"] = cty.MapVal(map[string]cty.Value{
			"env": cty.StringVal("prod"), "tier": cty.StringVal("front"),
		})
		assert.Equal(t, want, hashes(fingerprints(t, cfg)))
	})
	t.Run("CRLF line endings", func(t *testing.T) {
		crlf := &fpFixture{dir: t.TempDir(), files: map[string]string{}}
		for p, c := range fixtureFiles {
			crlf.write(t, p, strings.ReplaceAll(c, "\n", "\r\n"))
		}
		assert.Equal(t, want, hashes(fingerprints(t, crlf.config(t))))
	})
	t.Run("equivalent spellings", func(t *testing.T) {
		cfg := fx.config(t)
		cfg.Layers["foundation"].Recipes[0].Inputs["level"] = cty.MustParseNumberVal("1.0")
		cfg.Recipes["hardening"].Steps[1].Mode = "600"
		cfg.Recipes["tools"].Steps[0].Path = "./install.sh"
		cfg.Recipes["web"].Steps[1].Mode = ""  // default 0644
		cfg.Layers["linux"].Volume.SizeGiB = 0 // default 8
		cfg.Layers["linux"].Volume.Type = ""   // default gp3
		cfg.Project.Provisioner = ""           // default ssm
		assert.Equal(t, want, hashes(fingerprints(t, cfg)))
	})
}

func TestFingerprintScriptChangePropagatesDown(t *testing.T) {
	fx := newFPFixture(t)
	before := hashes(fingerprints(t, fx.config(t)))

	// agent is used by base only; one byte of its script changes.
	fx.write(t, "recipes/agent/install.sh", strings.Replace(fixtureFiles["recipes/agent/install.sh"], "register", "registeR", 1))
	after := hashes(fingerprints(t, fx.config(t)))
	for _, changed := range []string{"base", "app-web", "app-worker"} {
		assert.NotEqual(t, before[changed], after[changed], changed)
	}
	for _, same := range []string{"linux", "foundation", "sidecar"} {
		assert.Equal(t, before[same], after[same], same)
	}
}

func TestFingerprintSharedRecipeFileChange(t *testing.T) {
	fx := newFPFixture(t)
	before := hashes(fingerprints(t, fx.config(t)))
	// tools is used by base and sidecar; a file deep in its conf directory changes.
	fx.write(t, "recipes/tools/conf/sub/b.conf", "b=3\n")
	after := hashes(fingerprints(t, fx.config(t)))
	for _, name := range []string{"base", "sidecar", "app-web", "app-worker"} {
		assert.NotEqual(t, before[name], after[name], name)
	}
	assert.Equal(t, before["foundation"], after["foundation"])

	// A new file in the directory counts too.
	fx.write(t, "recipes/tools/conf/c.conf", "")
	again := hashes(fingerprints(t, fx.config(t)))
	assert.NotEqual(t, after["sidecar"], again["sidecar"])
}

func TestFingerprintChanges(t *testing.T) {
	fx := newFPFixture(t)
	base := hashes(fingerprints(t, fx.config(t)))

	tests := []struct {
		name    string
		mutate  func(cfg *config.Config)
		changes bool
		layer   string // the layer that must (not) change; default foundation
	}{
		// Settings that change the image.
		{name: "recipe version bump", changes: true, mutate: func(c *config.Config) { c.Recipes["hardening"].Version = "1.4.1" }},
		{name: "recipe input", changes: true, mutate: func(c *config.Config) {
			c.Layers["foundation"].Recipes[0].Inputs["level"] = cty.NumberIntVal(2)
		}},
		{name: "recipe input default", changes: true, layer: "app-web", mutate: func(c *config.Config) {
			c.Recipes["web"].Inputs[2].Default = cty.NumberIntVal(8)
		}},
		{name: "recipe order", changes: true, layer: "base", mutate: func(c *config.Config) {
			r := c.Layers["base"].Recipes
			r[0], r[1] = r[1], r[0]
		}},
		{name: "recipe removed", changes: true, mutate: func(c *config.Config) { c.Layers["foundation"].Recipes = nil }},
		{name: "step order", changes: true, mutate: func(c *config.Config) {
			s := c.Recipes["hardening"].Steps
			s[0], s[1] = s[1], s[0]
		}},
		{name: "inline command", changes: true, mutate: func(c *config.Config) {
			c.Recipes["hardening"].Steps[2].Inline = []string{"sshd -t", "systemctl  restart sshd"}
		}},
		{name: "inline split differently", changes: true, mutate: func(c *config.Config) {
			c.Recipes["hardening"].Steps[2].Inline = []string{"sshd -tsystemctl", " restart sshd"}
		}},
		{name: "step name", changes: true, mutate: func(c *config.Config) { c.Recipes["hardening"].Steps[0].Name = "hardening" }},
		{name: "destination", changes: true, mutate: func(c *config.Config) { c.Recipes["hardening"].Steps[1].Destination = "/etc/ssh/sshd_config.d/x" }},
		{name: "mode", changes: true, mutate: func(c *config.Config) { c.Recipes["hardening"].Steps[1].Mode = "0644" }},
		{name: "env expression", changes: true, mutate: func(c *config.Config) {
			c.Recipes["hardening"].Steps[0].Env["CIS_LEVEL"] = expr(t, `"${input.level}0"`)
		}},
		{name: "env key", changes: true, mutate: func(c *config.Config) {
			c.Recipes["hardening"].Steps[0].Env = map[string]hcl.Expression{"LEVEL": expr(t, "input.level")}
		}},
		{name: "local used in env", changes: true, layer: "sidecar", mutate: func(c *config.Config) {
			c.Locals["greeting"].Value = cty.StringVal("hi")
		}},
		{name: "source", changes: true, layer: "app-web", mutate: func(c *config.Config) {
			c.Layers["linux"].Source = &config.Source{Owners: []string{"amazon"}, NameFilter: "al2023-ami-*"}
		}},
		{name: "source architecture", changes: true, mutate: func(c *config.Config) {
			c.Layers["linux"].Source = &config.Source{SSMParameter: c.Layers["linux"].Source.SSMParameter, Architecture: "arm64"}
		}},
		{name: "volume size", changes: true, mutate: func(c *config.Config) { c.Layers["foundation"].Volume.SizeGiB = 10 }},
		{name: "volume type", changes: true, mutate: func(c *config.Config) { c.Layers["foundation"].Volume.Type = "gp2" }},
		{name: "volume encryption", changes: true, mutate: func(c *config.Config) { c.Layers["foundation"].Volume.Encrypted = false }},
		{name: "layer kms key", changes: true, mutate: func(c *config.Config) { c.Layers["foundation"].Volume.KMSKeyID = "alias/x" }},
		{name: "project kms key", changes: true, mutate: func(c *config.Config) { c.Project.KMSKeyID = "alias/x" }},
		{name: "imdsv2", changes: true, mutate: func(c *config.Config) { c.Layers["foundation"].IMDSv2Required = false }},
		{name: "layer provisioner", changes: true, mutate: func(c *config.Config) { c.Layers["foundation"].Provisioner = "ssh" }},
		{name: "project provisioner", changes: true, mutate: func(c *config.Config) { c.Project.Provisioner = "ssh" }},
		{name: "parent change propagates", changes: true, layer: "app-worker", mutate: func(c *config.Config) {
			c.Layers["linux"].Volume.SizeGiB = 20
		}},

		// Settings that do not.
		{name: "instance type", mutate: func(c *config.Config) { c.Layers["foundation"].InstanceType = "c7i.4xlarge" }},
		{name: "layer tags", mutate: func(c *config.Config) { c.Layers["foundation"].Tags = map[string]string{"a": "b"} }},
		{name: "layer regions", mutate: func(c *config.Config) { c.Layers["foundation"].Regions = []string{"eu-west-1"} }},
		{name: "layer share_with", mutate: func(c *config.Config) {
			c.Layers["foundation"].ShareWith = &config.Sharing{Accounts: []string{"111122223333"}}
		}},
		{name: "patch block", mutate: func(c *config.Config) {
			c.Layers["foundation"].Patch = &config.PatchRef{Baseline: "sec", PatchGroup: "g"}
		}},
		{name: "project regions", mutate: func(c *config.Config) { c.Project.Regions = []string{"us-east-1", "eu-west-1"} }},
		{name: "project default tags", mutate: func(c *config.Config) { c.Project.DefaultTags["cost"] = "x" }},
		{name: "project deprecate", mutate: func(c *config.Config) { c.Project.DeprecateAfter = 1000 }},
		{name: "project ami name", mutate: func(c *config.Config) {
			c.Project.AMIName = expr(t, `"x-${layer}"`)
		}},
		{name: "project plumbing", mutate: func(c *config.Config) {
			c.Project.IAMInstanceProfile, c.Project.SubnetID, c.Project.ParamPrefix, c.Project.InventoryBucket = "p", "subnet-1", "/x", "b"
			c.Project.ShareWith = config.Sharing{Accounts: []string{"1"}}
		}},
		{name: "kms key of an unencrypted volume", mutate: func(c *config.Config) {
			c.Layers["foundation"].Volume.Encrypted = false
			c.Layers["foundation"].Volume.KMSKeyID = "alias/x"
		}, layer: "sidecar"},
		{name: "recipe description", mutate: func(c *config.Config) { c.Recipes["hardening"].Description = "new words" }},
		{name: "unused variable", mutate: func(c *config.Config) {
			c.Variables["other"] = &config.Variable{Name: "other", Value: cty.StringVal("x")}
		}},
		{name: "source owners order", layer: "app-web", mutate: func(c *config.Config) {
			c.Layers["linux"].Source = &config.Source{Owners: []string{"b", "a"}, NameFilter: "x"}
		}},
	}
	// "source owners order" compares two filter sources with each other.
	ownersA := fx.config(t)
	ownersA.Layers["linux"].Source = &config.Source{Owners: []string{"a", "b"}, NameFilter: "x"}
	filterBase := hashes(fingerprints(t, ownersA))

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fx.config(t)
			tt.mutate(cfg)
			got := hashes(fingerprints(t, cfg))
			layer := tt.layer
			if layer == "" {
				layer = "foundation"
			}
			want := base
			if tt.name == "source owners order" {
				want = filterBase
			}
			if tt.name == "kms key of an unencrypted volume" {
				// compare with encryption off and no key
				c2 := fx.config(t)
				c2.Layers["foundation"].Volume.Encrypted = false
				want = hashes(fingerprints(t, c2))
			}
			if tt.changes {
				assert.NotEqual(t, want[layer], got[layer])
			} else {
				assert.Equal(t, want, got)
			}
		})
	}
}

func TestFingerprintGolden(t *testing.T) {
	// Pins the algorithm. If this fails you changed what a fingerprint
	// means: every AMI would rebuild. If that is intended, bump
	// FingerprintVersion ("amibake-fp-v2"), update docs/fingerprint.md
	// and the hashes here.
	require.Equal(t, "amibake-fp-v1", FingerprintVersion)
	fx := newFPFixture(t)
	got := hashes(fingerprints(t, fx.config(t)))
	assert.Equal(t, map[string]string{
		"linux":      "e2e4e17b9d51417451eb472c11ebd5727c84bc812db64b499aca13be681b29e5",
		"foundation": "bd7c6016c9eada925d94a68e35e731dd6b3cb05ad2163ba7dc887eadf79ddf69",
		"base":       "1a7ea0236af0481960f1afbd4e5f57f4d8f5dee367fbb55b1251887b415046c8",
		"sidecar":    "3caec2caf429356db75343e9ebea51d83996202752b37a0b45ed5439b3b47d9d",
		"app-web":    "9f6ce51e3abea066ae91eb43387e27411e752e66d1293e2a208aaea4d8c33482",
		"app-worker": "aab7c5b81a3688bae6061f8dfe8f9dba11991f5175cec5e486055b6716168135",
	}, got)
}

func TestFingerprintFileDigestIsPlainSHA256(t *testing.T) {
	fx := newFPFixture(t)
	fps := fingerprints(t, fx.config(t))
	f := fps["foundation"].Components[7].Parts[2]
	require.Equal(t, "harden.sh", f.Name)
	// printf '#!/bin/sh\nset -eu\necho "level $CIS_LEVEL"\n' | sha256sum
	assert.Equal(t, sha256hex(fixtureFiles["recipes/hardening/harden.sh"]), f.Digest)
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestFingerprintBinaryFilesKeepCRLF(t *testing.T) {
	fx := newFPFixture(t)
	fx.write(t, "recipes/web/files/nginx.conf", "\x00bin\r\n")
	a := hashes(fingerprints(t, fx.config(t)))
	fx.write(t, "recipes/web/files/nginx.conf", "\x00bin\n")
	b := hashes(fingerprints(t, fx.config(t)))
	assert.NotEqual(t, a["app-web"], b["app-web"])
}

func TestFingerprintEachFileReadOnce(t *testing.T) {
	fx := newFPFixture(t)
	var reads atomic.Int32
	orig := readFile
	readFile = func(p string) ([]byte, error) { reads.Add(1); return orig(p) }
	defer func() { readFile = orig }()

	cfg := fx.config(t)
	// Many layers share the tools recipe.
	for i := 0; i < 30; i++ {
		l := mkLayer("extra-"+string(rune('a'+i)), "sidecar", "tools", "hardening")
		l.Recipes[1].Inputs = map[string]cty.Value{"level": cty.NumberIntVal(int64(i % 3))}
		cfg.Layers[l.Name] = l
	}
	fingerprints(t, cfg)
	// harden.sh, sshd, install.sh ×2 recipes, a.conf, b.conf, setup.sh, nginx.conf
	assert.Equal(t, int32(8), reads.Load())
}

func TestFingerprintProblems(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		fx := newFPFixture(t)
		require.NoError(t, os.Remove(filepath.Join(fx.dir, "recipes", "web", "files", "nginx.conf")))
		cfg := fx.config(t)
		cfg.Layers["app-web2"] = mkLayer("app-web2", "base", "web")
		cfg.Layers["app-web2"].Recipes[0].Inputs = cfg.Layers["app-web"].Recipes[0].Inputs
		cfg.Layers["app-web-kid"] = mkLayer("app-web-kid", "app-web")
		g, diags := Build(cfg)
		require.False(t, diags.HasErrors())
		fps, diags := Fingerprints(g)
		require.Len(t, diags, 1, "reported once, not once per layer")
		assert.Equal(t, SummaryRecipeFile, diags[0].Summary)
		assert.Equal(t, `Step "web/2" of recipe "web" references "files/nginx.conf", which does not exist.`, diags[0].Detail)
		assert.Equal(t, "recipes/web/recipe.hcl", diags[0].Subject.Filename)
		assert.NotContains(t, fps, "app-web")
		assert.NotContains(t, fps, "app-web2")
		assert.NotContains(t, fps, "app-web-kid")
		assert.Contains(t, fps, "app-worker")
	})
	t.Run("paths outside", func(t *testing.T) {
		fx := newFPFixture(t)
		cfg := fx.config(t)
		cfg.Recipes["web"].Steps[0].Path = "/etc/passwd"
		cfg.Recipes["web"].Steps[1].Source = "../../../outside"
		g, _ := Build(cfg)
		_, diags := Fingerprints(g)
		require.Len(t, diags, 2)
		assert.Contains(t, diags[0].Detail, "is not relative to the recipe's directory")
		assert.Contains(t, diags[1].Detail, "is outside the project directory")
	})
	t.Run("unknown recipe and bad inputs", func(t *testing.T) {
		fx := newFPFixture(t)
		cfg := fx.config(t)
		cfg.Layers["sidecar"].Recipes = append(cfg.Layers["sidecar"].Recipes, &config.RecipeRef{Name: "nope"})
		cfg.Layers["app-web"].Recipes[0].Inputs = nil // ports is required
		g, _ := Build(cfg)
		fps, diags := Fingerprints(g)
		require.True(t, diags.HasErrors())
		var summaries []string
		for _, d := range diags {
			summaries = append(summaries, d.Summary)
		}
		assert.Contains(t, summaries, SummaryUnknownRecipe)
		assert.NotContains(t, fps, "sidecar")
		assert.NotContains(t, fps, "app-web")
		assert.Contains(t, fps, "app-worker")
	})
	t.Run("nil and hand-built oddities", func(t *testing.T) {
		fps, diags := Fingerprints(nil)
		assert.Empty(t, fps)
		assert.Empty(t, diags)
		cfg := mkConfig(&config.Layer{Name: "bare"})
		cfg.Project = nil
		cfg.Layers["bare"].Recipes = []*config.RecipeRef{nil}
		fps = fingerprints(t, cfg)
		assert.Equal(t, "none", fps["bare"].Components[0].Name)
	})
}

func TestCanonical(t *testing.T) {
	enc := func(v cty.Value) string {
		f := &framer{}
		canonical(f, v)
		return string(f.buf)
	}
	assert.Equal(t, enc(cty.NumberIntVal(1)), enc(cty.MustParseNumberVal("1.000")))
	assert.NotEqual(t, enc(cty.NumberIntVal(1)), enc(cty.StringVal("1")))
	assert.Equal(t, enc(cty.ListVal([]cty.Value{cty.StringVal("a")})), enc(cty.TupleVal([]cty.Value{cty.StringVal("a")})))
	assert.Equal(t,
		enc(cty.SetVal([]cty.Value{cty.StringVal("b"), cty.StringVal("a")})),
		enc(cty.SetVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})))
	assert.Equal(t,
		enc(cty.ObjectVal(map[string]cty.Value{"a": cty.True, "b": cty.False})),
		enc(cty.MapVal(map[string]cty.Value{"b": cty.False, "a": cty.True})))
	assert.Equal(t, enc(cty.StringVal("x")), enc(cty.StringVal("x").Mark(config.SensitiveMark)))
	// Framing: no concatenation ambiguity.
	assert.NotEqual(t,
		enc(cty.ListVal([]cty.Value{cty.StringVal("ab"), cty.StringVal("c")})),
		enc(cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("bc")})))
	assert.NotEqual(t, enc(cty.NullVal(cty.String)), enc(cty.StringVal("")))
	assert.NotEqual(t, enc(cty.ListValEmpty(cty.String)), enc(cty.MapValEmpty(cty.String)))
	assert.Equal(t, "0.1", canonicalString(cty.MustParseNumberVal("0.1")))
	assert.NotPanics(t, func() {
		enc(cty.UnknownVal(cty.String))
		enc(cty.NilVal)
		enc(cty.DynamicVal)
		canonicalString(cty.UnknownVal(cty.String))
		canonicalString(cty.NilVal)
	})
}

func TestSettingsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "fingerprint.md"))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, s := range append(append([]Setting(nil), ImageSettings...), IgnoredSettings...) {
		assert.False(t, seen[s.Name], "listed twice: %s", s.Name)
		seen[s.Name] = true
		assert.Contains(t, string(doc), "`"+s.Name+"`", "docs/fingerprint.md does not mention %s", s.Name)
	}
	assert.Contains(t, string(doc), FingerprintVersion)
}
