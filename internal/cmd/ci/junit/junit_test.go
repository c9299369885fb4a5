package junit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/iostreams"
)

func TestJUnitRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "r.json")
	require.NoError(t, os.WriteFile(in, []byte(`{"project":"p","results":[{"layer":"a","status":"failed","error":"boom"}]}`), 0o644))
	ios, _, out, _ := iostreams.Test()
	require.NoError(t, junitRun(&JUnitOptions{IO: ios, In: in}))
	assert.Contains(t, out.String(), `<failure message="failed">boom</failure>`)

	outFile := filepath.Join(dir, "j.xml")
	ios.In = strings.NewReader(`{"results":[]}`)
	require.NoError(t, junitRun(&JUnitOptions{IO: ios, In: "-", Out: outFile}))
	data, err := os.ReadFile(outFile)
	require.NoError(t, err)
	assert.Contains(t, string(data), `tests="0"`)

	assert.ErrorContains(t, junitRun(&JUnitOptions{IO: ios, In: filepath.Join(dir, "missing")}), "read result")
}
