package config

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/amibake/amibake/internal/canary/metricmath"
)

var queryBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "namespace"},
		{Name: "name"},
		{Name: "statistic"},
		{Name: "dimensions"},
	},
}

const queryIDHint = `a CloudWatch query id starts with a lowercase letter, then letters, digits or "_", like "errors" or "req_5xx"`

// decodeMetricSource checks that a metric is either a CloudWatch metric
// (namespace + name) or metric math (expression + query blocks), and that
// the expression parses and names only declared queries — the mistakes
// CloudWatch would otherwise report after the instances were launched.
func decodeMetricSource(m *CanaryMetric, attrs hcl.Attributes, blocks hcl.Blocks, exprOK bool, sc *scope) hcl.Diagnostics {
	var diags hcl.Diagnostics
	exprAttr, hasExpr := attrs["expression"]
	_, hasNS := attrs["namespace"]
	_, hasName := attrs["name"]
	switch {
	case hasExpr && (hasNS || hasName):
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting metric source",
			Detail:   "A metric is either a CloudWatch metric (namespace and name) or metric math (expression with query blocks), not both. Move namespace and name into a query block the expression names.",
			Subject:  exprAttr.NameRange.Ptr(),
		})
	case !hasExpr && !(hasNS && hasName):
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incomplete metric",
			Detail:   `A metric needs namespace and name (namespace = "Web", name = "Latency"), or an expression over query blocks (expression = "100 * errors / requests").`,
			Subject:  m.DeclRange.Ptr(),
		})
	}

	declared := map[string]hcl.Range{}
	for _, b := range blocks {
		q, d := decodeQueryBlock(b, sc)
		diags = append(diags, d...)
		if first, dup := declared[q.ID]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate query id",
				Detail:   fmt.Sprintf("Query %q was already declared at %s; ids are unique within a metric.", q.ID, first),
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		declared[q.ID] = q.DeclRange
		m.Queries = append(m.Queries, q)
	}
	if !hasExpr {
		if len(blocks) > 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Query without expression",
				Detail:   `Query blocks feed a metric-math expression; add expression = "…" naming them, or remove them.`,
				Subject:  blocks[0].DefRange.Ptr(),
			})
		}
		return diags
	}
	if !exprOK || hasNS || hasName {
		return diags // reported already: a value that did not decode, or two sources
	}
	n, err := metricmath.Parse(m.Expression)
	if err != nil {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid metric expression",
			Detail:   fmt.Sprintf("%v. Metric math here: numbers, query ids, + - * / ^, parentheses, [a, b] and %s.", err, joinFunctions()),
			Subject:  subRange(exprAttr, m.Expression, errPos(err), 1).Ptr(),
		})
	}
	refs := metricmath.Refs(n)
	if len(refs) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Expression names no query",
			Detail:   `A canary compares per-instance values: the expression must name at least one query block (query "errors" { namespace = "Web", name = "Errors", statistic = "Sum" }).`,
			Subject:  exprAttr.Expr.Range().Ptr(),
		})
	}
	ids := keys(declared)
	reported := map[string]bool{}
	for _, r := range refs {
		if _, ok := declared[r.ID]; ok || reported[r.ID] {
			continue
		}
		reported[r.ID] = true
		detail := fmt.Sprintf("The expression names %q, but metric %q declares no query %q.", r.ID, m.Name, r.ID)
		if s := didYouMean(r.ID, ids); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		} else {
			detail += fmt.Sprintf(` Declare it: query %q { namespace = "…", name = "…" }.`, r.ID)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown query id",
			Detail:   detail,
			Subject:  subRange(exprAttr, m.Expression, r.At, len(r.ID)).Ptr(),
		})
	}
	if len(refs) == 0 || len(reported) > 0 {
		return diags
	}
	// Parsing is not all CloudWatch checks: an expression that mixes kinds
	// (an array of a series and a number) is refused only at GetMetricData,
	// after the canary instances ran. Evaluating it once over a one-point
	// series per query finds those here, at the character.
	if err := typeCheck(n); err != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid metric expression",
			Detail:   fmt.Sprintf("%v. CloudWatch would refuse it when the canary asks for the data, after its instances ran.", err),
			Subject:  subRange(exprAttr, m.Expression, errPos(err), 1).Ptr(),
		})
	}
	return diags
}

