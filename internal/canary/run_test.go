package canary_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/canary"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/sandbox"
)

func fleet() *config.Fleet {
	return &config.Fleet{Name: "web", Canary: &config.Canary{
		Instances: 1, Window: 30 * time.Minute, Interval: time.Minute,
		Metrics: []*config.CanaryMetric{
			{Name: "p90_latency", Namespace: "Web", MetricName: "Latency", Statistic: "p90", Direction: canary.LowerIsBetter, Tolerance: "10%"},
			{Name: "error_rate", Namespace: "Web", MetricName: "5xxRate", Statistic: "Average", Direction: canary.LowerIsBetter, Tolerance: "5%"},
		},
	}}
}

func images(t testing.TB, sb *sandbox.Sandbox) (string, string) {
	t.Helper()
	var ids []string
	sb.Do(func(w *sandbox.World) {
		for id, img := range w.EC2.Images {
			if img.Region == sandbox.DefaultRegion && img.Architecture == "x86_64" && img.State == "available" {
				ids = append(ids, id)
			}
		}
	})
	require.GreaterOrEqual(t, len(ids), 2)
	if ids[0] > ids[1] {
		ids[0], ids[1] = ids[1], ids[0]
	}
	return ids[0], ids[1]
}

func analysis(sb *sandbox.Sandbox, newAMI, baseAMI string) *canary.Analysis {
	return &canary.Analysis{
		EC2: ec2.NewFromConfig(sb.Config), CloudWatch: cloudwatch.NewFromConfig(sb.Config),
		Project: "demo", Fleet: fleet(), AMI: newAMI, BaselineAMI: baseAMI,
		NoWait: true, Poll: 10 * time.Millisecond, Now: sb.Clock().Now,
	}
}

// live lists the non-terminated instances tagged with a canary role.
func live(t testing.TB, sb *sandbox.Sandbox) []string {
	t.Helper()
	var out []string
	sb.Do(func(w *sandbox.World) {
		for id, in := range w.EC2.Instances {
			role := in.Tags[canary.TagRole]
			if (role == canary.RoleCanary || role == canary.RoleBase) && in.State != "terminated" && in.State != "shutting-down" {
				out = append(out, id)
			}
		}
	})
	return out
}

func TestGoodAMIPasses(t *testing.T) {
	sb := sandbox.Start(t, fixedStart)
	base, next := images(t, sb)
	a := analysis(sb, next, base)
	var buf strings.Builder
	a.Out = &buf
	rep, err := a.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, canary.Pass, rep.Verdict, buf.String())
	require.Len(t, rep.Metrics, 2)
	assert.Len(t, rep.Canary, 1)
	assert.Len(t, rep.Baseline, 1)
	assert.GreaterOrEqual(t, rep.Metrics[0].Canary.N, 29)
	assert.NotEmpty(t, rep.Metrics[0].Series.Timestamps)
	assert.ElementsMatch(t, append(append([]string{}, rep.Canary...), rep.Baseline...), rep.Terminated)
	assert.Empty(t, live(t, sb), "instances terminated")
	// Tagged as DESIGN.md says.
	sb.Do(func(w *sandbox.World) {
		in := w.EC2.Instances[rep.Canary[0]]
		assert.Equal(t, "demo", in.Tags[canary.TagProject])
		assert.Equal(t, "web", in.Tags[canary.TagFleet])
		assert.Equal(t, next, in.ImageID)
		assert.Equal(t, base, w.EC2.Instances[rep.Baseline[0]].ImageID)
	})

	dir := t.TempDir()
	require.NoError(t, canary.WriteFiles(dir, rep))
	svg, err := os.ReadFile(rep.Chart)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(svg), "<svg"))
	assert.Contains(t, string(svg), "polyline")
	assert.Equal(t, dir, filepath.Dir(rep.ReportFile))
	var text strings.Builder
	require.NoError(t, canary.PrintText(&text, rep))
	assert.Contains(t, text.String(), "Verdict: PASS")
}

