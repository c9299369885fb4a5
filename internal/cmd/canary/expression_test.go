package canary_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/canary"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
)

// expressionMetric replaces the example fleet's error_rate metric with a
// metric-math one over two queries.
const expressionMetric = `    metric "error_rate" {
      expression = "100 * errors / requests"
      statistic  = "Sum"
      direction  = "lower-is-better"
      tolerance  = "10%"
      query "errors" {
        namespace = "Web"
        name      = "Errors"
      }
      query "requests" {
        namespace = "Web"
        name      = "Requests"
      }
    }
`

func withExpressionMetric(t *testing.T, w *world) {
	t.Helper()
	file := filepath.Join(w.dir, "fleets", "web.hcl")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	src := string(b)
	start := strings.Index(src, `    metric "error_rate" {`)
	require.GreaterOrEqual(t, start, 0, "the example fleet has an error_rate metric")
	end := start + strings.Index(src[start:], "    }\n") + len("    }\n")
	require.NoError(t, os.WriteFile(file, []byte(src[:start]+expressionMetric+src[end:]), 0o644))
}

// From HCL to verdict: the expression metric is read per instance and
// judged; an AMI with noisy errors fails on it.
func TestExpressionMetric(t *testing.T) {
	w := setup(t)
	withExpressionMetric(t, w)

	code, out, errOut := w.run(t)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "error_rate: 100 * errors / requests (2 queries per instance)")

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "-o", "json", "canary", "web", "--ami", w.new, "--no-wait", "--poll", "10ms", "--apply", "--report-dir", t.TempDir())
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	var rep canary.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Metrics, 2)
	assert.Equal(t, "100 * errors / requests", rep.Metrics[1].Expression)
	assert.Equal(t, canary.Pass, rep.Metrics[1].Verdict, rep.Metrics[1].Reason)

	resp, err := http.Post(w.sb.URL()+"/_sandbox/images/"+w.new+"/slow", "application/json", strings.NewReader(`{"metric":"Errors","factor":2,"noise":3}`))
	require.NoError(t, err)
	resp.Body.Close()
	code, out, errOut = w.run(t, "--apply", "--report-dir", t.TempDir())
	assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "error_rate (100 * errors / requests)")
	assert.Contains(t, errOut, "canary analysis of web: fail")
	assert.Equal(t, 0, w.live(t), "instances terminated")
}
