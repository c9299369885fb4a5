package bake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/crashpoint"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
)

// Status is how a layer ended in a bake.
type Status string

// Statuses of a layer's Result.
const (
	StatusBuilt   Status = "built"   // packer built it and its channel points at it
	StatusReused  Status = "reused"  // an existing AMI stands; its channel points at it
	StatusFailed  Status = "failed"  // the build, the wait or the publication failed
	StatusSkipped Status = "skipped" // an ancestor failed, or the run was interrupted first
)

// BuildsDir is where a bake writes its templates and packer logs, under
// the project directory: .amibake/builds/<run-id>/<layer>.pkr.hcl and
// <layer>.log. .amibake/ is git-ignored.
const BuildsDir = ".amibake/builds"

// Result is one planned layer's outcome.
type Result struct {
	Layer  string      `json:"layer"`
	Status Status      `json:"status"`
	Action plan.Action `json:"action"`
	Reason plan.Reason `json:"reason"`
	// Detail is the plan's detail, or why the layer failed or was skipped.
	Detail string `json:"detail,omitempty"`
	// AMI per region: what was built, or reused.
	AMI map[string]string `json:"ami,omitempty"`
	// Published is set when bake moved (or verified that packer moved)
	// the latest channel in this run.
	Published bool          `json:"published,omitempty"`
	BuildID   string        `json:"build_id,omitempty"`
	Duration  time.Duration `json:"-"`
	// Seconds is Duration for JSON.
	Seconds float64 `json:"duration_seconds"`
	// Template and LogPath are the rendered template and packer's log
	// (build layers only).
	Template string `json:"template,omitempty"`
	LogPath  string `json:"log,omitempty"`
	// PatchLevel is the amibake:patch-level the build tagged its AMI with;
	// Verified is set when Baker.Verify passed before publishing.
	PatchLevel string `json:"patch_level,omitempty"`
	Verified   bool   `json:"verified,omitempty"`
	// Inventory is the AMI's inventory document (projects with an
	// inventory_bucket), recorded before the channel moved.
	Inventory string `json:"inventory,omitempty"`
	// Copied are the regions where this run copied a reused AMI that had
	// no copy there (a region the layer gained since it was built).
	Copied []string `json:"copied,omitempty"`
	Err    error    `json:"-"`
	Error  string   `json:"error,omitempty"`
}

// Observer is told what a bake does as it happens (the live view). Its
// methods may be called concurrently for different layers, never
// concurrently for one layer.
type Observer interface {
	// LayerStarted: the layer's turn came (its parent succeeded).
	LayerStarted(layer string, action plan.Action, detail string)
	// LayerEvent: one line of packer's output, secrets already redacted.
	LayerEvent(layer string, ev Event)
	// LayerMessage: something amibake itself did (waiting, publishing).
	LayerMessage(layer, msg string)
	// LayerDone: the layer's final result (every planned layer gets one,
	// skipped ones included).
	LayerDone(r *Result)
}

// Baker executes a plan: packer for the layers to build, channel
// publication for the reused ones, in DAG order.
type Baker struct {
	Config       *config.Config
	Graph        *graph.Graph
	Fingerprints map[string]*graph.Fingerprint
	Clients      plan.Clients
	Runner       *Runner

	// ProjectDir receives BuildsDir; Config.Dir when empty.
	ProjectDir string
	// RunID names this bake (the directory under BuildsDir); each layer's
	// build id, tagged on its instance and AMI, is RunID-<layer>. Made
	// from the clock when empty.
	RunID string
	// Endpoint is the aws_endpoint template variable: empty on AWS, the
	// sandbox's URL.
	Endpoint string
	// Sandbox renders the loopback-only checks away.
	Sandbox bool
	// Poll settings for packer's waiters and the SSM provisioner; 0 means
	// the defaults of NewTemplateData.
	PollDelaySeconds int
	PollMaxAttempts  int
	StepPollInterval time.Duration
	// Parallel bounds concurrent layers (default 4).
	Parallel int
	// WaitPoll and WaitTimeout bound amibake's own waits for AMIs to be
	// available (defaults 5s and 60m).
	WaitPoll    time.Duration
	WaitTimeout time.Duration

	AmibakeVersion string
	Now            func() time.Time
	Observer       Observer

	// PatchLevel, when set, returns the amibake:patch-level tag of a
	// layer's build — its effective patch baseline's id and a digest of
	// the patch set that baseline approves now ("" for a layer without a
	// patch block: no tag). It is called before the template is rendered.
	PatchLevel func(ctx context.Context, layer string) (string, error)
	// Verify, when set, checks each built layer's AMIs (by region) before
	// its latest channel moves: templates are rendered without channels,
	// so packer moves none, and the Baker publishes only once Verify
	// returns nil. An error fails the layer (its descendants are skipped)
	// and leaves the channel where it was.
	Verify func(ctx context.Context, layer string, amis map[string]string) error

	// Engine, when set, builds the layers the plan builds in place of
	// packer (patch run --engine automation); Runner is then not needed.
	Engine Engine
}

