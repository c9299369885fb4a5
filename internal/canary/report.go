package canary

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// PrintText writes the per-metric report: baseline vs canary p50, p90,
// mean and stddev, the test's p-value and the verdict.
func PrintText(w io.Writer, rep *Report) error {
	fmt.Fprintf(w, "Canary analysis of fleet %s: %s (canary %s) vs %s (baseline %s)\n",
		rep.Fleet, rep.AMI, strings.Join(rep.Canary, ","), rep.BaselineAMI, strings.Join(rep.Baseline, ","))
	fmt.Fprintf(w, "Window %s…%s (%s, interval %s)\n\n", rep.Start.Format("2006-01-02T15:04Z"), rep.End.Format("2006-01-02T15:04Z"), rep.Window, rep.Interval)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tGROUP\tN\tP50\tP90\tMEAN\tSTDDEV\tCHANGE\tP-VALUE\tVERDICT")
	for _, m := range rep.Metrics {
		label := fmt.Sprintf("%s (%s)", m.Name, m.Source())
		row := func(name, group string, s Summary, tail string) {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.4g\t%.4g\t%.4g\t%.3g\t%s\n", name, group, s.N, s.P50, s.P90, s.Mean, s.StdDev, tail)
		}
		row(label, "baseline", m.Baseline, "\t\t")
		row("", "canary", m.Canary, fmt.Sprintf("%+.1f%%\t%.3g (%s)\t%s", 100*m.Change, m.Test.P, m.Test.Method, strings.ToUpper(string(m.Verdict))))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintln(w)
	for _, m := range rep.Metrics {
		fmt.Fprintf(w, "  %s: %s — %s\n", m.Name, m.Verdict, m.Reason)
	}
	fmt.Fprintf(w, "\nVerdict: %s (score %.0f/100)\n", strings.ToUpper(string(rep.Verdict)), rep.Score)
	if rep.ReportFile != "" {
		fmt.Fprintf(w, "Report: %s\n", rep.ReportFile)
	}
	if rep.Chart != "" {
		fmt.Fprintf(w, "Chart:  %s\n", rep.Chart)
	}
	return nil
}

// Source is what the metric reads: "p90 Web/Latency", or its expression.
func (m *MetricReport) Source() string {
	if m.Expression != "" {
		return m.Expression
	}
	return fmt.Sprintf("%s %s/%s", m.Statistic, m.Namespace, m.MetricName)
}

// WriteFiles writes the JSON report and the SVG chart into dir and records
// their paths in rep.
func WriteFiles(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	base := fmt.Sprintf("canary-%s-%s-%s", rep.Fleet, rep.AMI, rep.End.Format("20060102T150405Z"))
	rep.Chart = filepath.Join(dir, base+".svg")
	rep.ReportFile = filepath.Join(dir, base+".json")
	if err := os.WriteFile(rep.Chart, []byte(SVG(rep)), 0o644); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(rep.ReportFile, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// SVG draws one panel per metric: canary (red) and baseline (blue) over
// the window, with the verdict in each panel's title.
func SVG(rep *Report) string {
	const (
		width  = 800
		panelH = 220
		padL   = 70
		padR   = 20
		padT   = 40
		padB   = 30
	)
	height := 40 + panelH*max(1, len(rep.Metrics))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n",
		html.EscapeString(fmt.Sprintf("Canary %s vs baseline %s — fleet %s: %s", rep.AMI, rep.BaselineAMI, rep.Fleet, strings.ToUpper(string(rep.Verdict)))))
	for i, m := range rep.Metrics {
		y0 := 40 + i*panelH
		plotW, plotH := float64(width-padL-padR), float64(panelH-padT-padB)
		fmt.Fprintf(&b, `<g transform="translate(0,%d)">`+"\n", y0)
		fmt.Fprintf(&b, `<text x="%d" y="20" font-weight="bold">%s</text>`+"\n", padL,
			html.EscapeString(fmt.Sprintf("%s — %s: %s (%+.1f%%, p=%.3g)", m.Name, m.Source(), m.Verdict, 100*m.Change, m.Test.P)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", padL, padT, plotW, plotH)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range append(append([]float64(nil), m.Series.Canary...), m.Series.Baseline...) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if math.IsInf(lo, 0) {
			lo, hi = 0, 1
		}
		if hi == lo {
			hi = lo + 1
		}
		span := hi - lo
		lo, hi = lo-0.05*span, hi+0.05*span
		n := len(m.Series.Timestamps)
		xAt := func(k int) float64 {
			if n <= 1 {
				return float64(padL) + plotW/2
			}
			return float64(padL) + plotW*float64(k)/float64(n-1)
		}
		yAt := func(v float64) float64 { return float64(padT) + plotH*(1-(v-lo)/(hi-lo)) }
		for _, tick := range []float64{lo, (lo + hi) / 2, hi} {
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%.4g</text>`+"\n", padL-6, yAt(tick)+4, tick)
			fmt.Fprintf(&b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", padL, float64(padL)+plotW, yAt(tick), yAt(tick))
		}
		if n > 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", padL, panelH-10, m.Series.Timestamps[0].Format("15:04Z"))
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#555">%s</text>`+"\n", width-padR, panelH-10, m.Series.Timestamps[n-1].Format("15:04Z"))
		}
		for _, s := range []struct {
			name, color string
			vals        []float64
		}{{"baseline", "#1f77b4", m.Series.Baseline}, {"canary", "#d62728", m.Series.Canary}} {
			pts := make([]string, 0, len(s.vals))
			for k, v := range s.vals {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(k), yAt(v)))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"><title>%s</title></polyline>`+"\n", s.color, strings.Join(pts, " "), s.name)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1f77b4">— baseline</text><text x="%d" y="%d" fill="#d62728">— canary</text>`+"\n", width-180, 20, width-90, 20)
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return b.String()
}
