package reliability

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newSecret(t *testing.T) string {
	t.Helper()
	var b [16]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// stripSecureStrings removes the values of SecureString parameter versions
// from the sandbox's state dump: Parameter Store is where a secret may
// legitimately live (encrypted), and only there.
func stripSecureStrings(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "SecureString" {
			delete(x, "value")
		}
		for k, e := range x {
			x[k] = stripSecureStrings(e)
		}
	case []any:
		for i, e := range x {
			x[i] = stripSecureStrings(e)
		}
	}
	return v
}

// grepTree lists the files under root (and their names) holding secret.
func grepTree(t *testing.T, root, secret string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(p, secret) {
			hits = append(hits, p+" (name)")
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(secret)) {
				hits = append(hits, p)
			}
		}
		return nil
	})
	require.NoError(t, err)
	return hits
}

// A unique secret given as the sensitive variable security_agent_token,
// once with -var and once through AMIBAKE_VAR_security_agent_token, runs
// through every command in text and JSON (and at debug log level). It must
// show nowhere: not in stdout or stderr, not in any file under the project,
// HOME or TMPDIR of the runs, not in the sandbox's state (SecureString
// values aside) or request log.
func TestSecretShowsNowhere(t *testing.T) {
	t.Parallel()
	w := seededWorld(t)
	secret := newSecret(t)
	home, tmp, renderOut := t.TempDir(), t.TempDir(), filepath.Join(w.project, "rendered")
	base := cleanEnv(t, w.es.Env)
	env := []string{}
	for _, kv := range base {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "TMPDIR="+tmp, "AMIBAKE_LOCK_HOLDER=secrets-test")

	commands := [][]string{
		{"validate"},
		{"graph"},
		{"graph", "base"},
		{"fingerprint", "--explain"},
		{"fingerprint", "--explain", "base"},
		{"fmt", "-check"},
		{"fmt", "-diff", "-write=false"},
		{"plan"},
		{"plan", "-detailed-exitcode"},
		{"render", "--out", renderOut},
		{"render", "--sandbox", "--out", renderOut + "-sandbox"},
		{"bake", "--dry-run"},
		{"lock", "status"},
		{"promote", "base", "--to", "stable"},
		{"promote", "base", "--from", "stable", "--to", "canary"},
		{"history", "base", "--channel", "stable"},
		{"lineage", w.fam.Base.Home()},
		{"revoke", w.fam.AppWorker.Home()},
		{"revoke", w.fam.AppWorker.Home(), "--apply"},
		{"status"},
		{"iam-policy"},
		{"diff", "base@latest", w.fam.Base.Home()},
		{"inventory", "base@latest"},
		{"sbom", "base@latest"},
		{"retire"},
		{"rollout", "web"},
		{"patch", "apply"},
		{"ci", "buildspec", "--out", filepath.Join(w.project, "buildspec.yml")},
		{"deploy", "render", "--out", filepath.Join(w.project, "pipeline.yaml")},
	}
	var ran []result
	for _, via := range []string{"-var", "env"} {
		for _, output := range []string{"text", "json"} {
			for _, cmd := range commands {
				args := append([]string{"-o", output, "--log-level", "debug"}, cmd...)
				runEnv := env
				if via == "-var" && cmd[0] != "fmt" { // fmt evaluates nothing and takes no -var
					args = append(args, "-var", "security_agent_token="+secret)
				} else {
					runEnv = append(append([]string(nil), env...), "AMIBAKE_VAR_security_agent_token="+secret)
				}
				r := runProc(t, runEnv, w.project, args...)
				if strings.Contains(r.Err, "flag provided but not defined: -var") {
					// A command without -var still reads AMIBAKE_VAR_NAME.
					args = args[:len(args)-2]
					runEnv = append(append([]string(nil), env...), "AMIBAKE_VAR_security_agent_token="+secret)
					r = runProc(t, runEnv, w.project, args...)
				}
				ran = append(ran, r)
				assert.NotContains(t, r.Out, secret, "stdout of %s", r)
				assert.NotContains(t, r.Err, secret, "stderr of %s", r)
			}
		}
	}
	// Error paths: a misspelt name (undeclared: amibake cannot know it is
	// sensitive, yet does not echo the value).
	for _, args := range [][]string{
		{"validate", "-var", "security_agent_tokn=" + secret},
		{"-o", "json", "plan", "-var", "security_agent_tokn=" + secret},
	} {
		r := runProc(t, env, w.project, args...)
		assert.Equal(t, 1, r.Code, "%s", r)
		assert.NotContains(t, r.Out+r.Err, secret, "%s", r)
	}

	// The runs did something: most succeed; plan -detailed-exitcode says 2.
	codes := map[int]int{}
	for _, r := range ran {
		codes[r.Code]++
		if r.Code != 0 && r.Code != 2 {
			t.Logf("non-zero run: %s", r)
		}
	}
	assert.GreaterOrEqual(t, codes[0], len(ran)*3/5, "exit codes %v", codes)

	for _, dir := range []string{w.project, home, tmp} {
		assert.Empty(t, grepTree(t, dir, secret), "files under %s", dir)
	}
	_, err := os.Stat(renderOut)
	assert.NoError(t, err, "render wrote its templates")

	var state any
	require.NoError(t, json.Unmarshal(adminGet(t, w.es.URL, "/_sandbox/state"), &state))
	dump, err := json.Marshal(stripSecureStrings(state))
	require.NoError(t, err)
	assert.NotContains(t, string(dump), secret, "sandbox state")
	assert.NotContains(t, string(adminGet(t, w.es.URL, "/_sandbox/log")), secret, "sandbox request log")
}
