package cmdutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/amibake/amibake/internal/awsapi"
)

// ErrAborted is returned when the operator answers no: nothing changed.
var ErrAborted = errors.New("aborted: nothing was changed")

// ApplyPrompt describes what --apply is about to do, for the question a
// destructive command asks on a terminal.
type ApplyPrompt struct {
	// Changes is how many changes --apply makes; 0 asks nothing.
	Changes int
	// Regions the changes touch.
	Regions []string
	// STS, when set, names the account in the question (best effort:
	// GetCallerIdentity needs no permission, but a failure only drops the
	// account from the question).
	STS awsapi.STS
	// Preview writes the changes before the question (to stderr).
	Preview func(io.Writer) error
}

// WillPrompt reports whether ConfirmApply would ask: only a person at a
// terminal is asked. --yes, --output json and a non-terminal stdin or
// stderr (every pipeline) proceed on --apply alone, so a job never hangs
// on a question nobody can answer.
func (f *Factory) WillPrompt() bool {
	return !f.AssumeYes && !f.JSON() && f.IOStreams.CanPrompt()
}

// ConfirmApply asks "Apply N changes to account A in REGIONS? [y/N]" when
// WillPrompt, after the preview. Anything but y/yes returns ErrAborted
// (exit 1) before anything changed.
func ConfirmApply(ctx context.Context, f *Factory, p ApplyPrompt) error {
	if p.Changes == 0 || !f.WillPrompt() {
		return nil
	}
	w := f.IOStreams.ErrOut
	if p.Preview != nil {
		if err := p.Preview(w); err != nil {
			return err
		}
	}
	target := strings.Join(p.Regions, ", ")
	if p.STS != nil {
		if out, err := p.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil && aws.ToString(out.Account) != "" {
			target = "account " + aws.ToString(out.Account) + " in " + target
		}
	}
	noun := "changes"
	if p.Changes == 1 {
		noun = "change"
	}
	fmt.Fprintf(w, "Apply %d %s to %s? [y/N] ", p.Changes, noun, target)
	answer, err := readLine(ctx, f.IOStreams.In)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	if errors.Is(err, io.EOF) {
		fmt.Fprintln(w)
	}
	return ErrAborted
}

// readLine reads one answer, giving up when ctx ends (Ctrl-C at the prompt).
func readLine(ctx context.Context, in io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