// errPos is the character a metricmath error points at (0, the start of
// the expression, for any other error).
func errPos(err error) int {
	var e *metricmath.Error
	if errors.As(err, &e) {
		return e.Pos
	}
	return 0
}

// typeCheck evaluates n with every id a one-point series.
func typeCheck(n metricmath.Node) error {
	t := time.Unix(0, 0).UTC()
	one := metricmath.SeriesValue(metricmath.Series{T: []time.Time{t}, V: []float64{1}})
	_, err := metricmath.Eval(n, metricmath.Env{Grid: []time.Time{t}, Lookup: func(string) (metricmath.Value, error) { return one, nil }})
	return err
}

func joinFunctions() string {
	fns := metricmath.Functions()
	s := ""
	for i, f := range fns {
		switch {
		case i == len(fns)-1:
			s += " and "
		case i > 0:
			s += ", "
		}
		s += f
	}
	return s
}

func decodeQueryBlock(block *hcl.Block, sc *scope) (*CanaryQuery, hcl.Diagnostics) {
	q := &CanaryQuery{ID: block.Labels[0], Dimensions: map[string]string{}, DeclRange: block.DefRange}
	var diags hcl.Diagnostics
	if !metricmath.IDPattern.MatchString(q.ID) || len(q.ID) > metricmath.MaxIDLength {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid query id",
			Detail:   fmt.Sprintf("%q is not a valid query id: %s.", q.ID, queryIDHint),
			Subject:  block.LabelRanges[0].Ptr(),
		})
	}
	content, d := block.Body.Content(queryBlockSchema)
	diags = append(diags, d...)
	attrs := content.Attributes
	diags = append(diags, sc.setString(attrs, "namespace", &q.Namespace)...)
	diags = append(diags, sc.setString(attrs, "name", &q.MetricName)...)
	diags = append(diags, sc.setString(attrs, "statistic", &q.Statistic)...)
	diags = append(diags, sc.setStringMap(attrs, "dimensions", &q.Dimensions)...)
	_, hasNS := attrs["namespace"]
	_, hasName := attrs["name"]
	if !hasNS || !hasName {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incomplete query",
			Detail:   fmt.Sprintf(`Query %q needs namespace and name: query %q { namespace = "Web", name = "Errors", statistic = "Sum" }.`, q.ID, q.ID),
			Subject:  block.DefRange.Ptr(),
		})
	}
	return q, diags
}

// subRange is the range of value[pos:pos+length] inside attr's string
// literal, so that a diagnostic points at the offending id or character;
// the whole expression when the source is not a plain one-line literal
// (escapes or interpolations shift the offsets).
func subRange(attr *hcl.Attribute, value string, pos, length int) hcl.Range {
	whole := attr.Expr.Range()
	t, ok := attr.Expr.(*hclsyntax.TemplateExpr)
	if !ok || len(t.Parts) != 1 {
		return whole
	}
	lit, ok := t.Parts[0].(*hclsyntax.LiteralValueExpr)
	if !ok {
		return whole
	}
	r := lit.SrcRange
	if r.End.Byte-r.Start.Byte != len(value) || r.Start.Line != r.End.Line || pos > len(value) {
		return whole
	}
	length = min(length, len(value)-pos)
	start := r.Start
	start.Byte += pos
	start.Column += utf8.RuneCountInString(value[:pos])
	end := start
	end.Byte += length
	end.Column += utf8.RuneCountInString(value[pos : pos+length])
	return hcl.Range{Filename: r.Filename, Start: start, End: end}
}
