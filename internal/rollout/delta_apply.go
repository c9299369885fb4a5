package rollout

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plugin/stepcmd"
)

// deltaMarker starts a delta script; the steps inside keep their own
// stepcmd.StepMarker lines.
const deltaMarker = "# amibake-delta: "

var unsafeRunID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// renderDelta builds each group's script from the HCL, exactly as the bake
// renders the recipes, after checking that the HCL describes the target.
func (rc *Context) renderDelta() error {
	d := rc.Report.InPlace.Delta
	cfg := rc.Config
	if cfg == nil {
		return fmt.Errorf("fleet %s: %d instance groups need recipes the target AMI has, and this rollout was given no project config to render them from",
			rc.Fleet.Name, len(d.Groups))
	}
	d.runID = "rollout-" + unsafeRunID.ReplaceAllString(rc.Fleet.Name, "_") + "-" + rc.Now().UTC().Format("20060102T150405Z")
	refs := map[string]*config.RecipeRef{}
	seen := map[string]bool{}
	for l := cfg.Layers[rc.Fleet.Layer]; l != nil && !seen[l.Name]; l = cfg.Layers[l.Parent] {
		seen[l.Name] = true
		for _, ref := range l.Recipes {
			if refs[ref.Name] == nil {
				refs[ref.Name] = ref
			}
		}
	}
	type rendered struct {
		lines, steps []string
	}
	done := map[string]*rendered{}
	for _, g := range d.Groups {
		g.commands = []string{
			deltaMarker + rc.Fleet.Name + " → " + rc.Report.Target + " (" + lineage.FormatRecipes(g.Recipes) + ")",
			"set -euo pipefail",
		}
		g.Steps = nil
		for _, rv := range g.Recipes {
			r := done[rv.Name]
			if r == nil {
				lines, steps, err := rc.renderRecipe(cfg, refs[rv.Name], rv)
				if err != nil {
					return err
				}
				r = &rendered{lines: lines, steps: steps}
				done[rv.Name] = r
			}
			g.commands = append(g.commands, r.lines...)
			g.Steps = append(g.Steps, r.steps...)
		}
		if n := len(strings.Join(g.commands, "\n")); n > stepcmd.MaxCommandBytes {
			return fmt.Errorf("fleet %s: the recipe delta %s is %d bytes, over the %d-byte SSM Run Command limit; use a replace fleet",
				rc.Fleet.Name, lineage.FormatRecipes(g.Recipes), n, stepcmd.MaxCommandBytes)
		}
	}
	return nil
}

// renderRecipe renders one recipe's steps, each in a subshell: a step's
// environment and its `exit` stay its own, as when the bake sends it alone.
func (rc *Context) renderRecipe(cfg *config.Config, ref *config.RecipeRef, rv lineage.RecipeVersion) (lines, steps []string, err error) {
	d := rc.Report.InPlace.Delta
	rec := cfg.Recipes[rv.Name]
	switch {
	case rec == nil:
		return nil, nil, fmt.Errorf("fleet %s: the target AMI %s has recipe %s, which the project config does not declare: it does not describe that AMI; run from the config the AMI was baked from",
			rc.Fleet.Name, rc.Report.Target, rv.Name+"@"+rv.Version)
	case rec.Version != rv.Version:
		return nil, nil, fmt.Errorf("fleet %s: the target AMI %s has recipe %s at version %s, the project config at %s: it does not describe that AMI; run from the config the AMI was baked from, or bake and publish the config's version first",
			rc.Fleet.Name, rc.Report.Target, rv.Name, rv.Version, rec.Version)
	case ref == nil:
		return nil, nil, fmt.Errorf("fleet %s: recipe %s of the target AMI is not in layer %s or its parents in the project config",
			rc.Fleet.Name, rv.Name, rc.Fleet.Layer)
	}
	tsteps, secrets, diags := bake.RecipeSteps(cfg, ref, rc.Paths, d.runID)
	if diags.HasErrors() {
		return nil, nil, fmt.Errorf("fleet %s: recipe %s: %s", rc.Fleet.Name, rv.Name, diags.Error())
	}
	for _, ts := range tsteps {
		ps := stepcmd.Step{Name: ts.Name, Script: ts.Script, Inline: ts.Inline, FileSource: ts.FileSource,
			FileDestination: ts.FileDestination, FileMode: ts.FileMode, Env: ts.Env, SecretEnv: ts.SecretEnv}
		body, err := stepcmd.LoadBody(ps)
		if err != nil {
			return nil, nil, fmt.Errorf("fleet %s: recipe %s: %w", rc.Fleet.Name, rv.Name, err)
		}
		cmds, err := stepcmd.BuildCommands(ps, body, rc.Region)
		if err != nil {
			return nil, nil, fmt.Errorf("fleet %s: recipe %s: %w", rc.Fleet.Name, rv.Name, err)
		}
		lines = append(append(append(lines, "("), cmds...), ")")
		steps = append(steps, ts.Name)
	}
	for _, s := range secrets {
		v := s.Value
		d.secrets = append(d.secrets, deltaSecret{step: s.Step, name: s.Name, parameter: s.Parameter, value: func() string { return v }})
	}
	return lines, steps, nil
}

