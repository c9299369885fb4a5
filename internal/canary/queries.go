package canary

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/amibake/amibake/internal/canary/metricmath"
	"github.com/amibake/amibake/internal/config"
)

// maxQueries is CloudWatch's limit of MetricDataQueries per GetMetricData
// request; a metric is read in one request.
const maxQueries = 500

// validateExpression checks an expression metric before anything is
// launched: the decoder does the same for HCL, but a Fleet may be built
// in code.
func validateExpression(m *config.CanaryMetric, instances int) error {
	if len(m.Queries) == 0 {
		return errors.New("an expression metric needs at least one query block")
	}
	n, err := metricmath.Parse(m.Expression)
	if err != nil {
		return fmt.Errorf("expression %q: %w", m.Expression, err)
	}
	declared := map[string]bool{}
	for _, q := range m.Queries {
		if !metricmath.IDPattern.MatchString(q.ID) {
			return fmt.Errorf("query id %q: a CloudWatch id starts with a lowercase letter, then letters, digits or _", q.ID)
		}
		if q.Namespace == "" || q.MetricName == "" {
			return fmt.Errorf("query %s needs a namespace and a name", q.ID)
		}
		declared[q.ID] = true
	}
	for _, r := range metricmath.Refs(n) {
		if !declared[r.ID] {
			return fmt.Errorf("expression %q names %s, which is no query of the metric", m.Expression, r.ID)
		}
	}
	// Per instance: every query (hidden) plus the expression.
	if total := (len(m.Queries) + 1) * 2 * instances; total > maxQueries {
		return fmt.Errorf("%d queries for %d canary and %d baseline instances exceed GetMetricData's %d; use fewer instances or queries", total, instances, instances, maxQueries)
	}
	return nil
}

// instanceQueries are the GetMetricData queries of one metric for one
// instance, the result's id being qid. A plain metric is one MetricStat
// query. An expression metric is its queries as MetricStat queries with
// ReturnData false, ids prefixed with qid so that they are unique in the
// request, and the expression, its ids renamed to match, returning the
// instance's series under qid.
func instanceQueries(m *config.CanaryMetric, qid, instanceID, label, stat string, interval time.Duration) ([]cwtypes.MetricDataQuery, error) {
	period := aws.Int32(int32(interval / time.Second))
	if m.Expression == "" {
		return []cwtypes.MetricDataQuery{{
			Id: aws.String(qid), Label: aws.String(label),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(m.Namespace), MetricName: aws.String(m.MetricName), Dimensions: dimensions(instanceID, m.Dimensions)},
				Period: period, Stat: aws.String(stat),
			},
		}}, nil
	}
	sub := func(id string) string { return qid + "_" + id }
	var out []cwtypes.MetricDataQuery
	for _, q := range m.Queries {
		qstat := q.Statistic
		if qstat == "" {
			qstat = stat
		}
		out = append(out, cwtypes.MetricDataQuery{
			Id: aws.String(sub(q.ID)), ReturnData: aws.Bool(false),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(q.Namespace), MetricName: aws.String(q.MetricName), Dimensions: dimensions(instanceID, q.Dimensions)},
				Period: period, Stat: aws.String(qstat),
			},
		})
	}
	expr, err := metricmath.Rename(m.Expression, sub)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", m.Expression, err)
	}
	// Period on an expression query sets the granularity of its result
	// (CloudWatch ignores it for MetricStat queries).
	return append(out, cwtypes.MetricDataQuery{
		Id: aws.String(qid), Label: aws.String(label), Expression: aws.String(expr),
		Period: period, ReturnData: aws.Bool(true),
	}), nil
}

// dimensions: InstanceId first, then the configured ones by name.
func dimensions(instanceID string, extra map[string]string) []cwtypes.Dimension {
	dims := []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(instanceID)}}
	names := make([]string, 0, len(extra))
	for k := range extra {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		dims = append(dims, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(extra[k])})
	}
	return dims
}

// metricSources names what a metric reads, for an error message.
func metricSources(m *config.CanaryMetric) string {
	if m.Expression == "" {
		return m.Namespace + "/" + m.MetricName
	}
	var names []string
	for _, q := range m.Queries {
		names = append(names, q.Namespace+"/"+q.MetricName)
	}
	return strings.Join(names, " and ")
}
