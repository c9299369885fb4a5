package rollout

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/lineage"
)

// An in-place rollout's state is in AWS too: each instance's
// amibake:patch-level tag (what it carries) against the target's, and the
// fleet's last patch command in SSM (its comment names the fleet).

// inPlaceState reads the fleet's instances, their patch levels and its
// last patch command.
type inPlaceState struct{}

func (inPlaceState) String() string { return "read the fleet's patch levels" }

func (inPlaceState) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	if err := rc.targetPatchLevel(ctx); err != nil {
		return err
	}
	ip.Targets = nil
	if err := rc.findInstances(ctx); err != nil {
		return err
	}
	ip.PatchLevels, ip.Behind = map[string]string{}, nil
	for _, id := range ip.Targets {
		level := instanceTags(ip.instances[id])[lineage.TagPatchLevel]
		ip.PatchLevels[id] = level
		if level != ip.PatchLevel {
			ip.Behind = append(ip.Behind, id)
		}
	}
	return rc.lastCommand(ctx)
}

// lastCommand finds the newest patch command an amibake rollout of this
// fleet sent.
func (rc *Context) lastCommand(ctx context.Context) error {
	prefix := "amibake rollout " + rc.Fleet.Name + " "
	var last *ssmtypes.Command
	// The patch and the recipe delta (delta.go) are both the fleet's.
	for _, doc := range []string{PatchDocument, DeltaDocument} {
		p := ssm.NewListCommandsPaginator(rc.SSM, &ssm.ListCommandsInput{MaxResults: aws.Int32(50),
			Filters: []ssmtypes.CommandFilter{{Key: ssmtypes.CommandFilterKeyDocumentName, Value: aws.String(doc)}}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("%s commands of fleet %s: %w", doc, rc.Fleet.Name, err)
			}
			for i := range page.Commands {
				c := &page.Commands[i]
				if !strings.HasPrefix(aws.ToString(c.Comment), prefix) {
					continue
				}
				if last == nil || aws.ToTime(c.RequestedDateTime).After(aws.ToTime(last.RequestedDateTime)) {
					last = c
				}
			}
		}
	}
	if last == nil {
		return nil
	}
	batch, _, _ := strings.Cut(strings.TrimPrefix(aws.ToString(last.Comment), prefix), " ")
	rc.Report.InPlace.Last = &CommandResult{Batch: batch, CommandID: aws.ToString(last.CommandId), Status: string(last.Status),
		StatusDetails: aws.ToString(last.StatusDetails)}
	return nil
}

func commandActive(status string) bool {
	switch ssmtypes.CommandStatus(status) {
	case ssmtypes.CommandStatusPending, ssmtypes.CommandStatusInProgress, ssmtypes.CommandStatusCancelling:
		return true
	}
	return false
}

func (r *Rollout) inPlaceStatus(ctx context.Context, rep *Report) (*Report, error) {
	rep.InPlace = &InPlace{}
	err := r.run(ctx, rep, []Step{inPlacePreflight{}, resolveTarget{}, inPlaceState{}, inPlaceStatusView{}, deltaState{}})
	return rep, err
}

type inPlaceStatusView struct{}

func (inPlaceStatusView) String() string { return "show the status" }

func (inPlaceStatusView) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	n := len(ip.Targets)
	rc.logf("Fleet %s (in-place): %d of %d instances on patch level %s (%s %s = %s)", rc.Fleet.Name, n-len(ip.Behind), n,
		ip.PatchLevel, rc.Fleet.Layer, rc.Fleet.Channel, rc.Report.Target)
	for _, id := range ip.Behind {
		rc.logf("  behind: %s (patch level %s)", id, orText(ip.PatchLevels[id], "none"))
	}
	if c := ip.Last; c != nil {
		rc.logf("  last command: %s (%s batch) %s %s", c.CommandID, c.Batch, c.Status, c.StatusDetails)
	}
	switch {
	case ip.Last != nil && commandActive(ip.Last.Status):
		rc.Report.Outcome = OutcomeInProgress
		rc.Report.Reason = fmt.Sprintf("command %s (%s batch) is %s", ip.Last.CommandID, ip.Last.Batch, ip.Last.Status)
	case n == 0:
		rc.Report.Outcome = OutcomeNothing
		rc.Report.Reason = "no running instance has the fleet's tags"
	case len(ip.Behind) == 0:
		rc.Report.Outcome = OutcomeSucceeded
	case ip.Last == nil:
		rc.Report.Outcome = OutcomePlanned
		rc.Report.Reason = fmt.Sprintf("%d of %d instances behind; no amibake rollout of the fleet yet", len(ip.Behind), n)
	case ip.Last.Status == string(ssmtypes.CommandStatusCancelled):
		rc.Report.Outcome = OutcomeAborted
		rc.Report.Reason = fmt.Sprintf("%d of %d instances behind after command %s was cancelled; `amibake rollout resume %s` patches them", len(ip.Behind), n, ip.Last.CommandID, rc.Fleet.Name)
	default:
		rc.Report.Outcome = OutcomeStopped
		rc.Report.Reason = fmt.Sprintf("%d of %d instances behind after command %s (%s); `amibake rollout resume %s` patches them", len(ip.Behind), n, ip.Last.CommandID, ip.Last.StatusDetails, rc.Fleet.Name)
	}
	return nil
}

// ---- resume ----

