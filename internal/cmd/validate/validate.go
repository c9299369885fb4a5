// Package validate implements `amibake validate`: load the project, build
// the layer graph, and report every problem with its source location.
package validate

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/iostreams"
)

// ValidateOptions is everything validateRun needs.
type ValidateOptions struct {
	IO      *iostreams.IOStreams
	WorkDir string
	JSON    bool
	Load    config.LoadOptions
}

// NewCmdValidate builds the validate command. Tests pass runF to capture
// the options instead of running.
func NewCmdValidate(f *cmdutil.Factory, runF func(*ValidateOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "Check the configuration for errors",
		UsageText: "amibake validate [-var NAME=VALUE]... [-var-file FILE]...",
		Description: `Loads amibake.hcl, layers/, recipes/ and fleets/, resolves variables,
references and recipe inputs, and checks the layer graph (cycles,
unreachable layers). Every problem is reported with its file, line and a
snippet of the source. Nothing in AWS is read.

Exits 0 when the configuration is valid (warnings alone do not fail it),
1 otherwise. With --output json, prints {"valid", "error_count",
"warning_count", "diagnostics"}.

   amibake validate
   amibake validate --var-file prod.hcl -o json`,
		Flags: cmdutil.VarFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cmdutil.FlagErrorf("validate takes no arguments; use --chdir DIR to validate another project")
			}
			opts := &ValidateOptions{
				IO:      f.IOStreams,
				WorkDir: f.WorkDir,
				JSON:    f.JSON(),
				Load:    cmdutil.LoadOptionsFrom(c, f),
			}
			if runF != nil {
				return runF(opts)
			}
			return validateRun(opts)
		},
	}
}

// Result is the --output json document.
type Result struct {
	Valid        bool                     `json:"valid"`
	ErrorCount   int                      `json:"error_count"`
	WarningCount int                      `json:"warning_count"`
	Diagnostics  []cmdutil.JSONDiagnostic `json:"diagnostics"`
}

func validateRun(opts *ValidateOptions) error {
	cfg, diags := config.Load(opts.WorkDir, opts.Load)
	_, graphDiags := graph.Build(cfg)
	diags = Normalize(append(diags, graphDiags...))

	var errs, warns int
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}

	if opts.JSON {
		res := Result{Valid: errs == 0, ErrorCount: errs, WarningCount: warns, Diagnostics: cmdutil.DiagnosticsJSON(diags)}
		if err := cmdutil.WriteJSON(opts.IO.Out, res); err != nil {
			return err
		}
	} else {
		if err := cmdutil.PrintDiagnostics(opts.IO, cfg.Sources, diags); err != nil {
			return fmt.Errorf("print diagnostics: %w", err)
		}
		if errs == 0 {
			msg := "Success! The configuration is valid."
			if warns > 0 {
				msg = "Success! The configuration is valid, but there were some validation warnings as shown above."
			}
			fmt.Fprintf(opts.IO.Out, "%s\n%s, %s, %s.\n", msg,
				plural(len(cfg.Layers), "layer"), plural(len(cfg.Recipes), "recipe"), plural(len(cfg.Fleets), "fleet"))
		}
	}
	if errs > 0 {
		return cmdutil.ErrSilent
	}
	return nil
}

// Normalize orders diagnostics by file and position (those without a
// location first) and drops exact repeats, which can arise when two stages
// notice the same problem.
func Normalize(diags hcl.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(diags))
	type key struct {
		sev      hcl.DiagnosticSeverity
		summary  string
		subject  hcl.Range
		hasRange bool
	}
	seen := map[key]bool{}
	for _, d := range diags {
		k := key{sev: d.Severity, summary: d.Summary}
		if d.Subject != nil {
			k.subject, k.hasRange = *d.Subject, true
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Subject, out[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
