// Package run is `amibake patch run [--apply]`: the patch pipeline. Under
// the project lock it scans every layer's latest AMI, decides which layers
// are stale (patch/decide), rebakes the lowest affected layers and
// everything built on them through the bake engine — each build ending
// with AWS-RunPatchBaseline Install and tagged amibake:patch-level — scans
// each new AMI and publishes it on latest only when it is compliant.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/channel"
	cmdbake "github.com/amibake/amibake/internal/cmd/bake"
	pscancmd "github.com/amibake/amibake/internal/cmd/patch/scan"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/crashpoint"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/patch"
	"github.com/amibake/amibake/patch/decide"
	pscan "github.com/amibake/amibake/patch/scan"
)

// RunOptions are the inputs of patch run.
type RunOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Apply       bool
	// Fleets also scans every fleet with a patch group or targets (report
	// only: fleets do not change what is rebaked).
	Fleets bool
	// Rollout hands each fleet whose layer was rebaked and whose channel
	// moved to the rollout module (as `rollout FLEET --apply`).
	Rollout bool
	// Wait, CanaryNoWait and IgnoreWindow are passed to each fleet's
	// rollout (the rollout command's --wait, --canary-no-wait and
	// --ignore-window).
	Wait         time.Duration
	CanaryNoWait bool
	IgnoreWindow bool
	LockTimeout  time.Duration
	Poll         time.Duration
	Timeout      time.Duration
	// TimeoutSet: --timeout was given, so it also bounds each automation
	// execution (--engine automation), which otherwise has 2h.
	TimeoutSet bool
	Parallel   int
	PackerBin  string
	PluginDir  string
	// Engine is packer (default) or automation (--engine).
	Engine string
	// Getenv and Environ read the process environment (os's when nil).
	Getenv  func(string) string
	Environ func() []string
}

// NewCmdRun builds the command; runF replaces the run in tests.
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "the patch pipeline: scan, decide, rebake the stale layers, verify, publish",
		Description: "Takes the project lock once for the whole run, scans each layer's latest AMI\n" +
			"(as `patch scan`), decides which layers are stale (as `patch plan`) and, with\n" +
			"--apply, rebakes the lowest affected layers and everything built on them with\n" +
			"packer (reason patch-drift; the fingerprint does not change): each build ends with\n" +
			"AWS-RunPatchBaseline Install and is tagged amibake:patch-level. Each new AMI is\n" +
			"scanned and published on latest only when it is compliant; otherwise the layer\n" +
			"fails with what is still missing and its descendants are skipped. The new AMI\n" +
			"then replaces the drifted one on the layer's other channels: every channel (in\n" +
			"each of the layer's regions) that holds a non-revoked AMI with the same\n" +
			"fingerprint moves to it, all or none; a channel holding other content (e.g.\n" +
			"stable deliberately behind) does not. Without --apply it prints what it would\n" +
			"rebake and which channels would move. A run with nothing newly released does\n" +
			"nothing and says so. With --rollout, each fleet whose layer was rebaked and\n" +
			"whose channel moved is then rolled out as `amibake rollout FLEET --apply` does,\n" +
			"one fleet at a time under this run's lock; fleets on other layers are not touched.\n" +
			"Exit 0: done (or nothing to do), 1: failed, 3: some layers or fleets failed,\n" +
			"4: the lock is held, 5: a rollout paused for an operator.\n\n" +
			"   amibake patch run            # dry run\n" +
			"   amibake -o json patch run --apply --rollout",
		Flags: append(append([]cli.Flag{
			&cli.BoolFlag{Name: "apply", Usage: "rebake, verify and publish (default: dry run)"},
			&cli.BoolFlag{Name: "fleets", Usage: "also scan every fleet with a patch group or targets and report it"},
			&cli.BoolFlag{Name: "rollout", Usage: "then roll out each fleet whose layer was rebaked and whose channel moved (as rollout FLEET --apply)"},
			&cli.DurationFlag{Name: "wait", Usage: "with --rollout: pause a replace rollout after waiting `D` at a checkpoint, exit 5 (as rollout --wait)"},
			&cli.BoolFlag{Name: "canary-no-wait", Usage: "with --rollout: judge a fleet's canary on the metric window ending now (as rollout --canary-no-wait)"},
			&cli.BoolFlag{Name: "ignore-window", Usage: "with --rollout: patch in-place fleets outside their maintenance window (as rollout --ignore-window)"},
			&cli.IntFlag{Name: "parallel", Value: 4, Usage: "build at most `N` layers at once"},
			&cli.StringFlag{Name: "packer", Usage: "the packer `BINARY` (default: $AMIBAKE_PACKER, else packer on PATH)"},
			&cli.StringFlag{Name: "plugin-dir", Usage: "packer plugin `DIR` (default: $PACKER_PLUGIN_PATH)"},
			engineFlag(),
		}, pscancmd.Flags()...), cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 0 {
				return cmdutil.FlagErrorf("patch run takes no arguments, got %q", args)
			}
			if c.Int("parallel") < 1 {
				return cmdutil.FlagErrorf("--parallel must be at least 1, got %d", c.Int("parallel"))
			}
			if err := checkEngine(c.String("engine")); err != nil {
				return err
			}
			opts := &RunOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Apply: c.Bool("apply"), Fleets: c.Bool("fleets"),
				Rollout: c.Bool("rollout"), Wait: c.Duration("wait"), CanaryNoWait: c.Bool("canary-no-wait"), IgnoreWindow: c.Bool("ignore-window"),
				LockTimeout: c.Duration("lock-timeout"), Poll: c.Duration("poll"), Timeout: c.Duration("timeout"), TimeoutSet: c.IsSet("timeout"),
				Parallel: c.Int("parallel"), PackerBin: c.String("packer"), PluginDir: c.String("plugin-dir"), Engine: c.String("engine")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return Run(c.Context, opts)
		},
	}
}

