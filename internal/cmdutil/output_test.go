package cmdutil

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteJSONStampsTheSchemaOfObjects(t *testing.T) {
	type doc struct {
		A string `json:"a"`
		B []int  `json:"b,omitempty"`
	}
	var plain bytes.Buffer
	require.NoError(t, WriteJSON(&plain, doc{A: "<x>"}))
	assert.Equal(t, "{\n  \"a\": \"<x>\"\n}\n", plain.String())

	var out bytes.Buffer
	require.NoError(t, WriteJSON(&SchemaWriter{Writer: &out, ID: "amibake/x/v1"}, doc{A: "<x>", B: []int{1}}))
	assert.Equal(t, "{\n  \"schema\": \"amibake/x/v1\",\n  \"a\": \"<x>\",\n  \"b\": [\n    1\n  ]\n}\n", out.String())

	out.Reset()
	require.NoError(t, WriteJSON(&SchemaWriter{Writer: &out, ID: "amibake/x/v1"}, struct{}{}))
	assert.Equal(t, "{\n  \"schema\": \"amibake/x/v1\"\n}\n", out.String())

	// An array cannot carry the id: written as it is.
	out.Reset()
	require.NoError(t, WriteJSON(&SchemaWriter{Writer: &out, ID: "amibake/x/v1"}, []string{"a"}))
	assert.Equal(t, "[\n  \"a\"\n]\n", out.String())
}