func TestSlowAMIFails(t *testing.T) {
	sb := sandbox.Start(t, fixedStart)
	base, next := images(t, sb)
	require.NoError(t, sb.SlowImage(next, "Latency", 1.3))
	rep, err := analysis(sb, next, base).Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, canary.Fail, rep.Verdict)
	assert.Equal(t, canary.Fail, rep.Metrics[0].Verdict, rep.Metrics[0].Reason)
	assert.InDelta(t, 0.3, rep.Metrics[0].Change, 0.06)
	assert.Less(t, rep.Metrics[0].Test.P, 0.05)
	assert.Equal(t, canary.Pass, rep.Metrics[1].Verdict, "error rate unaffected")
	assert.Empty(t, live(t, sb), "instances terminated on failure")
	var text strings.Builder
	require.NoError(t, canary.PrintText(&text, rep))
	assert.Contains(t, text.String(), "FAIL")
	ve := &canary.VerdictError{Fleet: "web", Verdict: rep.Verdict}
	assert.Equal(t, 1, ve.ExitCode())
	assert.Equal(t, 5, (&canary.VerdictError{Verdict: canary.Marginal}).ExitCode())
}

// An AMI within tolerance (5% slower, tolerance 10%) fails in at most 1 of
// 50 seeded runs.
func TestWithinToleranceRarelyFails(t *testing.T) {
	fails := 0
	for seed := int64(1); seed <= 50; seed++ {
		if falsePositive(t, seed) {
			fails++
		}
	}
	t.Logf("within-tolerance AMI failed %d of 50 runs", fails)
	assert.LessOrEqual(t, fails, 1)
}

func falsePositive(t testing.TB, seed int64) bool {
	sb := sandbox.Start(t, fixedStart, func(o *sandbox.Options) { o.Seed = seed })
	base, next := images(t, sb)
	require.NoError(t, sb.SlowImage(next, "Latency", 1.05))
	rep, err := analysis(sb, next, base).Run(context.Background())
	require.NoError(t, err)
	return rep.Verdict == canary.Fail
}

// BenchmarkFalsePositiveRate measures the false-positive rate over 500
// seeded runs of a within-tolerance AMI (target ≤ 2%).
func BenchmarkFalsePositiveRate(b *testing.B) {
	for range b.N {
		fails := 0
		for seed := int64(1); seed <= 500; seed++ {
			if falsePositive(b, seed) {
				fails++
			}
		}
		b.ReportMetric(float64(fails)/500*100, "fp%")
		b.Logf("false-positive rate: %d of 500 (%.1f%%)", fails, float64(fails)/5)
	}
}