// Report is the -o json document.
type Report struct {
	Project string `json:"project"`
	RunID   string `json:"run_id,omitempty"`
	Applied bool   `json:"applied"`
	// Decision is patch plan's: every layer, stale or not, and why.
	Decision *decide.Result `json:"decision"`
	// Fleets are the fleet scans (--fleets).
	Fleets []*pscan.Report `json:"fleets,omitempty"`
	// Plan is what the rebake runs (stale layers as builds with reason
	// patch-drift, plus ancestors with work to do first).
	Plan *plan.Plan `json:"plan,omitempty"`
	// Results are the bake results (--apply); Verified the scans of the
	// new AMIs, by layer.
	Results  []*bake.Result           `json:"results,omitempty"`
	Verified map[string]*pscan.Report `json:"verified,omitempty"`
	// Channels are the rebaked layers' other channels (not latest) and
	// whether the new AMI replaced (a dry run: would replace) the drifted
	// one on each.
	Channels []*channel.Replacement `json:"channels,omitempty"`
	// Rollouts are the fleets on rebaked layers and what --rollout did
	// with each (a dry run: what it would do).
	Rollouts []*FleetRollout `json:"rollouts,omitempty"`
	// ChannelErrors are the layers whose other channels could not move
	// (none of that layer's moved): the run exits 3.
	ChannelErrors []string `json:"channel_errors,omitempty"`
	Rebaked       int      `json:"rebaked"`
	Failed        int      `json:"failed"`
	Skipped       int      `json:"skipped"`
	// Message is the one-line outcome.
	Message string `json:"message"`
}

func (o *RunOptions) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

func (o *RunOptions) environ() []string {
	if o.Environ != nil {
		return o.Environ()
	}
	return os.Environ()
}

