package sandbox

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func cwLaunch(t *testing.T, sb *Sandbox, image string) string {
	t.Helper()
	out, err := ec2.NewFromConfig(sb.Config).RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String(image), InstanceType: ec2types.InstanceTypeT3Small, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	require.NoError(t, err)
	return aws.ToString(out.Instances[0].InstanceId)
}

func cwImages(t *testing.T, sb *Sandbox) (string, string) {
	t.Helper()
	var ids []string
	sb.Do(func(w *World) {
		for _, k := range sortedKeys(w.EC2.Images) {
			if img := w.EC2.Images[k]; img.Region == DefaultRegion && img.Architecture == "x86_64" && img.State == "available" {
				ids = append(ids, k)
			}
		}
	})
	require.GreaterOrEqual(t, len(ids), 2)
	return ids[0], ids[1]
}

func latencyQuery(id, instance string) cwtypes.MetricDataQuery {
	return cwtypes.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("Web"), MetricName: aws.String("Latency"),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(instance)}}},
			Period: aws.Int32(60), Stat: aws.String("p90"),
		},
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func TestCloudWatchGetMetricDataSyntheticAndSlow(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	good, slow := cwImages(t, sb)
	require.NoError(t, sb.SlowImage(slow, "Latency", 1.3))
	a, b := cwLaunch(t, sb, good), cwLaunch(t, sb, slow)
	cw := cloudwatch.NewFromConfig(sb.Config)
	now := sb.Clock().Now()
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-30 * time.Minute)), EndTime: aws.Time(now),
		ScanBy:            cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{latencyQuery("good", a), latencyQuery("slow", b)},
	}
	out, err := cw.GetMetricData(ctx, in)
	require.NoError(t, err)
	require.Len(t, out.MetricDataResults, 2)
	g, s := out.MetricDataResults[0], out.MetricDataResults[1]
	assert.Equal(t, "good", aws.ToString(g.Id))
	assert.Equal(t, cwtypes.StatusCodeComplete, g.StatusCode)
	require.GreaterOrEqual(t, len(g.Values), 29)
	require.Equal(t, len(g.Values), len(g.Timestamps))
	assert.True(t, g.Timestamps[0].Before(g.Timestamps[1]), "ascending")
	ratio := mean(s.Values) / mean(g.Values)
	assert.InDelta(t, 1.3, ratio, 0.08, "slow AMI is ~30%% slower")

	// Deterministic: the same query answers the same values.
	again, err := cw.GetMetricData(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, g.Values, again.MetricDataResults[0].Values)

	// Stored points win over the synthetic value for their period.
	ts := now.Add(-10 * time.Minute).Truncate(time.Minute)
	_, err = cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String("Web"),
		MetricData: []cwtypes.MetricDatum{{
			MetricName: aws.String("Latency"), Timestamp: aws.Time(ts), Value: aws.Float64(999),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(a)}},
		}},
	})
	require.NoError(t, err)
	out, err = cw.GetMetricData(ctx, in)
	require.NoError(t, err)
	found := false
	for i, tt := range out.MetricDataResults[0].Timestamps {
		if tt.Equal(ts) {
			found = true
			assert.Equal(t, 999.0, out.MetricDataResults[0].Values[i])
		}
	}
	assert.True(t, found, "stored point's period is answered")

	// A metric nobody has: no data, still complete.
	none, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now),
		MetricDataQueries: []cwtypes.MetricDataQuery{latencyQuery("x", "i-00000000000000000")},
	})
	require.NoError(t, err)
	assert.Empty(t, none.MetricDataResults[0].Values)

	// Validation errors come back as API errors the SDK decodes.
	_, err = cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Hour)),
		MetricDataQueries: []cwtypes.MetricDataQuery{latencyQuery("x", a)},
	})
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, "InvalidParameterValue", ae.ErrorCode())
}