// Engine builds one planned layer in place of packer and returns its
// Result. It lives beside the Baker so that it can use the same wait,
// verify and publish steps as a packer build.
type Engine interface {
	Build(ctx context.Context, b *Baker, n *graph.Node, pl *plan.Layer) *Result
}

func (b *Baker) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Baker) paths() lineage.Paths {
	prefix := b.Config.Project.ParamPrefix
	if prefix == "" {
		prefix = config.DefaultParamPrefix
	}
	return lineage.Paths{Prefix: prefix, Project: b.Config.Project.Name}
}

// NewRunID returns a sortable, unique bake run id: b-<UTC time>-<random>.
func NewRunID(now time.Time) string {
	var r [3]byte
	_, _ = rand.Read(r[:])
	return "b-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(r[:])
}

// RunDir is the directory of this run's templates and logs.
func (b *Baker) RunDir() string {
	dir := b.ProjectDir
	if dir == "" {
		dir = b.Config.Dir
	}
	return filepath.Join(dir, filepath.FromSlash(BuildsDir), b.RunID)
}

// Run executes p: every planned layer, each as soon as its parent is done,
// up to Parallel at a time. A failed layer skips only its descendants.
// The results follow the plan's order; the error is for problems before
// any layer ran (a nil plan, no runner); layer failures are in the results.
func (b *Baker) Run(ctx context.Context, p *plan.Plan) ([]*Result, error) {
	if p == nil || b.Config == nil || b.Config.Project == nil || b.Graph == nil {
		return nil, errors.New("bake: missing plan, project or graph")
	}
	if b.Runner == nil && b.Engine == nil && p.Changes() > 0 {
		return nil, errors.New("bake: no packer runner")
	}
	if b.RunID == "" {
		b.RunID = NewRunID(b.now())
	}
	if b.Runner != nil && b.Runner.LogDir == "" {
		b.Runner.LogDir = b.RunDir()
	}
	parallel := b.Parallel
	if parallel < 1 {
		parallel = 4
	}

	planned := map[string]*plan.Layer{}
	for _, l := range p.Layers {
		planned[l.Layer] = l
	}
	var mu sync.Mutex
	results := map[string]*Result{}
	errs := b.Graph.Walk(ctx, parallel, func(ctx context.Context, n *graph.Node) error {
		pl := planned[n.Name()]
		if pl == nil {
			return nil // not planned: an up-to-date ancestor, or out of scope
		}
		if b.Observer != nil {
			b.Observer.LayerStarted(pl.Layer, pl.Action, pl.Detail)
		}
		var r *Result
		switch {
		case pl.Action == plan.ActionBuild && b.Engine != nil:
			r = b.Engine.Build(ctx, b, n, pl)
		case pl.Action == plan.ActionBuild:
			r = b.build(ctx, n, pl)
		default:
			r = b.reuse(ctx, pl)
		}
		mu.Lock()
		results[pl.Layer] = r
		mu.Unlock()
		if b.Observer != nil {
			b.Observer.LayerDone(r)
		}
		return r.Err
	})

	out := make([]*Result, 0, len(p.Layers))
	for _, pl := range p.Layers {
		r := results[pl.Layer]
		if r == nil {
			err := errs[pl.Layer]
			if err == nil {
				err = errors.New("not run")
			}
			r = &Result{Layer: pl.Layer, Status: StatusSkipped, Action: pl.Action, Reason: pl.Reason, Err: err}
			var up *graph.UpstreamError
			switch {
			case errors.As(err, &up):
				r.Detail = "skipped: " + up.Failed + " failed"
			case ctx.Err() != nil && errors.Is(err, ctx.Err()):
				r.Detail = "not started: interrupted"
			default: // a panic in the layer's run
				r.Status, r.Detail = StatusFailed, err.Error()
			}
			if b.Observer != nil {
				b.Observer.LayerDone(r)
			}
		}
		if r.Err != nil {
			r.Error = r.Err.Error()
		}
		r.Seconds = r.Duration.Round(time.Millisecond).Seconds()
		out = append(out, r)
	}
	return out, nil
}

func (b *Baker) message(layer, format string, args ...any) {
	if b.Observer != nil {
		b.Observer.LayerMessage(layer, fmt.Sprintf(format, args...))
	}
}

