package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// compile loads the checked-in schema of command.
func compile(t *testing.T, command string) *jsonschema.Schema {
	t.Helper()
	for _, d := range root.JSONDocuments() {
		if d.Command != command {
			continue
		}
		path := filepath.Join(repoRoot(), JSONSchemaFile(d))
		f, err := os.Open(path)
		require.NoError(t, err, "run make generate")
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		require.NoError(t, err)
		c := jsonschema.NewCompiler()
		require.NoError(t, c.AddResource(path, doc))
		s, err := c.Compile(path)
		require.NoError(t, err)
		return s
	}
	t.Fatalf("no JSON document for %q", command)
	return nil
}

// TestCommandOutputMatchesItsSchema runs commands against the sandbox
// with --output json and validates what they print against the checked-in
// schemas, and the schema id they carry.
func TestCommandOutputMatchesItsSchema(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	cases := []struct {
		command string
		args    []string
		code    int
	}{
		{"validate", []string{"validate"}, 0},
		{"graph", []string{"graph"}, 0},
		{"fingerprint", []string{"fingerprint"}, 0},
		{"plan", []string{"plan"}, 0},
		{"status", []string{"status"}, 0},
		{"lock status", []string{"lock", "status"}, 0},
		{"patch apply", []string{"patch", "apply"}, 0},
		{"patch apply", []string{"patch", "apply", "--apply"}, 0},
		{"patch associate", []string{"patch", "associate"}, 0},
		{"retire", []string{"retire"}, 0},
		{"drift", []string{"drift"}, 0},
		{"lock status", []string{"lock", "status"}, 0},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, "_"), func(t *testing.T) {
			code, out, errOut := clitest.Run(t, sb, dir, append([]string{"-o", "json"}, c.args...)...)
			require.Equal(t, c.code, code, errOut)
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
			require.NoError(t, err, out)
			require.NoError(t, compile(t, c.command).Validate(inst), out)
			if strings.HasPrefix(strings.TrimSpace(out), "{") {
				var head struct {
					Schema string `json:"schema"`
				}
				require.NoError(t, json.Unmarshal([]byte(out), &head))
				assert.Equal(t, "amibake/"+strings.ReplaceAll(c.command, " ", "-")+"/v1", head.Schema)
			}
		})
	}

	// Text output carries no id; the validation can fail.
	code, out, _ := clitest.Run(t, sb, dir, "-o", "json", "status")
	require.Equal(t, 0, code)
	bad := strings.Replace(out, `"schema": "amibake/status/v1"`, `"schema": "amibake/status/v2"`, 1)
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
	require.NoError(t, err)
	assert.Error(t, compile(t, "status").Validate(inst), "another version's id is refused")
}

// TestEveryJSONCommandHasASchema keeps root.JSONDocuments complete: every
// command that runs something either has a document or is listed as one
// that writes another format.
func TestEveryJSONCommandHasASchema(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	app := root.NewApp(root.NewFactory(ios))
	known := map[string]bool{}
	for _, d := range root.JSONDocuments() {
		known[d.Command] = true
	}
	for _, c := range root.NoJSONDocument {
		known[c] = true
	}
	cmdutil.WalkCommands(app.Commands, func(full string, c *cli.Command) bool {
		if c.Action != nil && !c.Hidden {
			assert.True(t, known[full], "command %q: add it to root.JSONDocuments (or root.NoJSONDocument) and run make generate", full)
		}
		return true
	})
	for _, d := range root.JSONDocuments() {
		k := d.Type.Kind()
		assert.True(t, k == reflect.Struct || k == reflect.Slice, "%s: a document is an object or an array", d.Command)
	}
}

func TestJSONSchemaFollowsEncodingJSON(t *testing.T) {
	type inner struct {
		X int `json:"x"`
	}
	type doc struct {
		inner
		A    string            `json:"a"`
		B    *inner            `json:"b,omitempty"`
		C    []string          `json:"c"`
		D    map[string]inner  `json:"d,omitempty"`
		Skip string            `json:"-"`
		N    int64             `json:"n,string"`
		M    map[string]string `json:"m"`
	}
	data, err := JSONSchema(root.JSONDocument{Command: "x y", Version: 3, Type: reflect.TypeFor[doc]()})
	require.NoError(t, err)
	var s map[string]any
	require.NoError(t, json.Unmarshal(data, &s))
	props := s["properties"].(map[string]any)
	assert.ElementsMatch(t, []string{"schema", "x", "a", "b", "c", "d", "n", "m"}, keys(props))
	assert.Equal(t, map[string]any{"const": "amibake/x-y/v3", "description": "the schema id of this document"}, props["schema"])
	assert.ElementsMatch(t, []any{"schema", "x", "a", "c", "n", "m"}, s["required"])
	assert.Equal(t, map[string]any{"type": "string"}, props["n"])
	c := jsonschema.NewCompiler()
	doc2, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	require.NoError(t, c.AddResource("x.json", doc2))
	sch, err := c.Compile("x.json")
	require.NoError(t, err)
	good, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"schema":"amibake/x-y/v3","x":1,"a":"","b":null,"c":null,"n":"5","m":{}}`))
	assert.NoError(t, sch.Validate(good))
	extra, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"schema":"amibake/x-y/v3","x":1,"a":"","c":[],"n":"5","m":{},"new":1}`))
	assert.Error(t, sch.Validate(extra), "closed objects")
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