func (r *Rollout) inPlaceResume(ctx context.Context, rep *Report) (*Report, error) {
	rep.InPlace = &InPlace{}
	err := r.run(ctx, rep, []Step{inPlacePreflight{}, resolveTarget{}, inPlaceState{}, deltaFind{}, behindOnly{}, lockStep{},
		applyDelta{}, deltaTag{}, deltaVerdict{}, sendBehind{}, tagPatchLevel{}, deltaVerdict{final: true}, inPlaceVerdict{}})
	return rep, err
}

// behindOnly narrows the targets to the instances not on the target
// patch level: resume continues where the rollout stopped.
type behindOnly struct{}

func (behindOnly) String() string { return "find the instances behind" }

func (behindOnly) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	if c := ip.Last; c != nil && commandActive(c.Status) {
		return fmt.Errorf("fleet %s: patch command %s (%s batch) is still %s: wait for it (`amibake rollout status %s`) or stop it (`amibake rollout abort %s`)",
			rc.Fleet.Name, c.CommandID, c.Batch, c.Status, rc.Fleet.Name, rc.Fleet.Name)
	}
	ip.Behind = ip.withDeltaBehind() // behind in recipes is behind too
	if len(ip.Behind) == 0 {
		rc.Report.Outcome = OutcomeNothing
		rc.logf("Nothing to do: every instance of fleet %s is on patch level %s.", rc.Fleet.Name, ip.PatchLevel)
		return errStop
	}
	ip.Targets = ip.Behind
	rc.logf("Fleet %s (in-place): resume patching %d instances behind patch level %s: %s", rc.Fleet.Name, len(ip.Behind), ip.PatchLevel, strings.Join(ip.Behind, ", "))
	return nil
}

// sendBehind patches the instances behind by id, 50 per command (SSM's
// limit), one command at a time; a command that does not succeed stops
// the rest, as max_errors would.
type sendBehind struct{}

func (sendBehind) String() string { return "patch the instances behind" }

func (sendBehind) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	for ids := range slices.Chunk(ip.Targets, 50) {
		in := rc.patchCommand()
		in.InstanceIds, in.Comment = ids, commandComment("amibake rollout %s resume → %s", rc.Fleet.Name, ip.PatchLevel)
		out, err := rc.SSM.SendCommand(ctx, in)
		if err != nil {
			return fmt.Errorf("send %s to %d instances of %s: %w", PatchDocument, len(ids), rc.Fleet.Name, err)
		}
		cr := &CommandResult{Batch: "resume", CommandID: aws.ToString(out.Command.CommandId)}
		ip.Commands = append(ip.Commands, cr)
		rc.changed("%s command %s (resume, %d instances)", PatchDocument, cr.CommandID, len(ids))
		if err := rc.waitCommand(ctx, cr); err != nil {
			return err
		}
		if err := rc.invocations(ctx, cr); err != nil {
			return err
		}
		if cr.Status != string(ssmtypes.CommandStatusSuccess) {
			break
		}
	}
	return nil
}

// ---- abort ----

func (r *Rollout) inPlaceAbort(ctx context.Context, rep *Report) (*Report, error) {
	rep.InPlace = &InPlace{}
	// Stopping a rollout is never held back by the maintenance window.
	r.IgnoreWindow = true
	err := r.run(ctx, rep, []Step{inPlacePreflight{}, resolveTarget{}, inPlaceState{}, lockStep{}, cancelPatch{}})
	return rep, err
}

// cancelPatch stops the fleet's running patch command. What it already
// installed stays: there is no un-patching in place, and the report says so.
type cancelPatch struct{}

func (cancelPatch) String() string { return "cancel the running patch command" }

func (cancelPatch) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	c := ip.Last
	if c == nil || (!commandActive(c.Status) && c.Status != string(ssmtypes.CommandStatusCancelled)) {
		return fmt.Errorf("nothing to abort: no patch command of fleet %s is running", rc.Fleet.Name)
	}
	if isDeltaBatch(c.Batch) {
		return rc.abortDelta(ctx, c)
	}
	if commandActive(c.Status) {
		if _, err := rc.SSM.CancelCommand(ctx, &ssm.CancelCommandInput{CommandId: aws.String(c.CommandID)}); err != nil {
			return fmt.Errorf("abort %s: cancel command %s: %w", rc.Fleet.Name, c.CommandID, err)
		}
		rc.changed("cancelled %s command %s (%s batch)", PatchDocument, c.CommandID, c.Batch)
		if err := rc.waitCommand(ctx, c); err != nil {
			return err
		}
	}
	ip.Commands = []*CommandResult{c}
	if err := rc.invocations(ctx, c); err != nil {
		return err
	}
	// Tag what the command did patch, so status and resume see it.
	if err := (tagPatchLevel{}).Run(ctx, rc); err != nil {
		return err
	}
	behind := 0
	for _, id := range ip.Targets {
		if ip.PatchLevels[id] != ip.PatchLevel && !slices.Contains(ip.Tagged, id) {
			behind++
		}
	}
	rc.Report.Outcome = OutcomeAborted
	rc.Report.Reason = fmt.Sprintf("command %s (%s batch) stopped: %d instances patched before it stopped keep their patches (an in-place rollout cannot be undone: patches are not uninstalled), %d of %d not on patch level %s; `amibake rollout resume %s` continues",
		c.CommandID, c.Batch, len(ip.Succeeded), behind, len(ip.Targets), ip.PatchLevel, rc.Fleet.Name)
	rc.logf("Aborted: %s", rc.Report.Reason)
	return nil
}
