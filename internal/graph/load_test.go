package graph

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/config"
)

// Tests on real HCL: testdata/project loaded with config.Load.
//
//	linux ── foundation [hardening] ─┬─ base [agent] ─┬─ app-web [web]
//	                                 │                └─ app-worker
//	                                 └─ tools [web]

// copyProject copies testdata/project into a temporary directory.
func copyProject(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "project")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	require.NoError(t, err)
	return dst
}

func edit(t *testing.T, dir, rel string, fn func(string) string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	out := fn(string(b))
	require.NotEqual(t, string(b), out, "edit of %s changed nothing", rel)
	require.NoError(t, os.WriteFile(p, []byte(out), 0o644))
}

// addAttr adds an attribute at the end of a file's only top-level block.
func addAttr(line string) func(string) string {
	return func(s string) string {
		i := strings.LastIndex(s, "}")
		return s[:i] + "  " + line + "\n" + s[i:]
	}
}

func loadFingerprints(t *testing.T, dir string, opts config.LoadOptions) map[string]*Fingerprint {
	t.Helper()
	cfg, diags := config.Load(dir, opts)
	require.False(t, diags.HasErrors(), diags.Error())
	return fingerprints(t, cfg)
}

func loadHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	return hashes(loadFingerprints(t, dir, config.LoadOptions{Env: []string{}}))
}

func TestLoadedProjectGolden(t *testing.T) {
	// See TestFingerprintGolden: a deliberate change bumps FingerprintVersion.
	assert.Equal(t, map[string]string{
		"linux":      "e2e4e17b9d51417451eb472c11ebd5727c84bc812db64b499aca13be681b29e5",
		"foundation": "f113b1109b381901044cd2248c5e4c6f0308e219253e09a20c5166b59612fc69",
		"base":       "92aaf0e6ea6b4bf9f58869069eb7831cabef13c8af37b523ffe3ea739c13f6d5",
		"tools":      "b8103cd080d0b66fc9386e7f25bb3bb45ec424d35caaf4f6ccfa72f43066c43c",
		"app-web":    "7448dd4d548583d5f389f657d971d92a1049b4a5887472e1193036ed6d92e4cd",
		"app-worker": "13e10af30cba8282c6fbb8f1fd52d0f011b25ee9aec036eb60b14782b0049467",
	}, loadHashes(t, filepath.Join("testdata", "project")))
}

