package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func canaryFleet(metric string) string {
	return `fleet "web" {
  layer    = layer.linux
  strategy = "replace"
  asg      = ["web"]
  canary {
` + metric + `
  }
}
`
}

func TestCanaryExpressionMetric(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl":      minimalProject,
		"layers/linux.hcl": minimalLayer,
		"fleets/web.hcl": canaryFleet(`    metric "error_rate" {
      expression = "100 * FILL(errors, 0) / requests"
      statistic  = "Sum"
      tolerance  = "20%"
      query "errors" {
        namespace  = "Web"
        name       = "Errors"
        dimensions = { Service = "web" }
      }
      query "requests" {
        namespace = "Web"
        name      = "Requests"
        statistic = "SampleCount"
      }
    }`),
	})
	cfg, diags := Load(dir, LoadOptions{Now: testNow})
	require.False(t, diags.HasErrors(), "%v", diags)
	m := cfg.Fleets["web"].Canary.Metrics[0]
	assert.Equal(t, "100 * FILL(errors, 0) / requests", m.Expression)
	assert.Equal(t, "Sum", m.Statistic)
	require.Len(t, m.Queries, 2)
	assert.Equal(t, "errors", m.Queries[0].ID)
	assert.Equal(t, "Web", m.Queries[0].Namespace)
	assert.Equal(t, "Errors", m.Queries[0].MetricName)
	assert.Equal(t, map[string]string{"Service": "web"}, m.Queries[0].Dimensions)
	assert.Equal(t, "", m.Queries[0].Statistic, "the metric's statistic applies")
	assert.Equal(t, "SampleCount", m.Queries[1].Statistic)
	assert.Equal(t, 15, m.Queries[1].DeclRange.Start.Line)
}

func TestCanaryExpressionDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, metric string
		want         []string
	}{
		{"both", `    metric "m" {
      namespace  = "Web"
      name       = "Errors"
      expression = "errors"
    }`, []string{"error fleets/web.hcl:9:7: Conflicting metric source"}},
		{"neither", `    metric "m" {
      statistic = "Sum"
    }`, []string{"error fleets/web.hcl:6:5: Incomplete metric"}},
		{"unknown id points at the id", `    metric "m" {
      expression = "100 * errors / requets"
      query "errors" {
        namespace = "Web"
        name      = "Errors"
      }
      query "requests" {
        namespace = "Web"
        name      = "Requests"
      }
    }`, []string{"error fleets/web.hcl:7:36: Unknown query id"}},
		{"syntax points at the character", `    metric "m" {
      expression = "100 * (errors / 2"
      query "errors" {
        namespace = "Web"
        name      = "Errors"
      }
    }`, []string{"error fleets/web.hcl:7:38: Invalid metric expression"}},
		{"bad id, duplicate id, incomplete query", `    metric "m" {
      expression = "Errors + e2"
      query "Errors" {
        namespace = "Web"
        name      = "Errors"
      }
      query "e2" {
        namespace = "Web"
      }
      query "e2" {
        namespace = "Web"
        name      = "E"
      }
    }`, []string{
			"error fleets/web.hcl:12:7: Incomplete query",
			"error fleets/web.hcl:15:13: Duplicate query id",
			"error fleets/web.hcl:7:21: Invalid metric expression",
			"error fleets/web.hcl:8:13: Invalid query id",
		}},
		{"no query named", `    metric "m" {
      expression = "2 * 3"
    }`, []string{"error fleets/web.hcl:7:20: Expression names no query"}},
		{"queries without expression", `    metric "m" {
      namespace = "Web"
      name      = "Latency"
      query "x" {
        namespace = "Web"
        name      = "Errors"
      }
    }`, []string{"error fleets/web.hcl:9:7: Query without expression"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{
				"amibake.hcl":      minimalProject,
				"layers/linux.hcl": minimalLayer,
				"fleets/web.hcl":   canaryFleet(tc.metric),
			})
			_, diags := Load(dir, LoadOptions{Now: testNow})
			assert.Equal(t, sortedCopy(tc.want), render(diags))
			for _, d := range diags {
				assert.NotEmpty(t, d.Detail, d.Summary)
			}
		})
	}
}