// reuse makes sure a reused layer's AMI is available everywhere it exists
// and its latest channel points at it.
func (b *Baker) reuse(ctx context.Context, pl *plan.Layer) *Result {
	start := time.Now()
	r := &Result{Layer: pl.Layer, Action: pl.Action, Reason: pl.Reason, Detail: pl.Detail, AMI: map[string]string{}}
	for k, v := range pl.AMI {
		r.AMI[k] = v
	}
	fail := func(err error) *Result {
		r.Status, r.Err, r.Duration = StatusFailed, fmt.Errorf("bake %s: %w", pl.Layer, err), time.Since(start)
		return r
	}
	home := pl.AMI[pl.Region]
	if home == "" {
		return fail(fmt.Errorf("plan reuses no AMI in the build region %s", pl.Region))
	}
	if pl.State == plan.StateAvailable && !pl.Publish && len(pl.MissingRegions) == 0 {
		// The plan just saw it available with the channel on it (which the
		// post-processor moved only once every copy was available).
		r.Status, r.Duration = StatusReused, time.Since(start)
		return r
	}
	if pl.State != plan.StateAvailable {
		b.message(pl.Layer, "adopting %s (%s): waiting until it is available", home, pl.State)
	}
	if err := b.waitAvailable(ctx, r.AMI); err != nil {
		return fail(err)
	}
	if b.Verify != nil && pl.Reason == plan.ReasonPatchDrift && pl.Publish {
		// A rebake adopted from a patch run that died before publishing
		// it is verified as a fresh one is (patch run's adoptRebakes).
		if err := b.Verify(ctx, pl.Layer, r.AMI); err != nil {
			if terr := b.markUnverified(ctx, r.AMI, err); terr != nil {
				err = errors.Join(err, terr)
			}
			return fail(fmt.Errorf("not published: %w", err))
		}
		r.Verified = true
	}
	if len(pl.MissingRegions) > 0 {
		// A region the layer gained after its AMI was built: the copy
		// packer would have made, made now; the channel moves (when it
		// must) only once every copy is available.
		b.message(pl.Layer, "no copy in %s: copying %s", strings.Join(pl.MissingRegions, ", "), home)
		copies, err := b.copyAndFinish(ctx, pl.Layer, pl.Region, home, pl.MissingRegions)
		for k, v := range copies {
			r.AMI[k] = v
		}
		if err != nil {
			return fail(fmt.Errorf("copy %s: %w", home, err))
		}
		r.Copied = sortedRegions(copies)
		r.Detail = strings.Replace(r.Detail, "; no copy in ", "; copied to ", 1)
	}
	// An AMI a failed bake left unpublished gets its document from the
	// staged inventory that bake left behind.
	url, err := b.recordInventory(ctx, pl.Layer, pl.Region, r.AMI, true)
	if err != nil {
		return fail(fmt.Errorf("not published: %w", err))
	}
	r.Inventory = url
	moved, err := b.publish(ctx, pl.Layer, pl.Region, home)
	if err != nil {
		return fail(err)
	}
	crashpoint.Hit("bake.channel-published")
	r.Published = moved
	if moved {
		b.message(pl.Layer, "latest → %s", home)
	}
	r.Status, r.Duration = StatusReused, time.Since(start)
	return r
}