func TestCloudWatchAlarms(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	cw := cloudwatch.NewFromConfig(sb.Config)
	sb.SetAlarmState("", "", "web-5xx-high", "OK")
	sb.SetAlarmState("", "", "web-latency", "ALARM")
	sb.SetAlarmState("", "eu-west-1", "elsewhere", "ALARM")

	out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	require.NoError(t, err)
	require.Len(t, out.MetricAlarms, 2)
	assert.Equal(t, "web-5xx-high", aws.ToString(out.MetricAlarms[0].AlarmName))
	assert.Equal(t, cwtypes.StateValueOk, out.MetricAlarms[0].StateValue)

	out, err = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm})
	require.NoError(t, err)
	require.Len(t, out.MetricAlarms, 1)
	assert.Equal(t, "web-latency", aws.ToString(out.MetricAlarms[0].AlarmName))

	_, err = cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("web-5xx-high"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("test")})
	require.NoError(t, err)
	out, err = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"web-5xx-high"}})
	require.NoError(t, err)
	require.Len(t, out.MetricAlarms, 1)
	assert.Equal(t, cwtypes.StateValueAlarm, out.MetricAlarms[0].StateValue)
	assert.Equal(t, "test", aws.ToString(out.MetricAlarms[0].StateReason))

	_, err = cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("x")})
	var nf *cwtypes.ResourceNotFound
	require.True(t, errors.As(err, &nf), "%v", err)

	// Pagination.
	for _, n := range []string{"a1", "a2", "a3"} {
		sb.SetAlarmState("", "", n, "OK")
	}
	p := cloudwatch.NewDescribeAlarmsPaginator(cw, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(2)})
	total := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		total += len(page.MetricAlarms)
	}
	assert.Equal(t, 5, total)
}

