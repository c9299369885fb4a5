package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/amibake/amibake/internal/canary"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/sandbox"
)

// Canary judgement (issue 11): the false-positive rate of the analysis
// over 500 seeded runs of an AMI within tolerance (5% slower on p90
// latency, tolerance 10%), target ≤ 2%; and, as the ratio's baseline, how
// often it catches an AMI 30% slower (a judge that never fails has a 0%
// false-positive rate and is useless).
const (
	canarySeeds       = 500
	canaryPowerSeeds  = 100
	canaryFPTarget    = 0.02
	canaryPowerTarget = 0.95
)

// canaryStart pins virtual time: the sandbox synthesises metrics from it.
var canaryStart = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

func canaryFleet() *config.Fleet {
	return &config.Fleet{Name: "web", Canary: &config.Canary{
		Instances: 1, Window: 30 * time.Minute, Interval: time.Minute,
		Metrics: []*config.CanaryMetric{
			{Name: "p90_latency", Namespace: "Web", MetricName: "Latency", Statistic: "p90", Direction: canary.LowerIsBetter, Tolerance: "10%"},
			{Name: "error_rate", Namespace: "Web", MetricName: "5xxRate", Statistic: "Average", Direction: canary.LowerIsBetter, Tolerance: "5%"},
		},
	}}
}

// canaryVerdict runs one seeded analysis of an AMI slower by factor.
func canaryVerdict(ctx context.Context, seed int64, factor float64) (canary.Verdict, error) {
	sb, err := sandbox.Run(sandbox.Options{Seed: seed, Mode: sandbox.ClockInstant, Start: canaryStart}, "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer sb.Close()
	var ids []string
	sb.Do(func(w *sandbox.World) {
		for id, img := range w.EC2.Images {
			if img.Region == sandbox.DefaultRegion && img.Architecture == "x86_64" && img.State == "available" {
				ids = append(ids, id)
			}
		}
	})
	if len(ids) < 2 {
		return "", fmt.Errorf("seed %d: the sandbox has %d x86_64 images, want 2", seed, len(ids))
	}
	sort.Strings(ids)
	base, next := ids[0], ids[1]
	if err := sb.SlowImage(next, "Latency", factor); err != nil {
		return "", err
	}
	a := &canary.Analysis{
		EC2: ec2.NewFromConfig(sb.Config), CloudWatch: cloudwatch.NewFromConfig(sb.Config),
		Project: "bench", Fleet: canaryFleet(), AMI: next, BaselineAMI: base,
		NoWait: true, Poll: 10 * time.Millisecond, Now: sb.Clock().Now,
	}
	rep, err := a.Run(ctx)
	if err != nil {
		return "", fmt.Errorf("seed %d: %w", seed, err)
	}
	return rep.Verdict, nil
}

func canaryFigure(e *env) []result {
	started := time.Now()
	count := func(n int, factor float64) (int, error) {
		fails := 0
		for seed := int64(1); seed <= int64(n); seed++ {
			v, err := canaryVerdict(e.ctx, seed, factor)
			if err != nil {
				return 0, err
			}
			if v == canary.Fail {
				fails++
			}
		}
		return fails, nil
	}
	fp, err := count(canarySeeds, 1.05)
	if err != nil {
		return []result{failedResult("canary-judge", "false positives ≤ 2%", err)}
	}
	caught, err := count(canaryPowerSeeds, 1.30)
	if err != nil {
		return []result{failedResult("canary-judge", "false positives ≤ 2%", err)}
	}
	fpRate := float64(fp) / canarySeeds
	power := float64(caught) / canaryPowerSeeds
	return []result{{
		Name: "canary-judge",
		Values: fmt.Sprintf("within tolerance (p90 latency +5%%, tolerance 10%%): failed %d of %d seeded runs (%.1f%%); 30%% slower: failed %d of %d (%.0f%%); %s",
			fp, canarySeeds, fpRate*100, caught, canaryPowerSeeds, power*100, time.Since(started).Round(100*time.Millisecond)),
		Target: fmt.Sprintf("false positives ≤ %.0f%%; a 30%% slower AMI failed in ≥ %.0f%% of runs", canaryFPTarget*100, canaryPowerTarget*100),
		Ratio:  canaryRatio(fp, fpRate, power),
		Status: status(fpRate <= canaryFPTarget && power >= canaryPowerTarget),
	}}
}

// canaryRatio compares how often the slow AMI fails with how often the
// within-tolerance one does; with no false positive at all, the bound is
// what one failure in the sample would have been.
func canaryRatio(fp int, fpRate, power float64) string {
	if fp == 0 {
		return fmt.Sprintf("vs the 30%% slower AMI: failed ≥ %.0f× as often as the within-tolerance one (0 false positives in %d)", power*canarySeeds, canarySeeds)
	}
	return fmt.Sprintf("vs the 30%% slower AMI: failed %.0f× as often as the within-tolerance one", power/fpRate)
}
