// Package rollout moves a fleet to the AMI its layer's channel holds.
//
// A replace fleet gets a new launch-template version that changes only the
// image id (one per template version its Auto Scaling groups run) and, per
// group, an instance refresh through the fleet's checkpoints with automatic
// rollback; an in-place fleet gets AWS-RunPatchBaseline Install over Run
// Command, canary batch first, under the fleet's rate and error limits. Both are ordered step lists (STYLE.md
// §4): each step a small type with String() and Run(ctx), optionally
// Skip(ctx); the run context carries the fleet, the clients, the dry-run
// flag and what the rollout changed so far.
//
// State lives in AWS, never locally: the refresh (its desired template
// version) and the version's description, which names the replaced AMI,
// so status, resume and abort work from any machine.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/canary"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/retire"
)

// Defaults of the follow loop.
const (
	DefaultPoll = 15 * time.Second
	// maxPollFactor bounds the backoff: polls slow down to this many times
	// the interval while nothing changes.
	maxPollFactor = 4
)

// Rollout is one fleet's rollout and what it needs.
type Rollout struct {
	Fleet *config.Fleet
	// Region is where the fleet runs (the layer's build region).
	Region      string
	EC2         awsapi.EC2
	AutoScaling awsapi.AutoScaling
	SSM         awsapi.SSM
	Paths       lineage.Paths
	// Locker takes the project lock before anything changes (nil: the
	// caller holds it).
	Locker      *lock.Locker
	LockTimeout time.Duration
	// Retirer retires the replaced AMI after a successful replace (nil:
	// nothing is retired).
	Retirer *retire.Retirer
	// Apply acts; without it the rollout prints what it would do.
	Apply bool
	// Poll is the interval between progress polls (one per ASG or command).
	Poll time.Duration
	// Wait is how long a rollout may wait at a checkpoint before it returns
	// paused (exit 5); 0 waits as long as the checkpoint does.
	Wait time.Duration
	// IgnoreWindow lets an in-place rollout run outside the fleet's
	// maintenance window.
	IgnoreWindow bool
	// Canary judges the target AMI at the first checkpoint of a replace
	// rollout of a fleet with a canary block (nil: no analysis).
	Canary CanaryFunc
	// Revoke, when set, revokes the target AMI (every region's copy) after
	// a failed canary, with the canary report as the reason.
	Revoke RevokeFunc
	// Config is the project the fleet's layer comes from: an in-place
	// rollout renders a recipe delta from it (nil: patching only).
	Config *config.Config
	// Confirm, when set, is asked before anything changes (after the plan
	// is shown) with the number of changes; an error stops the rollout
	// with nothing changed. The CLI asks a person at a terminal.
	Confirm func(ctx context.Context, changes int) error
	// Out receives the progress view and the report.
	Out   io.Writer
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Report is what a rollout did; --output json prints it.
type Report struct {
	Fleet    string `json:"fleet"`
	Strategy string `json:"strategy"`
	Layer    string `json:"layer"`
	Channel  string `json:"channel"`
	Target   string `json:"target_ami"`
	DryRun   bool   `json:"dry_run"`
	// Outcome: planned, nothing-to-do, succeeded, paused, in-progress,
	// failed, rolled-back, aborting, aborted, interrupted, stopped
	// (in-place error threshold).
	Outcome string         `json:"outcome"`
	Reason  string         `json:"reason,omitempty"`
	Groups  []*GroupPlan   `json:"groups,omitempty"`
	InPlace *InPlace       `json:"in_place,omitempty"`
	Calls   []string       `json:"api_calls,omitempty"`
	Changed []string       `json:"changed,omitempty"`
	Retire  *retire.Result `json:"retire,omitempty"`
	Canary  *canary.Report `json:"canary,omitempty"`
	// CanaryError is why the canary analysis could not give a verdict;
	// the rollout was rolled back rather than left to pass the checkpoint.
	CanaryError string `json:"canary_error,omitempty"`
	// PauseKind says why a paused rollout waits: operator (the --wait
	// budget ran out at a checkpoint) or canary-marginal.
	PauseKind string `json:"pause_kind,omitempty"`
	// Revoked are the AMIs (every region's copy) revoked after a failed canary.
	Revoked []string `json:"revoked,omitempty"`
	// RevokeError is why revoking the AMI after a failed canary failed.
	RevokeError string `json:"revoke_error,omitempty"`
}

// Outcomes.
const (
	OutcomePlanned     = "planned"
	OutcomeNothing     = "nothing-to-do"
	OutcomeSucceeded   = "succeeded"
	OutcomePaused      = "paused"
	OutcomeFailed      = "failed"
	OutcomeRolledBack  = "rolled-back"
	OutcomeAborted     = "aborted"
	OutcomeInterrupted = "interrupted"
	OutcomeStopped     = "stopped"
	OutcomeInProgress  = "in-progress"
	OutcomeAborting    = "aborting"
)

// RevokeFunc revokes ami with reason and returns the AMI ids it revoked.
type RevokeFunc func(ctx context.Context, ami, reason string) ([]string, error)

// PausedError ends a rollout that waits for an operator (at a checkpoint
// longer than --wait, or after a marginal canary): exit 5, the fleet held
// and the pause recorded in AWS.
type PausedError struct{ Msg string }

func (e *PausedError) Error() string { return e.Msg }

// ExitCode is DESIGN.md's "paused, waiting for an operator".
func (e *PausedError) ExitCode() int { return 5 }

// FailedError is a rollout that failed, rolled back or stopped.
type FailedError struct{ Msg string }

func (e *FailedError) Error() string { return e.Msg }

// Step is one stage of a rollout.
type Step interface {
	fmt.Stringer
	Run(ctx context.Context, rc *Context) error
}

// Skipper is a step that may have nothing to do.
type Skipper interface {
	Skip(rc *Context) (bool, string)
}

// Context is what the steps share.
type Context struct {
	*Rollout
	Report *Report
	held   *lock.Held
	// cancel ends the run when the project lock is lost.
	cancel context.CancelCauseFunc
}

// errStop ends the step list early without an error (nothing to do).
var errStop = errors.New("stop")

func (r *Rollout) defaults() {
	if r.Poll <= 0 {
		r.Poll = DefaultPoll
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Sleep == nil {
		r.Sleep = sleepCtx
	}
	if r.Out == nil {
		r.Out = io.Discard
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// run executes steps in order: skips are reported, errStop ends early,
// the lock is released at the end whatever happens.
func (r *Rollout) run(ctx context.Context, rep *Report, steps []Step) (err error) {
	r.defaults()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rc := &Context{Rollout: r, Report: rep, cancel: cancel}
	defer func() {
		// A lost lock is why the run stopped: say so rather than "canceled".
		if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(err, cause) && errors.Is(cause, lock.ErrLost) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		if rc.held != nil {
			if rerr := rc.held.Release(context.WithoutCancel(ctx)); rerr != nil {
				err = errors.Join(err, fmt.Errorf("release project lock: %w", rerr))
			}
		}
	}()
	for _, s := range steps {
		if sk, ok := s.(Skipper); ok {
			if skip, why := sk.Skip(rc); skip {
				if why != "" {
					rc.logf("skip %s: %s", s, why)
				}
				continue
			}
		}
		if err := ctx.Err(); err != nil {
			rep.Outcome = OutcomeInterrupted
			return fmt.Errorf("rollout of %s interrupted before %s: %w", r.Fleet.Name, s, err)
		}
		if err := s.Run(ctx, rc); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			if ctx.Err() != nil && rep.Outcome == "" {
				rep.Outcome = OutcomeInterrupted
			}
			return err
		}
	}
	return nil
}

func (rc *Context) logf(format string, args ...any) {
	fmt.Fprintf(rc.Out, format+"\n", args...)
}

func (rc *Context) changed(format string, args ...any) {
	rc.Report.Changed = append(rc.Report.Changed, fmt.Sprintf(format, args...))
}

func (rc *Context) call(format string, args ...any) {
	rc.Report.Calls = append(rc.Report.Calls, fmt.Sprintf(format, args...))
}

// confirmStep asks before the first change (a person at a terminal
// answers; pipelines are never asked).
type confirmStep struct{}

func (confirmStep) String() string { return "confirm" }

func (confirmStep) Skip(rc *Context) (bool, string) {
	return !rc.Apply || rc.Confirm == nil, ""
}

func (confirmStep) Run(ctx context.Context, rc *Context) error {
	changes := rc.replaceChanges()
	if ip := rc.Report.InPlace; ip != nil {
		changes = len(ip.Targets)
	}
	return rc.Confirm(ctx, changes)
}

// replaceChanges counts what a replace run asks to change: a template
// version per (template, current version) the rolling groups share and a
// refresh per rolling group; a run that only finishes an interrupted one
// (leftover groups) prunes each rollout version's template once and
// retires once.
func (rc *Context) replaceChanges() int {
	n := 0
	versions, prunes := map[versionKey]bool{}, map[versionKey]bool{}
	retires := false
	for _, g := range rc.Report.Groups {
		switch {
		case g.leftover:
			if !prunes[g.toKey()] && len(prunable(g.versions, g.ToVersion, max(rc.Fleet.Retire.Keep, 1), nil)) > 0 {
				n++
			}
			prunes[g.toKey()] = true
			retires = retires || (rc.Retirer != nil && g.replaced != "")
		case g.UpToDate:
		default:
			if !versions[g.fromKey()] {
				n++
			}
			versions[g.fromKey()] = true
			n++ // the refresh
		}
	}
	if retires {
		n++
	}
	return n
}

// lockStep takes the project lock for every run that changes AWS.
type lockStep struct{}

func (lockStep) String() string { return "take the project lock" }

func (lockStep) Skip(rc *Context) (bool, string) {
	return !rc.Apply || rc.Locker == nil, ""
}

func (lockStep) Run(ctx context.Context, rc *Context) error {
	held, err := rc.Locker.Acquire(ctx, rc.LockTimeout)
	if err != nil {
		return err
	}
	rc.held = held
	// A rollout outlives the lease's TTL: renew it until Release; losing
	// it stops the rollout at the next safe point.
	held.KeepAlive(ctx, func(err error) {
		if !errors.Is(err, lock.ErrLost) {
			err = fmt.Errorf("%w: %w", lock.ErrLost, err)
		}
		rc.cancel(err)
	})
	return nil
}

// newReport starts a report for the fleet.
func (r *Rollout) newReport() *Report {
	return &Report{Fleet: r.Fleet.Name, Strategy: r.Fleet.Strategy, Layer: r.Fleet.Layer, Channel: r.Fleet.Channel, DryRun: !r.Apply}
}