func TestCloudWatchSlowAdmin(t *testing.T) {
	sb := Start(t)
	good, _ := cwImages(t, sb)
	resp, err := http.Post(sb.URL()+"/_sandbox/images/"+good+"/slow", "application/json", bytes.NewBufferString(`{"metric":"Latency","factor":1.3}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Post(sb.URL()+"/_sandbox/images/"+good+"/slow", "application/json", bytes.NewBufferString(`{"metric":"Latency","noise":4}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	sb.Do(func(w *World) {
		st := w.cloudWatch()
		_, slow := st.Slow[good]["Latency"]
		assert.False(t, slow, "factor defaults to 1: the normal profile")
		assert.Equal(t, 4.0, st.Noisy[good]["Latency"])
	})
	resp, err = http.Post(sb.URL()+"/_sandbox/images/ami-missing/slow", "application/json", bytes.NewBufferString(`{"metric":"Latency","factor":1.3}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func utc(ts []time.Time) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}

func mathQuery(id, expr string) cwtypes.MetricDataQuery {
	return cwtypes.MetricDataQuery{Id: aws.String(id), Expression: aws.String(expr), Period: aws.Int32(60)}
}

func hidden(q cwtypes.MetricDataQuery) cwtypes.MetricDataQuery {
	q.ReturnData = aws.Bool(false)
	return q
}

func putPoints(t *testing.T, cw *cloudwatch.Client, metric, instance string, at []time.Time, vs ...float64) {
	t.Helper()
	var data []cwtypes.MetricDatum
	for i, v := range vs {
		data = append(data, cwtypes.MetricDatum{MetricName: aws.String(metric), Timestamp: aws.Time(at[i]), Value: aws.Float64(v),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(instance)}}})
	}
	_, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("App"), MetricData: data})
	require.NoError(t, err)
}

func statQuery(id, metric, instance string) cwtypes.MetricDataQuery {
	return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
		Metric: &cwtypes.Metric{Namespace: aws.String("App"), MetricName: aws.String(metric),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(instance)}}},
		Period: aws.Int32(60), Stat: aws.String("Sum"),
	}}
}

// Metric math over stored points: the hidden MetricStat queries are not
// returned, the expression is evaluated per period (a division by zero
// drops its point), expressions may name expressions, and bad ones fail
// as CloudWatch fails them.
func TestCloudWatchGetMetricDataExpressions(t *testing.T) {
	sb := Start(t, func(o *Options) { o.Start = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC) })
	ctx := context.Background()
	good, _ := cwImages(t, sb)
	inst := cwLaunch(t, sb, good)
	cw := cloudwatch.NewFromConfig(sb.Config)
	now := sb.Clock().Now().Truncate(time.Minute)
	ts := []time.Time{now.Add(-4 * time.Minute), now.Add(-3 * time.Minute), now.Add(-2 * time.Minute)}
	putPoints(t, cw, "Errors", inst, ts, 2, 6, 1)
	putPoints(t, cw, "Requests", inst, ts, 100, 200, 0)

	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(ts[0]), EndTime: aws.Time(ts[2].Add(time.Minute)), ScanBy: cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{
			mathQuery("pct", "100 * rate"), // names an expression declared after it
			hidden(statQuery("errors", "Errors", inst)),
			hidden(statQuery("requests", "Requests", inst)),
			hidden(mathQuery("rate", "errors / requests")),
			mathQuery("filled", "FILL(errors / requests, -1) + ABS(-1) - MAX(errors) / SUM(errors)"),
		},
	}
	out, err := cw.GetMetricData(ctx, in)
	require.NoError(t, err)
	require.Len(t, out.MetricDataResults, 2, "ReturnData=false queries are not returned")
	pct := out.MetricDataResults[0]
	assert.Equal(t, "pct", aws.ToString(pct.Id))
	assert.Equal(t, cwtypes.StatusCodeComplete, pct.StatusCode)
	assert.Equal(t, ts[:2], utc(pct.Timestamps), "the third period divides by zero: no point")
	assert.InDeltaSlice(t, []float64{2, 3}, pct.Values, 1e-9)
	filled := out.MetricDataResults[1]
	assert.Equal(t, ts, utc(filled.Timestamps))
	// errors/requests, FILLed with -1, +1, minus MAX(6)/SUM(9).
	assert.InDeltaSlice(t, []float64{0.02 + 1 - 6.0/9, 0.03 + 1 - 6.0/9, -1 + 1 - 6.0/9}, filled.Values, 1e-9)

	// Over synthetic per-instance series too: a ratio of two metrics.
	synth, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-30 * time.Minute)), EndTime: aws.Time(now), ScanBy: cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{
			hidden(latencyQuery("lat", inst)), mathQuery("double", "lat * 2"), latencyQuery("raw", inst),
		},
	})
	require.NoError(t, err)
	require.Len(t, synth.MetricDataResults, 2)
	require.NotEmpty(t, synth.MetricDataResults[0].Values)
	assert.Equal(t, synth.MetricDataResults[1].Timestamps, synth.MetricDataResults[0].Timestamps)
	for i, v := range synth.MetricDataResults[1].Values {
		assert.InDelta(t, 2*v, synth.MetricDataResults[0].Values[i], 1e-9)
	}

	for _, tc := range []struct {
		name    string
		queries []cwtypes.MetricDataQuery
		code    string
		msg     string
	}{
		{"unknown id", []cwtypes.MetricDataQuery{hidden(statQuery("errors", "Errors", inst)), mathQuery("e1", "errors / requests")},
			"ValidationError", "Error in expression e1: Unrecognized metric or expression id requests"},
		{"syntax", []cwtypes.MetricDataQuery{hidden(statQuery("errors", "Errors", inst)), mathQuery("e1", "100 * (errors")},
			"ValidationError", "Error in expression e1: expected \")\""},
		{"unknown function", []cwtypes.MetricDataQuery{hidden(statQuery("errors", "Errors", inst)), mathQuery("e1", "RATE(errors)")},
			"ValidationError", "unknown function RATE"},
		{"cycle", []cwtypes.MetricDataQuery{mathQuery("e1", "e2 + 1"), mathQuery("e2", "e1 * 2")},
			"ValidationError", "refers to itself"},
		{"duplicate id", []cwtypes.MetricDataQuery{statQuery("errors", "Errors", inst), statQuery("errors", "Requests", inst)},
			"ValidationError", "MetricDataQueries.member.2.Id is not unique"},
		{"bad id", []cwtypes.MetricDataQuery{statQuery("Errors", "Errors", inst)},
			"ValidationError", "MetricDataQueries.member.1.Id is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: in.StartTime, EndTime: in.EndTime, MetricDataQueries: tc.queries})
			var ae smithy.APIError
			require.True(t, errors.As(err, &ae), "%v", err)
			assert.Equal(t, tc.code, ae.ErrorCode())
			assert.Contains(t, ae.ErrorMessage(), tc.msg)
		})
	}
}

// Stored points and the AMIs' slow and noisy profiles survive a restart
// from the state file.
func TestCloudWatchStateSurvivesRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	ctx := context.Background()
	start := func(o *Options) {
		o.StateFile = file
		o.Start = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	}
	sb := Start(t, start)
	good, slow := cwImages(t, sb)
	require.NoError(t, sb.SlowImage(slow, "Latency", 1.3))
	require.NoError(t, sb.SetImageNoise(slow, "Errors", 3))
	a := cwLaunch(t, sb, good)
	cw := cloudwatch.NewFromConfig(sb.Config)
	ts := sb.Clock().Now().Add(-5 * time.Minute).Truncate(time.Minute)
	putPoints(t, cw, "Errors", a, []time.Time{ts}, 42)
	require.NoError(t, sb.Close())

	again := Start(t, start)
	again.Do(func(w *World) {
		st := w.cloudWatch()
		assert.Equal(t, 1.3, st.Slow[slow]["Latency"])
		assert.Equal(t, 3.0, st.Noisy[slow]["Errors"])
	})
	out, err := cloudwatch.NewFromConfig(again.Config).GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(ts), EndTime: aws.Time(ts.Add(time.Minute)),
		MetricDataQueries: []cwtypes.MetricDataQuery{statQuery("errors", "Errors", a)},
	})
	require.NoError(t, err)
	require.Len(t, out.MetricDataResults, 1)
	assert.Equal(t, []float64{42}, out.MetricDataResults[0].Values, "the stored point, not a synthetic value")
}
