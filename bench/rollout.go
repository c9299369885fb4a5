package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

// The rollout figures run internal/rollout in-process against an
// in-process sandbox on a manual clock: the rollout's Sleep advances the
// clock, so refreshes and commands progress in virtual time (hours of
// rollout in seconds) while every call still goes over HTTP through the
// real SDK clients and lands in the sandbox's request log.

// rolloutPerASG is the replace fleet's group size (-rollout-per-asg): 20
// by default (2,000 instances) to keep make bench short; the calls per ASG
// do not depend on it.
var rolloutPerASG = 20

var rolloutPaths = lineage.Paths{Prefix: "/amibake", Project: "bench"}

const (
	rolloutASGs      = 100
	rolloutInstances = 10_000 // the fleet (in-place; replace at -rollout-per-asg 100)
	rolloutRegion    = "us-east-1"
	rolloutPoll      = 15 * time.Second
)

// rolloutSandbox starts a manual-clock sandbox with two AMIs of layer app
// (old, new) and the channel on the new one.
func rolloutSandbox(ctx context.Context, patchLevel string) (*sandbox.Sandbox, string, string, error) {
	sb, err := sandbox.Run(sandbox.Options{Seed: 1, Mode: sandbox.ClockManual}, "127.0.0.1:0")
	if err != nil {
		return nil, "", "", err
	}
	var old, newAMI string
	sb.Do(func(sw *sandbox.World) {
		now := sb.Clock().Now()
		for i, p := range []*string{&old, &newAMI} {
			*p = sw.NewID("ami")
			bt := lineage.BuildTags{Project: rolloutPaths.Project, Layer: "app", Fingerprint: fmt.Sprintf("fp%d", i), BuildID: fmt.Sprintf("b%d", i), PatchLevel: patchLevel}
			sw.EC2.Images[*p] = &sandbox.Image{ID: *p, Account: sandbox.DefaultAccount, Region: rolloutRegion, Name: "app-" + bt.BuildID,
				State: "available", StateSince: now, CreationDate: now.Add(time.Duration(i) * time.Hour), AvailableAt: now,
				Architecture: "x86_64", RootDeviceName: "/dev/xvda", Tags: sandbox.Tags(bt.Map())}
		}
	})
	_, err = ssm.NewFromConfig(sb.Config).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(rolloutPaths.Channel("app", "stable")),
		Value: aws.String(newAMI), Type: ssmtypes.ParameterTypeString})
	if err != nil {
		sb.Close()
		return nil, "", "", err
	}
	return sb, old, newAMI, nil
}

// logCounts are the calls in the sandbox's log, first attempts only
// (the SDK's loopback retries are not calls the rollout made).
func logCounts(sb *sandbox.Sandbox) callCounts {
	return callCounts(sb.FirstAttemptCounts())
}

func rolloutFigure(e *env) []result {
	return []result{rolloutReplace(e), rolloutInPlace(e)}
}

