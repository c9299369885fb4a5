package provisioner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/plugin/common"
)

// ssmAPI is the narrow SSM interface plus CancelCommand, which the shared
// awsapi.SSM does not list yet. *ssm.Client satisfies it.
type ssmAPI interface {
	awsapi.SSM
	CancelCommand(ctx context.Context, in *ssm.CancelCommandInput, optFns ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error)
}

var _ ssmAPI = (*ssm.Client)(nil)

const (
	documentName = "AWS-RunShellScript"
	// patchDocumentName is what a patch step sends.
	patchDocumentName = "AWS-RunPatchBaseline"
	// invocationGrace is how long a just-sent command may be unknown to
	// GetCommandInvocation (InvocationDoesNotExist) before that is an error.
	invocationGrace = 60 * time.Second
	// timeoutMargin is how long past the agent-side execution timeout we
	// keep polling for the final status before giving up ourselves.
	timeoutMargin = 2 * time.Minute
	// cancelWait bounds the CancelCommand call made on the way out.
	cancelWait = 30 * time.Second
	// stderrTailLines is how much stderr a failure message carries.
	stderrTailLines = 20
	stderrTailBytes = 2000
	// ssmOutputLimit is where GetCommandInvocation truncates output.
	ssmOutputLimit = 24000
)

// ui is the part of packer's Ui the runner writes to.
type ui interface {
	Say(string)
	Message(string)
	Error(string)
}

// runner sends steps to one instance and follows them to the end.
type runner struct {
	ssm        ssmAPI
	ui         ui
	instanceID string
	poll       time.Duration
}

// waitOnline waits until Systems Manager reports the instance's agent
// Online, so the first SendCommand is not refused as an invalid target.
func (r *runner) waitOnline(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "not registered"
	// The deadline can hit during a call or during the sleep; either way
	// the user needs the same hint.
	notOnline := func(err error) error {
		return fmt.Errorf("instance %s: SSM agent not online after %s (last: %s; on AWS the instance needs an "+
			"instance profile with AmazonSSMManagedInstanceCore and a route to the SSM endpoints): %w", r.instanceID, timeout, last, err)
	}
	for {
		out, err := r.ssm.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
			Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{r.instanceID}}},
		})
		if err != nil {
			if ctx.Err() != nil {
				return notOnline(ctx.Err())
			}
			return fmt.Errorf("instance %s: describe SSM instance information: %w", r.instanceID, err)
		}
		for _, ii := range out.InstanceInformationList {
			if aws.ToString(ii.InstanceId) != r.instanceID {
				continue
			}
			if ii.PingStatus == ssmtypes.PingStatusOnline {
				return nil
			}
			last = string(ii.PingStatus)
		}
		if err := common.Sleep(ctx, r.poll); err != nil {
			return notOnline(err)
		}
	}
}

// run sends one step and follows it until it ends, streaming its output;
// timeout is the step's execution timeout on the instance.
// A failed, timed-out or cancelled command is an error naming the step.
// When ctx ends first the command is cancelled on the instance.
func (r *runner) run(ctx context.Context, name string, cmds []string, timeout time.Duration) error {
	execTimeout := int(timeout / time.Second)
	if execTimeout < 1 {
		execTimeout = 1
	}
	return r.send(ctx, name, documentName, map[string][]string{
		"commands":         cmds,
		"executionTimeout": {strconv.Itoa(execTimeout)},
	}, timeout)
}

// runPatch sends AWS-RunPatchBaseline (a patch step) and follows it like
// a shell step; timeout bounds how long amibake waits for it (the document
// has no executionTimeout parameter).
func (r *runner) runPatch(ctx context.Context, name string, p *PatchStep, timeout time.Duration) error {
	return r.send(ctx, name, patchDocumentName, map[string][]string{
		"Operation":    {p.operation()},
		"RebootOption": {p.reboot()},
	}, timeout)
}

// send sends one command document and follows it until it ends.
func (r *runner) send(ctx context.Context, name, document string, params map[string][]string, timeout time.Duration) error {
	sent, err := r.ssm.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName: aws.String(document),
		InstanceIds:  []string{r.instanceID},
		Comment:      aws.String(comment(name)),
		Parameters:   params,
	})
	if err != nil {
		return fmt.Errorf("step %q: send command to %s: %w", name, r.instanceID, err)
	}
	if sent.Command == nil || aws.ToString(sent.Command.CommandId) == "" {
		return fmt.Errorf("step %q: SendCommand returned no command id", name)
	}
	id := aws.ToString(sent.Command.CommandId)
	r.ui.Message(fmt.Sprintf("step %q: SSM command %s on %s", name, id, r.instanceID))

	stepCtx, cancel := context.WithTimeout(ctx, timeout+timeoutMargin)
	defer cancel()
	err = r.follow(stepCtx, name, id)
	if err != nil && stepCtx.Err() != nil {
		r.cancel(ctx, id)
		if ctx.Err() != nil {
			return fmt.Errorf("step %q: interrupted, SSM command %s cancelled: %w", name, id, ctx.Err())
		}
		return fmt.Errorf("step %q: SSM command %s did not finish within %s; cancelled", name, id, timeout)
	}
	return err
}