// Comments, whitespace, alignment, attribute order, equivalent literals,
// file names and CRLF line endings (HCL and scripts) change nothing.
func TestLoadedProjectStableAcrossFormatting(t *testing.T) {
	want := loadHashes(t, filepath.Join("testdata", "project"))
	dir := copyProject(t)

	// foundation.hcl rewritten by hand: comments, other order, 1.0 for 1.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "layers", "foundation.hcl"), []byte(`# Foundation: what everything needs.
layer "foundation" {
  /* the volume first this time */
  volume {
    encrypted = true   # always
    type = "gp3"
    size = 10.0
  }

  inputs = { hardening = { level = 1.0 } }   // same value
  recipes = [
    recipe.hardening,
  ]
  parent = layer.linux
}
`), 0o644))
	// tools moves to another file.
	require.NoError(t, os.Rename(filepath.Join(dir, "layers", "tools.hcl"), filepath.Join(dir, "layers", "zz-more.hcl")))
	// Every file gets a comment (where it can hold one), tabs for
	// indentation and CRLF line endings.
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		if strings.HasSuffix(p, ".hcl") {
			s = "# reformatted\n\n" + strings.ReplaceAll(s, "\n  ", "\n\t") + "\n// trailing comment\n"
		}
		return os.WriteFile(p, []byte(strings.ReplaceAll(s, "\n", "\r\n")), 0o644)
	})
	require.NoError(t, err)

	assert.Equal(t, want, loadHashes(t, dir))
}

func TestLoadedProjectScriptOfBaseChanges(t *testing.T) {
	dir := copyProject(t)
	before := loadHashes(t, dir)
	edit(t, dir, "recipes/agent/install.sh", func(s string) string { return strings.Replace(s, "register", "registeR", 1) })
	after := loadHashes(t, dir)
	for _, name := range []string{"base", "app-web", "app-worker"} {
		assert.NotEqual(t, before[name], after[name], "%s should change", name)
	}
	for _, name := range []string{"linux", "foundation", "tools"} {
		assert.Equal(t, before[name], after[name], "%s should not change", name)
	}
}

func TestLoadedProjectEdits(t *testing.T) {
	base := loadHashes(t, filepath.Join("testdata", "project"))
	tests := []struct {
		name    string
		file    string
		edit    func(string) string
		changes []string // layers whose fingerprint changes; nil: none
	}{
		{"recipe version bump", "recipes/hardening/recipe.hcl",
			func(s string) string { return strings.Replace(s, `"1.4.0"`, `"1.4.1"`, 1) },
			[]string{"foundation", "base", "tools", "app-web", "app-worker"}},
		{"recipe description", "recipes/hardening/recipe.hcl",
			func(s string) string { return strings.Replace(s, "CIS-style settings", "other words", 1) }, nil},
		{"input value", "layers/app-web.hcl",
			func(s string) string { return strings.Replace(s, `["a", "b"]`, `["a", "c"]`, 1) }, []string{"app-web"}},
		{"local used by an input", "amibake.hcl",
			func(s string) string { return strings.Replace(s, "8080", "8081", 1) }, []string{"app-web"}},
		{"input default", "recipes/web/recipe.hcl",
			func(s string) string { return strings.Replace(s, "default = 80\n", "default = 81\n", 1) }, []string{"tools"}},
		{"volume size", "layers/foundation.hcl",
			func(s string) string { return strings.Replace(s, "size      = 10", "size      = 12", 1) },
			[]string{"foundation", "base", "tools", "app-web", "app-worker"}},
		{"imdsv2", "layers/tools.hcl",
			addAttr("imdsv2_required = false"), []string{"tools"}},
		{"provisioner", "amibake.hcl",
			func(s string) string { return strings.Replace(s, `"ssm"`, `"ssh"`, 1) },
			[]string{"linux", "foundation", "base", "tools", "app-web", "app-worker"}},
		{"instance type", "layers/tools.hcl",
			func(s string) string { return strings.Replace(s, "t3.large", "c7i.4xlarge", 1) }, nil},
		{"tags", "layers/base.hcl",
			func(s string) string { return strings.Replace(s, `tier = "base"`, `tier = "base", owner = "me"`, 1) }, nil},
		{"layer regions", "layers/base.hcl",
			addAttr(`regions = ["eu-west-1"]`), nil},
		{"project regions", "amibake.hcl",
			func(s string) string { return strings.Replace(s, `"eu-west-1"`, `"eu-central-1"`, 1) }, nil},
		{"project default tags", "amibake.hcl",
			func(s string) string { return strings.Replace(s, `team = "platform"`, `team = "web"`, 1) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyProject(t)
			edit(t, dir, tt.file, tt.edit)
			got := loadHashes(t, dir)
			changed := map[string]bool{}
			for _, n := range tt.changes {
				changed[n] = true
			}
			for name, h := range base {
				if changed[name] {
					assert.NotEqual(t, h, got[name], "%s should change", name)
				} else {
					assert.Equal(t, h, got[name], "%s should not change", name)
				}
			}
		})
	}
}

// Sharing does not change the image. Sharing an encrypted AMI needs a
// customer-managed key (config.Load refuses the default key), so both
// sides of the comparison carry one.
func TestLoadedProjectShareWithKeepsFingerprint(t *testing.T) {
	withKey := func(s string) string {
		return strings.Replace(s, `provisioner  = "ssm"`, `provisioner  = "ssm"`+"\n  kms_key_id   = \"alias/graph-test\"", 1)
	}
	before := copyProject(t)
	edit(t, before, "amibake.hcl", withKey)
	after := copyProject(t)
	edit(t, after, "amibake.hcl", withKey)
	edit(t, after, "layers/base.hcl", addAttr(`share_with = { accounts = ["111122223333"] }`))
	want := loadHashes(t, before)
	require.NotEqual(t, loadHashes(t, filepath.Join("testdata", "project")), want, "the key itself is part of the image")
	assert.Equal(t, want, loadHashes(t, after))
}

func TestLoadedProjectSensitive(t *testing.T) {
	dir := filepath.Join("testdata", "project")
	fps := loadFingerprints(t, dir, config.LoadOptions{Env: []string{}})
	b, err := json.Marshal(fps)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "token-not-for-display")
	assert.Contains(t, string(b), SensitiveValue)

	// The value still counts: another token (from -var) is another image.
	other := loadFingerprints(t, dir, config.LoadOptions{Env: []string{}, Vars: map[string]string{"agent_token": "rotated"}})
	assert.NotEqual(t, fps["base"].Hash, other["base"].Hash)
	assert.Equal(t, fps["foundation"].Hash, other["foundation"].Hash)
	assert.Equal(t, fps["tools"].Hash, other["tools"].Hash)
}