// deltaPlan shows the delta per group and its API calls.
type deltaPlan struct{}

func (deltaPlan) String() string { return "show the recipe delta" }

func (deltaPlan) Skip(rc *Context) (bool, string) {
	d := rc.Report.InPlace.Delta
	return d == nil || len(d.Groups) == 0, ""
}

func (deltaPlan) Run(ctx context.Context, rc *Context) error {
	ip, d := rc.Report.InPlace, rc.Report.InPlace.Delta
	n := 0
	for _, g := range d.Groups {
		n += len(g.Instances)
	}
	rc.logf("Recipe delta (%s, before the patch): %d of %d instances are behind %s", DeltaDocument, n, len(ip.Targets), lineage.FormatRecipes(d.Target))
	for i, g := range d.Groups {
		rc.logf("  group %d: %d instances on %s need %s (steps %s): %s", i+1, len(g.Instances), orText(g.From, "no recipes"),
			lineage.FormatRecipes(g.Recipes), strings.Join(g.Steps, ", "), strings.Join(g.Instances, ", "))
	}
	for _, s := range d.secrets {
		rc.call("ssm:PutParameter Type=SecureString Name=%s (sensitive %s of step %s)", s.parameter, s.name, s.step)
	}
	for _, b := range rc.deltaBatches() {
		rc.call("ssm:SendCommand %s InstanceIds=%s MaxConcurrency=%s MaxErrors=%s (%s, %d steps)", DeltaDocument, strings.Join(b.ids, ","),
			ip.MaxConcurrency, b.maxErrors(ip.MaxErrors), b.batch, len(b.group.Steps))
	}
	rc.call("ec2:CreateTags %s=%s %s=%s on the instances that ran it", lineage.TagRecipes, lineage.FormatRecipes(d.Target), lineage.TagFingerprint, d.Fingerprint)
	for _, s := range d.secrets {
		rc.call("ssm:DeleteParameter Name=%s", s.parameter)
	}
	return nil
}

// deltaBatch is one SendCommand of the delta.
type deltaBatch struct {
	batch string // delta-canary | delta
	group *DeltaGroup
	ids   []string
}

// maxErrors is the batch's MaxErrors: the canary batch tolerates none.
func (b deltaBatch) maxErrors(fleet string) string {
	if b.batch == "delta-canary" {
		return "0"
	}
	return fleet
}

// deltaBatches: the canary instances of each group, then the rest, by
// instance id (a group is not a tag), at most 50 per command.
func (rc *Context) deltaBatches() []deltaBatch {
	d := rc.Report.InPlace.Delta
	var out []deltaBatch
	add := func(batch string, g *DeltaGroup, ids []string) {
		for part := range slices.Chunk(ids, 50) {
			out = append(out, deltaBatch{batch: batch, group: g, ids: part})
		}
	}
	for _, g := range d.Groups {
		var canary []string
		for _, id := range g.Instances {
			if slices.Contains(d.Canary, id) {
				canary = append(canary, id)
			}
		}
		add("delta-canary", g, canary)
	}
	for _, g := range d.Groups {
		var rest []string
		for _, id := range g.Instances {
			if !slices.Contains(d.Canary, id) {
				rest = append(rest, id)
			}
		}
		add("delta", g, rest)
	}
	return out
}