// Run is `patch run`.
func Run(parent context.Context, opts *RunOptions) (err error) {
	f := opts.Factory
	cfg, g, err := pscancmd.Load(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	fps, diags := graph.Fingerprints(g)
	if diags.HasErrors() {
		if perr := cmdutil.PrintDiagnostics(f.IOStreams, cfg.Sources, diags); perr != nil {
			return perr
		}
		return cmdutil.ErrSilent
	}
	now := f.Now
	if now == nil {
		now = time.Now
	}
	awsCfg, err := f.AWSConfig(parent)
	if err != nil {
		return fmt.Errorf("patch run: %w", err)
	}
	clients := awsapi.NewClients(awsCfg)
	// Verify and scans of parallel layers report from their own goroutines.
	var progressMu sync.Mutex
	progress := func(format string, args ...any) {
		progressMu.Lock()
		defer progressMu.Unlock()
		fmt.Fprintf(f.IOStreams.ErrOut, format+"\n", args...)
	}

	// One lock for the whole run: the scans launch instances, the rebake
	// bakes. Scans below call patch.Scan directly, which takes no lock.
	locker := &lock.Locker{SSM: clients.SSM(""), Name: channel.Paths(cfg).Lock(), Now: f.Now, Command: "patch run"}
	held, err := locker.Acquire(parent, opts.LockTimeout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
		defer rcancel()
		if rerr := held.Release(rctx); rerr != nil {
			err = errors.Join(err, fmt.Errorf("release project lock: %w", rerr))
		}
	}()
	held.KeepAlive(ctx, func(lerr error) { cancel(fmt.Errorf("patch run: %w", lerr)) })
	lost := func(err error) error {
		if cause := context.Cause(ctx); cause != nil && parent.Err() == nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
		return err
	}

	if opts.Apply {
		rec, err := bake.Recover(ctx, clients, cfg)
		if err != nil {
			return fmt.Errorf("patch run: %w", err)
		}
		for region, ids := range rec.TerminatedInstances {
			progress("Recovered: terminated orphaned build instances in %s: %s", region, strings.Join(ids, ", "))
		}
	}

	// 1. Scan every layer's latest AMI (and its lineage, for attribution).
	layers := make([]string, 0, len(g.Topo()))
	for _, n := range g.Topo() {
		layers = append(layers, n.Name())
	}
	var fleets []string
	if opts.Fleets {
		for _, name := range sortedKeys(cfg.Fleets) {
			if fl := cfg.Fleets[name]; (fl.Patch != nil && fl.Patch.PatchGroup != "") || len(fl.TargetTags) > 0 {
				fleets = append(fleets, name)
			}
		}
	}
	scanned, err := patch.Scan(ctx, patch.ScanOptions{Config: cfg, Graph: g, EC2: clients.EC2, SSM: clients.SSM, S3: clients.S3,
		Layers: layers, Fleets: fleets, Now: f.Now, Poll: opts.Poll, Timeout: opts.Timeout, Progress: progress})
	if err != nil {
		return lost(fmt.Errorf("patch run: scan: %w", err))
	}
	crashpoint.Hit("patch.scan-done")
	images := map[string]*pscan.Report{}
	for _, r := range scanned.Images {
		images[r.Layer] = r
	}

	// 2. Decide.
	d := decide.Decide(decide.Input{Graph: g, Images: images, Now: now()})
	rep := &Report{Project: cfg.Project.Name, Applied: opts.Apply, Decision: d, Fleets: scanned.Fleets}
	runID := bake.NewRunID(now())
	if len(d.Stale) == 0 {
		return nothingStale(ctx, parent, f, cfg, clients, opts, rep, layers, runID, lost)
	}

	// 3. The content plan, with the stale layers turned into patch-drift
	// builds, narrowed to them and the ancestors with work to do first.
	obs, err := plan.Observe(ctx, clients, cfg, g, fps)
	if err != nil {
		return lost(fmt.Errorf("patch run: read AWS state: %w", err))
	}
	full := plan.New(g, fps, obs, nil)
	decide.Overlay(full, d)
	p, err := bake.Select(full, g, d.Stale, false)
	if err != nil {
		return fmt.Errorf("patch run: %w", err)
	}
	rep.Plan = p
	var rollouts []*FleetRollout
	if opts.Rollout {
		rollouts = affected(cfg, built(p))
		rep.Rollouts = rollouts
	}
	if !opts.Apply {
		rebake := map[string]bool{}
		for _, layer := range built(p) {
			rebake[layer] = true
			rs, err := replaceChannels(ctx, clients, cfg, fps, layer, "", nil)
			if err != nil {
				return lost(fmt.Errorf("patch run: %w", err))
			}
			rep.Channels = append(rep.Channels, rs...)
		}
		behind, _, err := catchUp(ctx, clients, cfg, layers, rebake, runID, false)
		if err != nil {
			return lost(fmt.Errorf("patch run: %w", err))
		}
		rep.Channels = append(rep.Channels, behind...)
		if opts.Rollout {
			rollouts = append(rollouts, fleetsOn(cfg, behind, rollouts)...)
			rep.Rollouts = rollouts
		}
		planRollouts(rollouts, indexChannels(cfg, rep.Channels))
		rep.Message = fmt.Sprintf("Dry run: would rebake %d layer(s) from %s: %s; run with --apply to rebake, verify and publish.",
			p.Changes(), strings.Join(d.Roots, ", "), strings.Join(built(p), ", ")) + engineNote(p, opts.Engine) +
			channelSummary(rep.Channels) + rolloutSummary(rollouts)
		return write(f, rep, nil)
	}
	// What each affected fleet's channel holds before the rebake: a fleet
	// rolls out only when its channel moved.
	before, err := channelAMIs(ctx, clients, cfg, rollouts)
	if err != nil {
		return lost(fmt.Errorf("patch run: %w", err))
	}
	for fr, ami := range before {
		fr.FromAMI = ami
	}
	// A run that died after rebaking left AMIs to adopt, not rebake.
	if _, err := adoptRebakes(ctx, clients, cfg, g, full, p, patch.LevelFunc(cfg, g, clients.SSM, now, false)); err != nil {
		return lost(fmt.Errorf("patch run: %w", err))
	}

	// 4. Rebake, verifying each new AMI before it is published.
	baker := &bake.Baker{Config: cfg, Graph: g, Fingerprints: fps, Clients: clients, ProjectDir: f.WorkDir,
		RunID: runID, Parallel: opts.Parallel, AmibakeVersion: f.Version, Now: now,
		PatchLevel: patch.LevelFunc(cfg, g, clients.SSM, now, false)}
	cmdbake.ConfigureEndpoint(baker, opts.getenv)
	rep.RunID = baker.RunID
	if err := setEngine(baker, opts, clients); err != nil {
		return fmt.Errorf("patch run: %w", err)
	}
	var mu sync.Mutex
	rep.Verified = map[string]*pscan.Report{}
	baker.Verify = func(ctx context.Context, layer string, amis map[string]string) error {
		pr := patch.EffectivePatch(g, layer)
		if pr == nil {
			return nil
		}
		regions, err := channel.LayerRegions(cfg, layer)
		if err != nil {
			return err
		}
		s := &pscan.Scanner{SSM: clients.SSM(regions[0]), EC2: clients.EC2(regions[0]), Project: cfg.Project.Name, Region: regions[0],
			InstanceProfile: cfg.Project.IAMInstanceProfile, SubnetID: cfg.Project.SubnetID,
			Poll: opts.Poll, Timeout: opts.Timeout, Now: f.Now, Progress: progress}
		img := pscan.Image{Layer: layer, AMI: amis[regions[0]], PatchGroup: pr.PatchGroup, Created: now()}
		if l := cfg.Layers[layer]; l != nil {
			img.InstanceType = l.InstanceType
		}
		r, err := patch.Verify(ctx, s, img)
		if err == nil {
			crashpoint.Hit("patch.verify-done")
		}
		if r != nil {
			mu.Lock()
			rep.Verified[layer] = r
			mu.Unlock()
		}
		return err
	}
	obsv := cmdbake.NewObserver(f.IOStreams, p)
	baker.Observer = obsv
	results, err := baker.Run(ctx, p)
	if err != nil {
		return fmt.Errorf("patch run: %w", err)
	}
	rep.Results = results
	crashpoint.Hit("patch.rebake-done")
	var done int
	for _, r := range results {
		switch r.Status {
		case bake.StatusBuilt:
			rep.Rebaked++
			done++
		case bake.StatusReused:
			done++
		case bake.StatusFailed:
			rep.Failed++
		case bake.StatusSkipped:
			rep.Skipped++
		}
	}
	switch {
	case rep.Failed+rep.Skipped == 0:
		rep.Message = fmt.Sprintf("Rebaked %d layer(s), each verified compliant and published on latest.", rep.Rebaked)
	default:
		rep.Message = fmt.Sprintf("Rebaked %d layer(s); %d failed, %d skipped (not published).", rep.Rebaked, rep.Failed, rep.Skipped)
	}
	// 5. The new AMI replaces the drifted one on the layer's other channels.
	rolloutCode := 0
	for _, r := range results {
		if !publishedRebake(r) || ctx.Err() != nil {
			continue
		}
		rs, err := replaceChannels(ctx, clients, cfg, fps, r.Layer, rep.RunID, r)
		rep.Channels = append(rep.Channels, rs...)
		if err != nil {
			progress("Channels of %s not moved: %v", r.Layer, err)
			rep.ChannelErrors = append(rep.ChannelErrors, fmt.Sprintf("%s: %v", r.Layer, err))
			rolloutCode = cmdutil.ExitPartial
			continue
		}
		for _, m := range rs {
			if m.Status == channel.ReplaceMoved {
				progress("%s %s → %s (%s, in %s)", m.Layer, m.Channel, m.To, m.Reason, m.Region)
			}
		}
	}
	// Channels an earlier run left behind, on the layers not rebaked now.
	published := publishedLayers(results)
	if ctx.Err() == nil {
		behind, failed, err := catchUp(ctx, clients, cfg, layers, published, rep.RunID, true)
		if err != nil {
			progress("Channels left behind by an earlier run not read: %v", err)
			failed = append(failed, err.Error())
		}
		rep.Channels = append(rep.Channels, behind...)
		rep.ChannelErrors = append(rep.ChannelErrors, failed...)
		if len(failed) > 0 {
			rolloutCode = cmdutil.ExitPartial
		}
		for _, m := range behind {
			if m.Status == channel.ReplaceMoved {
				published[m.Layer] = true
			}
		}
		if opts.Rollout {
			rollouts = append(rollouts, fleetsOn(cfg, behind, rollouts)...)
			rep.Rollouts = rollouts
		}
	}
	rep.Message += channelSummary(rep.Channels)
	if len(rep.ChannelErrors) > 0 {
		rep.Message += fmt.Sprintf(" %d layer(s) kept their other channels: %s.", len(rep.ChannelErrors), strings.Join(rep.ChannelErrors, "; "))
	}
	// 6. Roll out the fleets whose channel moved (--rollout).
	if opts.Rollout {
		rolloutCode = worse(rolloutCode, rolloutFleets(ctx, f, cfg, clients, opts, rollouts, published, indexChannels(cfg, rep.Channels), f.IOStreams.ErrOut))
		rep.Message += rolloutSummary(rollouts)
	}
	if err := write(f, rep, obsv); err != nil {
		return err
	}
	if rep.Failed+rep.Skipped == 0 {
		if opts.Rollout || len(rep.ChannelErrors) > 0 {
			if err := endedExit(ctx, parent); err != nil {
				return err
			}
		}
		if rolloutCode != 0 {
			return cmdutil.SilentExit(rolloutCode)
		}
		return nil
	}
	if err := endedExit(ctx, parent); err != nil {
		return err
	}
	if done > 0 {
		return cmdutil.SilentExit(cmdutil.ExitPartial)
	}
	return cmdutil.SilentExit(cmdutil.ExitFailure)
}

// endedExit is the exit of a run whose ctx ended (nil while it has not):
// interrupted when the caller's context was cancelled (Ctrl-C), else a
// failure with the cause (--timeout).
func endedExit(ctx, parent context.Context) error {
	cause := context.Cause(ctx)
	if cause == nil {
		return nil
	}
	if errors.Is(cause, context.Canceled) && parent.Err() != nil {
		return cmdutil.SilentExit(cmdutil.ExitInterrupted)
	}
	return cmdutil.Exit(cmdutil.ExitFailure, cause)
}

func built(p *plan.Plan) []string {
	var out []string
	for _, l := range p.Layers {
		if l.Action == plan.ActionBuild {
			out = append(out, l.Layer)
		}
	}
	return out
}

// write prints the report: JSON, or the decision table, the plan and (after
// a rebake) bake's summary with each failure, then the outcome line.
func write(f *cmdutil.Factory, rep *Report, obs bake.Observer) error {
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, rep)
	}
	w := f.IOStreams.Out
	if err := printDecision(w, rep.Decision); err != nil {
		return err
	}
	if len(rep.Fleets) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FLEET\tPATCH GROUP\tCOMPLIANT\tMISSING\tNOT SCANNED")
		for _, r := range rep.Fleets {
			var missing []string
			for _, m := range r.Missing {
				missing = append(missing, m.Package+"@"+m.Version)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%d\n", r.Name, orDash(r.PatchGroup), r.Compliant, r.Scanned,
				orDash(strings.Join(missing, " ")), len(r.Failures))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if rep.Plan != nil && !rep.Applied {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LAYER\tACTION\tREASON\tDETAIL")
		for _, l := range rep.Plan.Layers {
			action := string(l.Action)
			if l.Action == plan.ActionBuild {
				action = "rebake"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Layer, action, l.Reason, orDash(l.Detail))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if obs != nil {
		fmt.Fprintln(w)
		if err := cmdbake.Summary(f.IOStreams, obs, rep.Results); err != nil {
			return err
		}
	}
	if err := printChannels(w, rep.Channels); err != nil {
		return err
	}
	if err := printRollouts(w, rep.Rollouts); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", rep.Message)
	return err
}

func printDecision(w io.Writer, d *decide.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tAMI\tSTALE\tREASON\tDETAIL")
	for _, l := range d.Layers {
		stale := "no"
		if l.Stale {
			stale = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Layer, orDash(l.AMI), stale, l.Reason, orDash(l.Detail))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
