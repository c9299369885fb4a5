package canary

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/canary/metricmath"
	"github.com/amibake/amibake/internal/config"
)

// The shape CloudWatch expects for metric math: the expression's inputs
// as MetricStat queries with ReturnData false, the expression (its ids
// renamed to the request's) with ReturnData true and a Period; ids
// unique and valid across instances.
func TestInstanceQueriesShape(t *testing.T) {
	m := &config.CanaryMetric{
		Name: "error_rate", Expression: "100 * errors / (requests + errors)", Statistic: "Sum",
		Queries: []*config.CanaryQuery{
			{ID: "errors", Namespace: "Web", MetricName: "Errors", Dimensions: map[string]string{"Service": "web", "Az": "a"}},
			{ID: "requests", Namespace: "Web", MetricName: "Requests", Statistic: "SampleCount"},
		},
	}
	seen := map[string]bool{}
	for _, inst := range []struct{ qid, id string }{{"m1_baseline_0", "i-0aaa"}, {"m1_canary_0", "i-0bbb"}} {
		qs, err := instanceQueries(m, inst.qid, inst.id, "label", "Sum", 5*time.Minute)
		require.NoError(t, err)
		require.Len(t, qs, 3)
		for _, q := range qs {
			id := aws.ToString(q.Id)
			assert.True(t, metricmath.IDPattern.MatchString(id), id)
			assert.False(t, seen[id], "ids unique in the request: %s", id)
			seen[id] = true
		}
		errs, reqs, expr := qs[0], qs[1], qs[2]
		assert.Equal(t, inst.qid+"_errors", aws.ToString(errs.Id))
		assert.False(t, aws.ToBool(errs.ReturnData))
		require.NotNil(t, errs.MetricStat)
		assert.Equal(t, "Sum", aws.ToString(errs.MetricStat.Stat), "the metric's statistic by default")
		assert.Equal(t, int32(300), aws.ToInt32(errs.MetricStat.Period))
		var dims []string
		for _, d := range errs.MetricStat.Metric.Dimensions {
			dims = append(dims, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
		}
		assert.Equal(t, []string{"InstanceId=" + inst.id, "Az=a", "Service=web"}, dims)
		assert.Nil(t, errs.Expression)
		assert.Equal(t, "SampleCount", aws.ToString(reqs.MetricStat.Stat))
		assert.Len(t, reqs.MetricStat.Metric.Dimensions, 1)

		assert.Equal(t, inst.qid, aws.ToString(expr.Id))
		assert.True(t, aws.ToBool(expr.ReturnData))
		assert.Nil(t, expr.MetricStat)
		assert.Equal(t, int32(300), aws.ToInt32(expr.Period))
		assert.Equal(t, "100 * "+inst.qid+"_errors / ("+inst.qid+"_requests + "+inst.qid+"_errors)", aws.ToString(expr.Expression))
	}

	// A plain metric: one MetricStat query, returned.
	plain := &config.CanaryMetric{Namespace: "Web", MetricName: "Latency"}
	qs, err := instanceQueries(plain, "m0_canary_0", "i-0ccc", "canary i-0ccc", "p90", time.Minute)
	require.NoError(t, err)
	require.Len(t, qs, 1)
	assert.Nil(t, qs[0].ReturnData)
	assert.Equal(t, "p90", aws.ToString(qs[0].MetricStat.Stat))
}
