// Package applyflow is what the converging patch verbs (patch apply, patch
// associate, patch window apply) share around their own diff and apply:
// the command line, the project lock --apply holds from before the diff
// observes SSM until the result is written (so the diff confirmed is the
// diff applied), the confirmation, the output, and the field formats of
// their diffs.
package applyflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lock"
)

// Options are the inputs of a converging verb.
type Options struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Apply       bool
	LockTimeout time.Duration
}

// Flags are a converging verb's flags: --apply, --lock-timeout and the
// variable flags.
func Flags() []cli.Flag {
	return append([]cli.Flag{
		&cli.BoolFlag{Name: "apply", Usage: "make the changes (default: show them only)"},
		cmdutil.LockTimeoutFlag(),
	}, cmdutil.VarFlags()...)
}

// Action reads a converging verb's command line (verb is its name in the
// usage error, e.g. "patch apply"; it takes no arguments) and runs it:
// runF when a test gives one, else run.
func Action(f *cmdutil.Factory, verb string, runF, run func(context.Context, *Options) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		args, err := cmdutil.Args(c)
		if err != nil {
			return err
		}
		if len(args) != 0 {
			return cmdutil.FlagErrorf("%s takes no arguments, got %d", verb, len(args))
		}
		opts := &Options{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Apply: c.Bool("apply"),
			LockTimeout: c.Duration("lock-timeout")}
		if runF != nil {
			return runF(c.Context, opts)
		}
		return run(c.Context, opts)
	}
}

// Lock takes the project lock (parameter name, holder command) when
// opts.Apply; a dry run takes none. Defer release(&err) in the function
// whose named error it is: a failed release joins that error.
func Lock(ctx context.Context, opts *Options, ssm awsapi.SSM, name, command string) (release func(*error), err error) {
	if !opts.Apply {
		return func(*error) {}, nil
	}
	locker := &lock.Locker{SSM: ssm, Name: name, Now: opts.Factory.Now, Command: command}
	held, err := locker.Acquire(ctx, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	return func(err *error) {
		if rerr := held.Release(context.WithoutCancel(ctx)); rerr != nil {
			*err = errors.Join(*err, fmt.Errorf("release project lock: %w", rerr))
		}
	}, nil
}

// Confirm reports whether to make the p.Changes changes: not on a dry run
// nor when there are none; with --apply, after cmdutil.ConfirmApply (an
// operator's no is its error).
func Confirm(ctx context.Context, opts *Options, p cmdutil.ApplyPrompt) (bool, error) {
	if !opts.Apply || p.Changes == 0 {
		return false, nil
	}
	if err := cmdutil.ConfirmApply(ctx, opts.Factory, p); err != nil {
		return false, err
	}
	return true, nil
}

// Write writes the result: res as JSON with --output json, else text.
func Write(f *cmdutil.Factory, res any, text func(io.Writer) error) error {
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, res)
	}
	return text(f.IOStreams.Out)
}

// PrintDiff writes a converging verb's text result: none when there are no
// changes, else the changes (show) and whether --apply made them.
func PrintDiff(w io.Writer, changes int, apply bool, none string, show func(io.Writer) error) error {
	if changes == 0 {
		_, err := fmt.Fprintln(w, none)
		return err
	}
	if err := show(w); err != nil {
		return err
	}
	if apply {
		_, err := fmt.Fprintf(w, "Applied %d change(s).\n", changes)
		return err
	}
	_, err := fmt.Fprintf(w, "%d change(s). Dry run: run with --apply to make them.\n", changes)
	return err
}

// FieldChange is one field of an update (or of a create: Old is empty).
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Target is an SSM target (tag:K, InstanceIds, WindowTargetIds).
type Target struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// TagTargets are a fleet's targets { tags }: tag:K=V each, by key.
func TagTargets(tags map[string]string) []Target {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Target
	for _, k := range keys {
		out = append(out, Target{Key: "tag:" + k, Values: []string{tags[k]}})
	}
	return out
}

// FormatTargets is targets as a diff shows them: "K=v1,v2 K2=v", order-free
// so SSM's order never shows as a change.
func FormatTargets(ts []Target) string {
	var parts []string
	for _, t := range ts {
		vals := append([]string(nil), t.Values...)
		sort.Strings(vals)
		parts = append(parts, t.Key+"="+strings.Join(vals, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// FormatParams is document parameters as a diff shows them: "K=v1,v2 K2=v"
// by key.
func FormatParams(p map[string][]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+strings.Join(p[k], ","))
	}
	return strings.Join(parts, " ")
}
