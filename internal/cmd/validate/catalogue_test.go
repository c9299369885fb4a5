package validate

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmdutil"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*/want.txt from the current output (check every change by hand)")

// catalogueDir is the repository's bad-input catalogue: one tiny project
// per directory, each with exactly one problem, and want.txt listing the
// diagnostics a user should see, one per line, sorted:
//
//	error|warning FILE:LINE:COL: Summary
//
// ("-" stands for FILE:LINE:COL when a diagnostic has no location). An
// optional args.txt holds extra command-line arguments, split on white
// space; single or double quotes keep a value with spaces whole.
const catalogueDir = "../../../testdata/bad"

func TestCatalogue(t *testing.T) {
	entries, err := os.ReadDir(catalogueDir)
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(catalogueDir, e.Name())
		t.Run(e.Name(), func(t *testing.T) { runCatalogueCase(t, dir) })
	}
	assert.GreaterOrEqual(t, n, 18, "the catalogue lost cases")
}

func runCatalogueCase(t *testing.T, dir string) {
	var args []string
	if b, err := os.ReadFile(filepath.Join(dir, "args.txt")); err == nil {
		args = splitArgs(string(b))
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}

	// JSON run: the diagnostics to compare with want.txt.
	stdout, _, runErr := runValidate(t, dir, true, args...)
	var res Result
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	var got []string
	for _, d := range res.Diagnostics {
		loc := "-"
		if d.Range != nil {
			loc = fmt.Sprintf("%s:%d:%d", d.Range.Filename, d.Range.Start.Line, d.Range.Start.Column)
		}
		got = append(got, fmt.Sprintf("%s %s: %s", d.Severity, loc, d.Summary))
	}
	sort.Strings(got)

	wantFile := filepath.Join(dir, "want.txt")
	if *update {
		require.NoError(t, os.WriteFile(wantFile, []byte(strings.Join(got, "\n")+"\n"), 0o644))
	}
	b, err := os.ReadFile(wantFile)
	require.NoError(t, err, "every case needs a want.txt")
	want := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	assert.Equal(t, want, got, "diagnostics of %s", dir)

	wantErrors := false
	for _, w := range want {
		wantErrors = wantErrors || strings.HasPrefix(w, "error ")
	}
	if wantErrors {
		assert.Equal(t, cmdutil.ExitFailure, cmdutil.ExitCode(runErr), "exit code")
		assert.False(t, res.Valid)
	} else {
		assert.Equal(t, cmdutil.ExitOK, cmdutil.ExitCode(runErr), "exit code")
		assert.True(t, res.Valid)
	}

	// Text run: every located diagnostic names its file and line.
	_, stderr, _ := runValidate(t, dir, false, args...)
	for _, d := range res.Diagnostics {
		assert.Contains(t, stderr, d.Summary)
		if d.Range != nil {
			assert.Contains(t, stderr, fmt.Sprintf("--> %s:%d:%d", d.Range.Filename, d.Range.Start.Line, d.Range.Start.Column))
		}
	}
}

// runValidate runs `amibake [--output json] validate ARGS` in dir, as the
// root command would after --chdir.
func runValidate(t *testing.T, dir string, jsonOut bool, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	f, out, errOut := testFactory(t, dir)
	if jsonOut {
		f.Output = cmdutil.OutputJSON
	}
	f.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("validate panicked: %v", r)
		}
	}()
	err = runCommand(NewCmdValidate(f, nil), args...)
	return out.String(), errOut.String(), err
}

// splitArgs splits args.txt on white space, keeping '…' and "…" together.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

func TestSplitArgs(t *testing.T) {
	assert.Equal(t, []string{"-var", `regions=["a", "b"]`, "-var", "x=1"}, splitArgs("-var 'regions=[\"a\", \"b\"]'\n-var x=1\n"))
	assert.Empty(t, splitArgs(" \n"))
}
