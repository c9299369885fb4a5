package reliability

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
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

	commands := secretReadOnlyCommands(w.project, renderOut, w.fam.Base.Home(), w.fam.AppWorker.Home())
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

	assertSandboxClean(t, w.es.URL, secret)
}

// secretReadOnlyCommands are the commands TestSecretShowsNowhere runs four
// times each (-var and environment, text and JSON) on the seeded world.
func secretReadOnlyCommands(project, renderOut, baseAMI, workerAMI string) [][]string {
	return [][]string{
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
		{"lineage", baseAMI},
		{"revoke", workerAMI},
		{"revoke", workerAMI, "--apply"},
		{"status"},
		{"iam-policy"},
		{"diff", "base@latest", baseAMI},
		{"inventory", "base@latest"},
		{"sbom", "base@latest"},
		{"retire"},
		{"rollout", "web"},
		{"patch", "apply"},
		{"patch", "window", "apply"},
		{"ci", "buildspec", "--out", filepath.Join(project, "buildspec.yml")},
		{"deploy", "render", "--out", filepath.Join(project, "pipeline.yaml")},
	}
}

// assertSandboxClean greps the sandbox's whole state (SecureString values
// aside) and its request log for secret, base64-decoding every string on
// the way: S3 object bodies, user data and CBOR-carried values are
// base64 in the dump, where a plain grep would never see them.
func assertSandboxClean(t *testing.T, url, secret string) {
	t.Helper()
	var state any
	require.NoError(t, json.Unmarshal(adminGet(t, url, "/_sandbox/state"), &state))
	state = stripSecureStrings(state)
	assert.Empty(t, findSecret(state, "state", secret), "the secret in the sandbox's state")
	log := adminGet(t, url, "/_sandbox/log")
	assert.NotContains(t, string(log), secret, "sandbox request log")
}

// findSecret lists the JSON paths under v whose string holds secret, as
// is or once or twice base64-decoded.
func findSecret(v any, path, secret string) []string {
	var hits []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			hits = append(hits, findSecret(e, path+"."+k, secret)...)
		}
	case []any:
		for i, e := range x {
			hits = append(hits, findSecret(e, fmt.Sprintf("%s[%d]", path, i), secret)...)
		}
	case string:
		s := x
		for range 3 {
			if strings.Contains(s, secret) {
				return []string{path}
			}
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
			if err != nil {
				break
			}
			s = string(b)
		}
	}
	return hits
}

// The state grep sees a secret however the dump carries it: as is, in an
// S3 body or user data (base64), in base64 user data of a base64 body.
func TestFindSecretSeesEncodedValues(t *testing.T) {
	const secret = "s3cr3t-0000-1111"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var state any
	require.NoError(t, json.Unmarshal([]byte(fmt.Sprintf(`{"ssm":{"p":[{"type":"SecureString","value":%q},{"type":"String","value":"x"}]},
		"s3":{"o":{"body":%q}},"ec2":{"lt":{"user_data":%q}},"tags":{"k":"a%sb"}}`,
		secret, b64("export TOKEN="+secret), b64(b64("#!/bin/sh\necho "+secret)), secret)), &state))
	hits := findSecret(stripSecureStrings(state), "state", secret)
	assert.ElementsMatch(t, []string{"state.s3.o.body", "state.ec2.lt.user_data", "state.tags.k"}, hits)
	assert.Empty(t, findSecret(map[string]any{"v": b64("nothing here"), "n": 42.0}, "state", secret))
}