// follow polls one invocation to its end.
func (r *runner) follow(ctx context.Context, name, id string) error {
	stdout := &lineStream{emit: r.ui.Message}
	stderr := &lineStream{emit: r.ui.Error}
	sentAt := time.Now()
	for {
		if err := common.Sleep(ctx, r.poll); err != nil {
			return err
		}
		inv, err := r.ssm.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{
			CommandId:  aws.String(id),
			InstanceId: aws.String(r.instanceID),
		})
		if err != nil {
			var nf *ssmtypes.InvocationDoesNotExist
			if errors.As(err, &nf) && time.Since(sentAt) < invocationGrace {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.cancel(ctx, id)
			return fmt.Errorf("step %q: get SSM command %s invocation: %w", name, id, err)
		}
		stdout.update(aws.ToString(inv.StandardOutputContent))
		stderr.update(aws.ToString(inv.StandardErrorContent))
		switch inv.Status {
		case ssmtypes.CommandInvocationStatusSuccess:
			stdout.flush()
			stderr.flush()
			return nil
		case ssmtypes.CommandInvocationStatusFailed, ssmtypes.CommandInvocationStatusTimedOut,
			ssmtypes.CommandInvocationStatusCancelled:
			stdout.flush()
			stderr.flush()
			return &StepError{
				Step:      name,
				CommandID: id,
				Status:    string(inv.Status),
				Details:   aws.ToString(inv.StatusDetails),
				ExitCode:  inv.ResponseCode,
				StderrTail: tail(aws.ToString(inv.StandardErrorContent),
					stderrTailLines, stderrTailBytes),
			}
		}
	}
}

// cancel asks SSM to stop a command, best effort, even when ctx is over.
func (r *runner) cancel(ctx context.Context, id string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelWait)
	defer cancel()
	if _, err := r.ssm.CancelCommand(cctx, &ssm.CancelCommandInput{
		CommandId:   aws.String(id),
		InstanceIds: []string{r.instanceID},
	}); err != nil {
		r.ui.Error(fmt.Sprintf("cancel SSM command %s: %v", id, err))
	}
}

// StepError is a step whose command ended in Failed, TimedOut or Cancelled.
type StepError struct {
	Step       string
	CommandID  string
	Status     string
	Details    string
	ExitCode   int32
	StderrTail string
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %q %s (SSM command %s, exit code %d", e.Step, strings.ToLower(e.Status), e.CommandID, e.ExitCode)
	if e.Details != "" && e.Details != e.Status {
		fmt.Fprintf(&b, ", %s", e.Details)
	}
	b.WriteString(")")
	if e.StderrTail != "" {
		b.WriteString("; stderr ends with:\n")
		b.WriteString(e.StderrTail)
	}
	return b.String()
}

// comment is SendCommand's Comment (at most 100 characters).
func comment(name string) string {
	c := "amibake step " + name
	if len(c) > 100 {
		c = c[:97] + "..."
	}
	return c
}

// tail returns the last n lines of s, at most max bytes of them.
func tail(s string, n, max int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	if len(out) > max {
		out = "…" + out[len(out)-max:]
	}
	return out
}

// lineStream turns the growing output snapshots GetCommandInvocation
// returns into whole lines, each emitted once.
type lineStream struct {
	emit    func(string)
	seen    int    // bytes of the snapshot already consumed
	partial string // an unfinished last line
	capped  bool
}

// update consumes a new snapshot of the whole output so far.
func (l *lineStream) update(snapshot string) {
	if len(snapshot) <= l.seen {
		return
	}
	text := l.partial + snapshot[l.seen:]
	l.seen = len(snapshot)
	lines := strings.Split(text, "\n")
	l.partial = lines[len(lines)-1]
	for _, line := range lines[:len(lines)-1] {
		l.emit(line)
	}
	if len(snapshot) >= ssmOutputLimit && !l.capped {
		l.capped = true
		l.flush()
		l.emit(fmt.Sprintf("(SSM keeps only the first %d characters of output; the rest is on the instance)", ssmOutputLimit))
	}
}

// flush emits an unfinished last line.
func (l *lineStream) flush() {
	if l.partial != "" {
		l.emit(l.partial)
		l.partial = ""
	}
}
