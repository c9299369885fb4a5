package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGeneratedDocsAreCurrent fails when a checked-in generated file
// differs from what the generator writes now.
func TestGeneratedDocsAreCurrent(t *testing.T) {
	repo := repoRoot()
	files, err := Generate(repo)
	require.NoError(t, err)
	for _, name := range sortedKeys(files) {
		have, err := os.ReadFile(filepath.Join(repo, name))
		if err != nil {
			t.Errorf("%s is missing: run make generate", name)
			continue
		}
		if string(have) != string(files[name]) {
			t.Errorf("%s is stale: run make generate (go run ./internal/docgen) and commit the result", name)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, err := Generate(repoRoot())
	require.NoError(t, err)
	b, err := Generate(repoRoot())
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestCommandReferenceCoversTheTree(t *testing.T) {
	files, err := Generate(repoRoot())
	require.NoError(t, err)
	doc := string(files[CommandsFile])
	for _, want := range []string{
		"## amibake status\n", "## amibake lock release\n", "## amibake completion\n",
		"| `--detailed-exitcode` | `false` |", "| `--to value` | `\"stable\"` |",
		"| `--output value`, `-o value` | `\"text\"` |",
	} {
		assert.Contains(t, doc, want)
	}
}

// The HCL reference fails loudly when a schema and the descriptions
// disagree.
func TestHCLReferenceMatchesSchemas(t *testing.T) {
	doc, err := HCL(filepath.Join(repoRoot(), "internal", "config"))
	require.NoError(t, err)
	for _, want := range []string{"## `layer \"NAME\"`", "| `instance_type` | string | `\"t3.small\"` |",
		"`step \"file\"`:", "#### `fleet › canary › metric \"NAME\"`", "| `regions` | list(string) | required |"} {
		assert.Contains(t, doc, want)
	}

	attrDocs["layer.no_such_argument"] = attrDoc{Type: "string"}
	defer delete(attrDocs, "layer.no_such_argument")
	_, err = HCL(filepath.Join(repoRoot(), "internal", "config"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "described but not in any schema: layer.no_such_argument")

	saved := attrDocs["layer.instance_type"]
	delete(attrDocs, "layer.instance_type")
	defer func() { attrDocs["layer.instance_type"] = saved }()
	_, err = HCL(filepath.Join(repoRoot(), "internal", "config"))
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "argument layer.instance_type"), err.Error())
}
