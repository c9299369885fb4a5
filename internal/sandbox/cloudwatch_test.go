package sandbox

import (
	"bytes"
	"context"
	"errors"
	"net/http"
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