func TestTerminatedOnCancel(t *testing.T) {
	sb := sandbox.Start(t, fixedStart)
	base, next := images(t, sb)
	a := analysis(sb, next, base)
	a.NoWait = false
	ctx, cancel := context.WithCancel(context.Background())
	var launched []string
	a.Sleep = func(ctx context.Context, d time.Duration) error {
		// Interrupted while waiting out the window.
		launched = live(t, sb)
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	rep, err := a.Run(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	assert.Len(t, launched, 2, "canary and baseline were running")
	assert.Empty(t, live(t, sb), "instances terminated on interrupt")
	assert.ElementsMatch(t, launched, rep.Terminated)
}

func TestTerminatedWhenCollectionFails(t *testing.T) {
	sb := sandbox.Start(t, fixedStart)
	base, next := images(t, sb)
	a := analysis(sb, next, base)
	a.Fleet.Canary.Metrics[0].Statistic = "bogus"
	rep, err := a.Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GetMetricData")
	assert.Len(t, rep.Terminated, 2)
	assert.Empty(t, live(t, sb))
}

func TestValidate(t *testing.T) {
	a := &canary.Analysis{Fleet: fleet(), AMI: "ami-1", BaselineAMI: "ami-1"}
	assert.ErrorContains(t, a.Validate(), "baseline already")
	a.BaselineAMI = "ami-2"
	require.NoError(t, a.Validate())
	m := a.Fleet.Canary.Metrics[0]
	m.Expression = "m1*2"
	assert.ErrorContains(t, a.Validate(), "needs at least one query block")
	m.Queries = []*config.CanaryQuery{{ID: "m1", Namespace: "Web", MetricName: "Latency"}}
	require.NoError(t, a.Validate())
	m.Expression = "m1 * m2"
	assert.ErrorContains(t, a.Validate(), "names m2")
	m.Expression = "m1 *"
	assert.ErrorContains(t, a.Validate(), "unexpected end")
	m.Expression = "m1"
	a.Fleet.Canary.Instances = 200
	assert.ErrorContains(t, a.Validate(), "exceed GetMetricData's 500")
	_ = aws.String
}

// errorRate is an expression metric: the percentage of requests that
// failed, per instance and period.
func errorRate() *config.CanaryMetric {
	return &config.CanaryMetric{
		Name: "error_rate", Expression: "100 * errors / requests", Statistic: "Sum",
		Direction: canary.LowerIsBetter, Tolerance: "10%",
		Queries: []*config.CanaryQuery{
			{ID: "errors", Namespace: "Web", MetricName: "Errors"},
			{ID: "requests", Namespace: "Web", MetricName: "Requests", Statistic: "Sum"},
		},
	}
}

func TestExpressionMetricGoodAMIPasses(t *testing.T) {
	sb := sandbox.Start(t, fixedStart)
	base, next := images(t, sb)
	a := analysis(sb, next, base)
	a.Fleet.Canary.Instances = 2
	a.Fleet.Canary.Metrics = []*config.CanaryMetric{errorRate()}
	rep, err := a.Run(context.Background())
	require.NoError(t, err)
	require.Len(t, rep.Metrics, 1)
	m := rep.Metrics[0]
	assert.Equal(t, canary.Pass, m.Verdict, m.Reason)
	assert.Equal(t, "100 * errors / requests", m.Expression)
	// Two instances a side, a point per period each: the expression's
	// per-instance series, not the hidden queries'.
	assert.GreaterOrEqual(t, m.Canary.N, 2*29)
	assert.LessOrEqual(t, m.Canary.N, 2*31)
	assert.InDelta(t, 0.5, m.Baseline.P50, 0.1, "0.5%% of requests fail on a healthy instance")
	assert.Equal(t, 1, sb.CountFirstAttempts("monitoring", "GetMetricData"), "one request for the metric")
	assert.Empty(t, live(t, sb))
	var text strings.Builder
	require.NoError(t, canary.PrintText(&text, rep))
	assert.Contains(t, text.String(), "error_rate (100 * errors / requests)")
}

func TestExpressionMetricOfSeveralSeriesFails(t *testing.T) {
	sb := sandbox.Start(t, fixedStart)
	base, next := images(t, sb)
	a := analysis(sb, next, base)
	m := errorRate()
	m.Expression = "[errors, requests] * 2"
	a.Fleet.Canary.Metrics = []*config.CanaryMetric{m}
	rep, err := a.Run(context.Background())
	require.ErrorContains(t, err, "more than one time series")
	assert.Len(t, rep.Terminated, 2)
	assert.Empty(t, live(t, sb))
}

// A noisy AMI — twice the errors, three times the per-period spread —
// fails on the error rate though its latency is fine.
func TestExpressionMetricNoisyAMIFails(t *testing.T) {
	sb := sandbox.Start(t, fixedStart)
	base, next := images(t, sb)
	resp, err := http.Post(sb.URL()+"/_sandbox/images/"+next+"/slow", "application/json", strings.NewReader(`{"metric":"Errors","factor":2,"noise":3}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	a := analysis(sb, next, base)
	a.Fleet.Canary.Metrics = append(a.Fleet.Canary.Metrics[:1], errorRate())
	rep, err := a.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, canary.Fail, rep.Verdict)
	assert.Equal(t, canary.Pass, rep.Metrics[0].Verdict, "latency unaffected: %s", rep.Metrics[0].Reason)
	er := rep.Metrics[1]
	assert.Equal(t, canary.Fail, er.Verdict, er.Reason)
	assert.InDelta(t, 1.0, er.Change, 0.25, "twice the error rate")
	assert.Less(t, er.Test.P, 0.05)
	assert.Empty(t, live(t, sb), "instances terminated")
}

// fixedStart pins the sandbox's virtual time: canary metrics are
// synthesised from it, so a wall-clock start would make verdicts vary.
func fixedStart(o *sandbox.Options) { o.Start = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC) }