// rolloutReplace: 10,000 instances in 100 ASGs, replace strategy.
func rolloutReplace(e *env) result {
	const name = "rollout-replace"
	target := fmt.Sprintf("calls ≤ 5 per ASG + 10 for the fleet (%d), preflight's DescribeInstanceRefreshes included; status polls (the follow loop's DescribeInstanceRefreshes) ≤ one per ASG per poll round (poll %s, backing off to 4×); default retire.keep (%d)", 5*rolloutASGs+10, rolloutPoll, config.DefaultRetireKeep)
	fail := func(err error) result { return failedResult(name, target, err) }
	ctx := e.ctx
	started := time.Now()
	sb, old, newAMI, err := rolloutSandbox(ctx, "")
	if err != nil {
		return fail(err)
	}
	defer sb.Close()
	ec2c, asc := ec2.NewFromConfig(sb.Config), autoscaling.NewFromConfig(sb.Config)
	var groups []string
	for g := 0; g < rolloutASGs; g++ {
		name := fmt.Sprintf("web-%03d", g)
		groups = append(groups, name)
		lt, err := ec2c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(old), InstanceType: ec2types.InstanceTypeT3Micro}})
		if err != nil {
			return fail(err)
		}
		_, err = asc.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(int32(2 * rolloutPerASG)), DesiredCapacity: aws.Int32(int32(rolloutPerASG)),
			LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")},
			AvailabilityZones: []string{"us-east-1a", "us-east-1b"}, HealthCheckGracePeriod: aws.Int32(30)})
		if err != nil {
			return fail(err)
		}
	}
	sb.AdvanceClock(5 * time.Minute)
	running := 0
	sb.Do(func(sw *sandbox.World) {
		for _, g := range groups {
			for _, m := range sw.AutoScalingGroup(sandbox.DefaultAccount, rolloutRegion, g).Instances {
				if m.LifecycleState == sandbox.ASGInService && m.ImageID == old {
					running++
				}
			}
		}
	})
	instances := rolloutASGs * rolloutPerASG
	if running != instances {
		return fail(fmt.Errorf("%d instances in service on the old AMI, want %d", running, instances))
	}
	e.log("rollout-replace: %d instances in %d ASGs in service (%s)", running, rolloutASGs, secs(time.Since(started)))
	sb.ResetLog()
	c := awsapi.NewClients(sb.Config)
	rounds := 0
	virtStart := sb.Clock().Now()
	r := &rollout.Rollout{
		Fleet: &config.Fleet{Name: "web", Layer: "app", Channel: "stable", Strategy: config.StrategyReplace, ASGs: groups,
			Rollout: config.Rollout{Checkpoints: []int{20, 100}, CheckpointWait: 5 * time.Minute, MinHealthyPercent: 90}, Retire: config.Retire{Keep: config.DefaultRetireKeep}},
		Region: rolloutRegion, EC2: c.EC2(rolloutRegion), AutoScaling: c.AutoScaling(rolloutRegion), SSM: c.SSM(rolloutRegion), Paths: rolloutPaths,
		Apply: true, Poll: rolloutPoll, Now: sb.Clock().Now, Out: io.Discard,
		Sleep: func(ctx context.Context, d time.Duration) error { rounds++; sb.AdvanceClock(d); return ctx.Err() },
	}
	wallStart := time.Now()
	rep, err := r.Replace(ctx)
	wall := time.Since(wallStart)
	virt := sb.Clock().Now().Sub(virtStart)
	if err != nil {
		return fail(fmt.Errorf("replace: %w", err))
	}
	calls := logCounts(sb)
	onNew := 0
	sb.Do(func(sw *sandbox.World) {
		for _, g := range groups {
			for _, m := range sw.AutoScalingGroup(sandbox.DefaultAccount, rolloutRegion, g).Instances {
				if m.LifecycleState == sandbox.ASGInService && m.ImageID == newAMI {
					onNew++
				}
			}
		}
	})
	// The status polls are the follow loop's DescribeInstanceRefreshes:
	// one per group per round, the rounds being its sleeps plus the first
	// poll. Preflight's DescribeInstanceRefreshes per group (no refresh may
	// be running) is a call like any other: it is read off the log by its
	// position, before the first StartInstanceRefresh.
	preflight := 0
	for _, l := range sb.Log() {
		if l.Action == "StartInstanceRefresh" {
			break
		}
		if l.Action == "DescribeInstanceRefreshes" && l.FirstAttempt() {
			preflight++
		}
	}
	polls := calls["autoscaling:DescribeInstanceRefreshes"] - preflight
	other := calls.total() - polls
	pollBudget := rolloutASGs * (rounds + 1)
	ok := rep.Outcome == rollout.OutcomeSucceeded && onNew == instances && other <= 5*rolloutASGs+10 && polls <= pollBudget
	// Per instance: terminate it in its group and wait for its replacement
	// (TerminateInstanceInAutoScalingGroup + one DescribeAutoScalingInstances
	// per instance, no waiting polls counted): 2 calls per instance.
	perInstance := 2 * instances
	sampled := ""
	if instances != rolloutInstances {
		sampled = fmt.Sprintf(" (sampled: %d per ASG instead of %d; -rollout-per-asg %d for the full fleet)", rolloutPerASG, rolloutInstances/rolloutASGs, rolloutInstances/rolloutASGs)
	}
	return result{
		Name: name,
		Values: fmt.Sprintf("%d instances in %d ASGs%s → new AMI: outcome %s, %d/%d on the new AMI; %s; %d calls besides the status polls (%.2f per ASG, %d of them preflight's DescribeInstanceRefreshes), %d status polls in %d poll rounds over %s virtual (%.2f per ASG per round); %.3f calls per instance; wall %s",
			instances, rolloutASGs, sampled, rep.Outcome, onNew, instances, calls, other, float64(other)/rolloutASGs, preflight, polls, rounds+1, virt.Round(time.Second),
			float64(polls)/float64(rolloutASGs*(rounds+1)), float64(calls.total())/float64(instances), secs(wall)),
		Target: target,
		Ratio:  fmt.Sprintf("vs per instance (terminate + check each, 2 calls per instance = %d, computed): %s fewer calls", perInstance, ratio(float64(perInstance), float64(calls.total()))),
		Status: status(ok),
		Notes: []string{
			fmt.Sprintf("in-process sandbox on a manual clock: the rollout's sleeps advance virtual time; calls are the first attempts in the sandbox's request log; checkpoints 20%%,100%% (wait 5m), min healthy 90%%, retire.keep %d (the default), no AMI retire", config.DefaultRetireKeep),
			"counted per ASG: " + perASGBreakdown(calls, preflight, polls, rolloutASGs),
			"each launch template starts with one version (a fleet's first rollout), so the prune has nothing beyond retire.keep to delete; a template already holding retire.keep versions adds one DeleteLaunchTemplateVersions per ASG (the prune), not measured here",
		},
	}
}