// errorBudget is what MaxErrors ("N" or "N%") allows of total, the way
// SSM counts it: percentages round down.
func errorBudget(spec string, total int) int {
	if p, ok := strings.CutSuffix(spec, "%"); ok {
		n, _ := strconv.Atoi(p)
		return total * n / 100
	}
	n, _ := strconv.Atoi(spec)
	return n
}

// applyDelta runs the delta: the canary batches (every instance must
// succeed), then the rest in batches under one fleet-wide error budget.
type applyDelta struct{}

func (applyDelta) String() string { return "run the recipe delta" }

func (applyDelta) Skip(rc *Context) (bool, string) {
	d := rc.Report.InPlace.Delta
	return d == nil || len(d.Groups) == 0, ""
}

func (applyDelta) Run(ctx context.Context, rc *Context) (err error) {
	ip, d := rc.Report.InPlace, rc.Report.InPlace.Delta
	if err := rc.putDeltaSecrets(ctx); err != nil {
		return err
	}
	defer func() {
		if derr := rc.deleteDeltaSecrets(context.WithoutCancel(ctx)); derr != nil && err == nil {
			err = derr
		}
	}()
	total := 0
	for _, g := range d.Groups {
		total += len(g.Instances)
	}
	budget, errs := errorBudget(ip.MaxErrors, total), 0
	for _, b := range rc.deltaBatches() {
		if b.batch == "delta" && d.Stopped {
			break
		}
		maxErr := b.maxErrors(ip.MaxErrors)
		if b.batch == "delta" {
			maxErr = strconv.Itoa(budget - errs)
		}
		cr, err := rc.sendDelta(ctx, b, maxErr)
		if err != nil {
			d.collect(ip)
			return err
		}
		n := 0
		for _, inv := range cr.Invocations {
			if inv.StatusDetails == "Failed" || inv.StatusDetails == "ExecutionTimedOut" {
				n++
			}
		}
		switch {
		case cr.Status == string(ssmtypes.CommandStatusCancelled): // aborted
			d.Stopped = true
		case b.batch == "delta-canary" && cr.Status != string(ssmtypes.CommandStatusSuccess):
			d.Stopped = true
		case b.batch == "delta":
			errs += n
			if errs > budget {
				d.Stopped = true
			}
		}
	}
	d.collect(ip)
	return nil
}

func (rc *Context) sendDelta(ctx context.Context, b deltaBatch, maxErrors string) (*CommandResult, error) {
	ip, d := rc.Report.InPlace, rc.Report.InPlace.Delta
	out, err := rc.SSM.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName:   aws.String(DeltaDocument),
		InstanceIds:    b.ids,
		Parameters:     map[string][]string{"commands": b.group.commands, "executionTimeout": {strconv.Itoa(b.group.timeout())}},
		MaxConcurrency: aws.String(ip.MaxConcurrency),
		MaxErrors:      aws.String(maxErrors),
		Comment:        commandComment("amibake rollout %s %s → %s", rc.Fleet.Name, b.batch, lineage.FormatRecipes(b.group.Recipes)),
	})
	if err != nil {
		return nil, fmt.Errorf("send the recipe delta to the %s batch of %s (%d instances): %w", b.batch, rc.Fleet.Name, len(b.ids), err)
	}
	cr := &CommandResult{Batch: b.batch, CommandID: aws.ToString(out.Command.CommandId)}
	d.Commands = append(d.Commands, cr)
	rc.changed("%s command %s (%s batch, %d instances: %s)", DeltaDocument, cr.CommandID, b.batch, len(b.ids), lineage.FormatRecipes(b.group.Recipes))
	rc.logf("  %s batch: command %s sent to %d instances", b.batch, cr.CommandID, len(b.ids))
	if err := rc.waitCommand(ctx, cr); err != nil {
		return cr, err
	}
	return cr, rc.invocations(ctx, cr)
}

// collect sorts every delta instance into succeeded, failed or not run.
func (d *Delta) collect(ip *InPlace) {
	res := map[string]InvocationResult{}
	for _, c := range d.Commands {
		for _, inv := range c.Invocations {
			res[inv.InstanceID] = inv
		}
	}
	d.Succeeded, d.Failed, d.NotRun = []string{}, []string{}, []string{}
	for _, g := range d.Groups {
		for _, id := range g.Instances {
			inv, ok := res[id]
			switch {
			case ok && inv.Status == string(ssmtypes.CommandInvocationStatusSuccess):
				d.Succeeded = append(d.Succeeded, id)
			case ok && (inv.StatusDetails == "Failed" || inv.StatusDetails == "ExecutionTimedOut"):
				d.Failed = append(d.Failed, id)
			default:
				d.NotRun = append(d.NotRun, id)
			}
		}
	}
	sort.Strings(d.Succeeded)
	sort.Strings(d.Failed)
	sort.Strings(d.NotRun)
}