// build renders the layer's template, runs packer with its secrets in
// place, verifies what it made and its channel, and removes the secrets.
func (b *Baker) build(ctx context.Context, n *graph.Node, pl *plan.Layer) *Result {
	start := time.Now()
	buildID := b.RunID + "-" + pl.Layer
	r := &Result{Layer: pl.Layer, Action: pl.Action, Reason: pl.Reason, Detail: pl.Detail, BuildID: buildID, AMI: map[string]string{}}
	fail := func(err error) *Result {
		r.Status, r.Err, r.Duration = StatusFailed, fmt.Errorf("bake %s: %w", pl.Layer, err), time.Since(start)
		return r
	}
	if b.PatchLevel != nil {
		level, err := b.PatchLevel(ctx, pl.Layer)
		if err != nil {
			return fail(fmt.Errorf("patch level: %w", err))
		}
		r.PatchLevel = level
	}
	path, data, secrets, err := b.writeTemplate(n, buildID, r.PatchLevel)
	if err != nil {
		return fail(err)
	}
	r.Template = path

	// Secrets: SecureStrings for the instance (ssm) or packer's env (ssh).
	store := &secretStore{ssm: b.Clients.SSM(data.Region)}
	defer func() {
		// Success or failure, interrupted or not: the secrets go.
		if err := store.deleteAll(context.WithoutCancel(ctx)); err != nil {
			b.message(pl.Layer, "warning: %v (the next bake removes it)", err)
		}
	}()
	extraEnv := map[string]string{}
	var redact []string
	for _, s := range secrets {
		redact = append(redact, s.Value)
		switch {
		case s.EnvName != "":
			extraEnv[s.EnvName] = s.Value
		case s.Parameter != "":
			if err := store.put(ctx, s); err != nil {
				return fail(err)
			}
		}
	}
	crashpoint.Hit("bake.secrets-stored")

	vars := map[string]string{"aws_endpoint": b.Endpoint}
	if b.PollDelaySeconds > 0 {
		vars["aws_poll_delay_seconds"] = strconv.Itoa(b.PollDelaySeconds)
	}
	if b.PollMaxAttempts > 0 {
		vars["aws_poll_max_attempts"] = strconv.Itoa(b.PollMaxAttempts)
	}
	req := BuildRequest{Layer: pl.Layer, TemplatePath: r.Template, Vars: vars, ExtraEnv: extraEnv, Redact: redact}
	if b.Observer != nil {
		req.OnEvent = func(ev Event) { b.Observer.LayerEvent(pl.Layer, ev) }
	}
	res, err := b.Runner.Build(ctx, req)
	if res != nil {
		r.LogPath = res.LogPath
	}
	if err != nil {
		return fail(err)
	}
	crashpoint.Hit("bake.image-created")

	regions := plan.Regions(b.Config, n.Layer)
	for _, region := range regions {
		ami := res.Artifacts[region]
		if ami == "" {
			return fail(fmt.Errorf("packer reported no AMI in %s (artifacts: %v)", region, res.Artifacts))
		}
		r.AMI[region] = ami
	}
	if err := b.waitAvailable(ctx, r.AMI); err != nil {
		return fail(err)
	}
	if b.Verify != nil {
		b.message(pl.Layer, "verifying %s before publishing it", r.AMI[regions[0]])
		if err := b.Verify(ctx, pl.Layer, r.AMI); err != nil {
			// Never adopted by a later plan (same fingerprint) either.
			if terr := b.markUnverified(ctx, r.AMI, err); terr != nil {
				err = errors.Join(err, terr)
			}
			return fail(fmt.Errorf("not published: %w", err))
		}
		r.Verified = true
	}
	url, err := b.recordInventory(ctx, pl.Layer, regions[0], r.AMI, false)
	if err != nil {
		return fail(fmt.Errorf("not published: %w", err))
	}
	r.Inventory = url
	// The post-processor moved the channel; verify it (and move it when a
	// user's template has no post-processor, or bake verifies before it
	// publishes): only now that every copy is available.
	moved, err := b.publish(ctx, pl.Layer, regions[0], r.AMI[regions[0]])
	if err != nil {
		return fail(err)
	}
	crashpoint.Hit("bake.channel-published")
	switch {
	case moved && b.Verify != nil:
		b.message(pl.Layer, "latest → %s (verified)", r.AMI[regions[0]])
	case moved:
		b.message(pl.Layer, "latest → %s (packer had not moved it)", r.AMI[regions[0]])
	}
	r.Published = true
	r.Status, r.Duration = StatusBuilt, time.Since(start)
	return r
}

// WriteTemplate renders a layer's template into the run directory exactly
// as a build would (--dry-run) and returns its path. Sensitive values are
// never in it.
func (b *Baker) WriteTemplate(layer string) (string, error) {
	n := b.Graph.Node(layer)
	if n == nil {
		return "", fmt.Errorf("bake: unknown layer %q", layer)
	}
	if b.RunID == "" {
		b.RunID = NewRunID(b.now())
	}
	path, _, _, err := b.writeTemplate(n, b.RunID+"-"+layer, "")
	if err != nil {
		return "", fmt.Errorf("bake %s: %w", layer, err)
	}
	return path, nil
}

func (b *Baker) writeTemplate(n *graph.Node, buildID, patchLevel string) (string, *TemplateData, []Secret, error) {
	fp := b.Fingerprints[n.Name()]
	if fp == nil {
		return "", nil, nil, errors.New("no fingerprint")
	}
	data, secrets, diags := NewTemplateData(RenderInput{
		Config: b.Config, Layer: n.Layer, Fingerprint: fp, BuildID: buildID, Timestamp: b.now(),
		AmibakeVersion: b.AmibakeVersion, Sandbox: b.Sandbox,
		PollDelaySeconds: b.PollDelaySeconds, PollMaxAttempts: b.PollMaxAttempts, StepPollInterval: b.StepPollInterval,
		PatchLevel: patchLevel, NoChannels: b.Verify != nil,
	})
	if diags.HasErrors() {
		return "", nil, nil, fmt.Errorf("render: %w", diags)
	}
	src, err := Render(b.Config.Dir, data)
	if err != nil {
		return "", nil, nil, err
	}
	dir := b.RunDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, nil, fmt.Errorf("build directory: %w", err)
	}
	path := filepath.Join(dir, n.Name()+".pkr.hcl")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return "", nil, nil, fmt.Errorf("write template: %w", err)
	}
	return path, data, secrets, nil
}
