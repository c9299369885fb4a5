// Package fmtcmd implements `amibake fmt`: rewrite the project's HCL files
// in the canonical format, like `terraform fmt`.
package fmtcmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

// FmtOptions is everything fmtRun needs.
type FmtOptions struct {
	IO      *iostreams.IOStreams
	WorkDir string
	JSON    bool

	Check bool // report files that would change, write nothing, exit 1 if any
	Diff  bool // print a unified diff of each change
	Write bool // rewrite changed files (default true; false with -check)
	// Paths are files or project directories, relative to WorkDir; "-"
	// formats standard input to standard output. Empty means WorkDir.
	Paths []string
}

// NewCmdFmt builds the fmt command. Tests pass runF to capture the
// options instead of running.
func NewCmdFmt(f *cmdutil.Factory, runF func(*FmtOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "fmt",
		Usage:     "Rewrite HCL files in the canonical format",
		UsageText: "amibake fmt [-check] [-diff] [-write=false] [PATH]...",
		Description: `Formats amibake.hcl and the other *.hcl files beside it, layers/*.hcl,
recipes/*/recipe.hcl and fleets/*.hcl of the project (or of each
directory given), and any file given by name. Prints the name of each
file that changed. "-" formats standard input to standard output.

Files with syntax errors are reported and left untouched. Files are
rewritten atomically and keep their permissions.

-check writes nothing and exits 1 when any file is not formatted, for CI.

   amibake fmt
   amibake fmt -check
   cat layers/base.hcl | amibake fmt -`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "check", Usage: "write nothing; list unformatted files and exit 1 if there are any"},
			&cli.BoolFlag{Name: "diff", Usage: "print the changes as a unified diff"},
			&cli.BoolFlag{Name: "write", Value: true, Usage: "rewrite files in place (-write=false only lists them)"},
		},
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			opts := &FmtOptions{
				IO:      f.IOStreams,
				WorkDir: f.WorkDir,
				JSON:    f.JSON(),
				Check:   c.Bool("check"),
				Diff:    c.Bool("diff"),
				Write:   c.Bool("write") && !c.Bool("check"),
				Paths:   args,
			}
			for _, p := range opts.Paths {
				if p == "-" && len(opts.Paths) > 1 {
					return cmdutil.FlagErrorf(`"-" (standard input) cannot be combined with other paths`)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return fmtRun(opts)
		},
	}
}

// Result is the --output json document.
type Result struct {
	ChangedFiles []string                 `json:"changed_files"`
	ErrorCount   int                      `json:"error_count"`
	Diagnostics  []cmdutil.JSONDiagnostic `json:"diagnostics"`
}

func fmtRun(opts *FmtOptions) error {
	if len(opts.Paths) == 1 && opts.Paths[0] == "-" {
		return fmtStdin(opts)
	}
	paths := opts.Paths
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, err := collectFiles(opts.WorkDir, paths)
	if err != nil {
		return err
	}

	var diags hcl.Diagnostics
	sources := map[string][]byte{}
	changed := []string{}
	for _, file := range files {
		name := displayName(opts.WorkDir, file)
		src, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		out, d := format(src, name)
		if d.HasErrors() {
			sources[name] = src
			diags = append(diags, d...)
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		changed = append(changed, name)
		if !opts.JSON {
			fmt.Fprintln(opts.IO.Out, name)
			if opts.Diff {
				fmt.Fprint(opts.IO.Out, unifiedDiff(name, src, out))
			}
		}
		if opts.Write {
			if err := writeAtomic(file, out); err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
		}
	}

	if opts.JSON {
		res := Result{ChangedFiles: changed, ErrorCount: len(diags.Errs()), Diagnostics: cmdutil.DiagnosticsJSON(diags)}
		if err := cmdutil.WriteJSON(opts.IO.Out, res); err != nil {
			return err
		}
	} else if err := cmdutil.PrintDiagnostics(opts.IO, sources, diags); err != nil {
		return fmt.Errorf("print diagnostics: %w", err)
	}
	if diags.HasErrors() || (opts.Check && len(changed) > 0) {
		return cmdutil.SilentExit(cmdutil.ExitFailure)
	}
	return nil
}

// fmtStdin formats standard input to standard output.
func fmtStdin(opts *FmtOptions) error {
	src, err := io.ReadAll(opts.IO.In)
	if err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	const name = "<stdin>"
	out, diags := format(src, name)
	if diags.HasErrors() {
		if err := cmdutil.PrintDiagnostics(opts.IO, map[string][]byte{name: src}, diags); err != nil {
			return fmt.Errorf("print diagnostics: %w", err)
		}
		return cmdutil.ErrSilent
	}
	switch {
	case opts.Check:
		if !bytes.Equal(src, out) {
			return cmdutil.SilentExit(cmdutil.ExitFailure)
		}
	case opts.Diff:
		fmt.Fprint(opts.IO.Out, unifiedDiff(name, src, out))
	default:
		if _, err := opts.IO.Out.Write(out); err != nil {
			return fmt.Errorf("write standard output: %w", err)
		}
	}
	return nil
}

// format returns src in canonical form, or the syntax errors that keep it
// from being formatted safely.
func format(src []byte, name string) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

// collectFiles expands paths (relative to workDir) into the files to
// format, sorted and without repeats. A directory contributes its project
// files; a file is taken as it is.
func collectFiles(workDir string, paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		abs := p
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(workDir, p)
		}
		st, err := os.Stat(abs)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, cmdutil.FlagErrorf("no file or directory at %s", p)
			}
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if !st.IsDir() {
			add(filepath.Clean(abs))
			continue
		}
		files, err := projectFiles(abs)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			add(f)
		}
	}
	sort.Strings(out)
	return out, nil
}

// projectFiles lists a project's HCL files: *.hcl in dir (configuration
// and var files alike), layers/*.hcl, recipes/*/recipe.hcl, fleets/*.hcl.
func projectFiles(dir string) ([]string, error) {
	var out []string
	for _, pattern := range []string{"*.hcl", "layers/*.hcl", "recipes/*/recipe.hcl", "fleets/*.hcl"} {
		matches, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(pattern)))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", pattern, err)
		}
		for _, m := range matches {
			base := filepath.Base(m)
			if strings.HasPrefix(base, ".") {
				continue
			}
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// displayName is path relative to workDir with forward slashes when it is
// inside it.
func displayName(workDir, path string) string {
	rel, err := filepath.Rel(workDir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return filepath.ToSlash(rel)
}

// writeAtomic replaces path with data through a temporary file in the same
// directory and a rename, so a crash never leaves a half-written file. The
// file keeps its permissions; a symlink is followed, not replaced.
func writeAtomic(path string, data []byte) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(st.Mode().Perm()); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