// perASGBreakdown lists the calls made about once per group (count/ASGs
// each, the status polls left out) and the fleet-wide rest.
func perASGBreakdown(calls callCounts, preflight, polls, asgs int) string {
	var per, fleet []string
	total := 0
	for _, k := range sortedKeys(calls) {
		n := calls[k]
		if k == "autoscaling:DescribeInstanceRefreshes" {
			n -= polls
			k += " (preflight)"
		}
		if n >= asgs {
			per = append(per, fmt.Sprintf("%s %.2f", k, float64(n)/float64(asgs)))
			total += n
		} else if n > 0 {
			fleet = append(fleet, fmt.Sprintf("%s %d", k, n))
		}
	}
	return fmt.Sprintf("%s = %.2f; fleet-wide: %s", strings.Join(per, ", "), float64(total)/float64(asgs), strings.Join(fleet, ", "))
}

func sortedKeys(m callCounts) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// rolloutInPlace: 10,000 tagged instances patched in place.
func rolloutInPlace(e *env) result {
	const name = "rollout-inplace"
	const target = "≤ 0.05 calls per instance in all (one SendCommand by tag, aggregate status polls, one paged sweep of invocations)"
	fail := func(err error) result { return failedResult(name, target, err) }
	ctx := e.ctx
	sb, _, newAMI, err := rolloutSandbox(ctx, "pb-bench:0123456789ab")
	if err != nil {
		return fail(err)
	}
	defer sb.Close()
	var ids []string
	var launchErr error
	sb.Do(func(sw *sandbox.World) {
		now := sb.Clock().Now()
		for i := 0; i < rolloutInstances; i++ {
			inst, err := sw.RunInstance(sandbox.LaunchSpec{Account: sandbox.DefaultAccount, Region: rolloutRegion, ImageID: newAMI, InstanceType: "t3.micro",
				Tags: sandbox.Tags{"role": "worker"}}, now)
			if err != nil {
				launchErr = err
				return
			}
			ids = append(ids, inst.ID)
		}
	})
	if launchErr != nil {
		return fail(launchErr)
	}
	sb.AdvanceClock(time.Minute) // booted and managed
	sb.ResetLog()
	c := awsapi.NewClients(sb.Config)
	rounds := 0
	virtStart := sb.Clock().Now()
	r := &rollout.Rollout{
		Fleet: &config.Fleet{Name: "worker", Layer: "app", Channel: "stable", Strategy: config.StrategyInPlace,
			TargetTags: map[string]string{"role": "worker"},
			// No canary batch: SendCommand takes at most 50 instance ids,
			// and 1% of 10,000 is 100.
			Rollout: config.Rollout{Checkpoints: []int{100}, MaxConcurrency: "10%", MaxErrors: "1%", Reboot: "if-needed"}},
		Region: rolloutRegion, EC2: c.EC2(rolloutRegion), AutoScaling: c.AutoScaling(rolloutRegion), SSM: c.SSM(rolloutRegion), Paths: rolloutPaths,
		Apply: true, Poll: 30 * time.Second, Now: sb.Clock().Now, Out: io.Discard,
		Sleep: func(ctx context.Context, d time.Duration) error { rounds++; sb.AdvanceClock(d); return ctx.Err() },
	}
	wallStart := time.Now()
	rep, err := r.InPlace(ctx)
	wall := time.Since(wallStart)
	virt := sb.Clock().Now().Sub(virtStart)
	if err != nil {
		return fail(fmt.Errorf("in place: %w", err))
	}
	calls := logCounts(sb)
	ip := rep.InPlace
	per := float64(calls.total()) / rolloutInstances
	ok := rep.Outcome == rollout.OutcomeSucceeded && len(ip.Succeeded) == rolloutInstances && per <= 0.05
	// Per instance: one SendCommand and one GetCommandInvocation each
	// (computed; no status polls counted).
	perInstance := 2 * rolloutInstances
	return result{
		Name: name,
		Values: fmt.Sprintf("%d tagged instances: outcome %s, %d succeeded, %d tagged; %s in %d poll rounds over %s virtual; %.4f calls per instance; wall %s",
			rolloutInstances, rep.Outcome, len(ip.Succeeded), len(ip.Tagged), calls, rounds+1, virt.Round(time.Second), per, secs(wall)),
		Target: target,
		Ratio:  fmt.Sprintf("vs per instance (SendCommand + GetCommandInvocation each = %d calls, computed): %s fewer calls", perInstance, ratio(float64(perInstance), float64(calls.total()))),
		Status: status(ok),
		Notes: []string{
			fmt.Sprintf("ListCommandInvocations is %d of the calls: 50 invocations a page is the API's maximum", calls["ssm:ListCommandInvocations"]),
			"in-process sandbox on a manual clock; MaxConcurrency 10%, MaxErrors 1%, no canary (SendCommand's 50 instance ids are < 1% of 10,000)",
		},
	}
}