// putDeltaSecrets stores the sensitive inputs as SecureStrings the
// instances read with their own role; the values never enter a command.
func (rc *Context) putDeltaSecrets(ctx context.Context) error {
	d := rc.Report.InPlace.Delta
	for _, s := range d.secrets {
		_, err := rc.SSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(s.parameter), Value: aws.String(s.value()),
			Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
			Description: aws.String("amibake rollout " + rc.Fleet.Name + ": sensitive " + s.name + " of step " + s.step + ", deleted when the rollout ends")})
		if err != nil {
			return fmt.Errorf("store sensitive %s of step %s for the rollout of %s: %w", s.name, s.step, rc.Fleet.Name, err)
		}
	}
	return nil
}

func (rc *Context) deleteDeltaSecrets(ctx context.Context) error {
	d := rc.Report.InPlace.Delta
	var failed []string
	for _, s := range d.secrets {
		_, err := rc.SSM.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(s.parameter)})
		var nf *ssmtypes.ParameterNotFound
		if err != nil && !errors.As(err, &nf) {
			failed = append(failed, s.parameter)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("rollout of %s: delete the sensitive parameters %s: delete them by hand", rc.Fleet.Name, strings.Join(failed, ", "))
	}
	return nil
}

// truncBytes cuts s to at most n bytes on a rune boundary: SendCommand's
// comment limit counts bytes, and a recipe list is long.
func truncBytes(s string, n int) string {
	for len(s) > n {
		r := []rune(s)
		s = string(r[:len(r)-1])
	}
	return s
}

func isDeltaBatch(batch string) bool { return strings.HasPrefix(batch, "delta") }

// abortDelta stops the fleet's running delta command. The instances that
// ran it keep it (there is no un-running a recipe) and are tagged so;
// nothing is patched.
func (rc *Context) abortDelta(ctx context.Context, c *CommandResult) error {
	ip := rc.Report.InPlace
	if commandActive(c.Status) {
		if _, err := rc.SSM.CancelCommand(ctx, &ssm.CancelCommandInput{CommandId: aws.String(c.CommandID)}); err != nil {
			return fmt.Errorf("abort %s: cancel command %s: %w", rc.Fleet.Name, c.CommandID, err)
		}
		rc.changed("cancelled %s command %s (%s batch)", DeltaDocument, c.CommandID, c.Batch)
		if err := rc.waitCommand(ctx, c); err != nil {
			return err
		}
	}
	if err := rc.invocations(ctx, c); err != nil {
		return err
	}
	d, err := rc.targetRecipes(ctx)
	if err != nil {
		return err
	}
	ip.Delta, ip.Commands = d, nil
	d.Commands = []*CommandResult{c}
	g := &DeltaGroup{}
	for _, inv := range c.Invocations {
		g.Instances = append(g.Instances, inv.InstanceID)
	}
	d.Groups = []*DeltaGroup{g}
	d.collect(ip)
	if err := (deltaTag{}).Run(ctx, rc); err != nil {
		return err
	}
	rc.Report.Outcome = OutcomeAborted
	rc.Report.Reason = fmt.Sprintf("recipe delta command %s (%s batch) stopped: %d instances that ran it keep it (a recipe cannot be undone in place; they are tagged %s), %d did not run it, nothing was patched; `amibake rollout resume %s` continues",
		c.CommandID, c.Batch, len(d.Succeeded), lineage.TagRecipes, len(d.Failed)+len(d.NotRun), rc.Fleet.Name)
	rc.logf("Aborted: %s", rc.Report.Reason)
	return nil
}

// timeout is the script's executionTimeout: the bake's per-step default
// for each step, within Run Command's 48-hour maximum.
func (g *DeltaGroup) timeout() int {
	return min(max(len(g.Steps), 1)*int(stepcmd.DefaultTimeout.Seconds()), 172800)
}
