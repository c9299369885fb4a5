package metricmath

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

func at(minutes ...int) []time.Time {
	out := make([]time.Time, len(minutes))
	for i, m := range minutes {
		out[i] = t0.Add(time.Duration(m) * time.Minute)
	}
	return out
}

func ser(minutes []int, vs ...float64) Series { return Series{T: at(minutes...), V: vs} }

// fixture: a (0..3), b with a gap at 2 and a zero at 3, c (0..1).
func env() Env {
	vals := map[string]Value{
		"a":      SeriesValue(ser([]int{0, 1, 2, 3}, 1, 2, 3, 4)),
		"b":      SeriesValue(ser([]int{0, 1, 3}, 10, 20, 0)),
		"c":      SeriesValue(ser([]int{0, 1}, -5, 5)),
		"errors": SeriesValue(ser([]int{0, 1, 2}, 1, 3, 0)),
		"reqs":   SeriesValue(ser([]int{0, 1, 2}, 100, 300, 0)),
	}
	return Env{
		Grid: at(0, 1, 2, 3),
		Lookup: func(id string) (Value, error) {
			v, ok := vals[id]
			if !ok {
				return Value{}, fmt.Errorf("unknown id %s", id)
			}
			return v, nil
		},
	}
}

func TestEval(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want Value
	}{
		{"1 + 2 * 3", ScalarValue(7)},
		{"(1 + 2) * 3", ScalarValue(9)},
		{"-2^2", ScalarValue(-4)},
		{"2^3^2", ScalarValue(512)},
		{"10 / 4 - -1", ScalarValue(3.5)},
		{"1.5e2 + .5", ScalarValue(150.5)},
		{"a * 2", SeriesValue(ser([]int{0, 1, 2, 3}, 2, 4, 6, 8))},
		{"-a", SeriesValue(ser([]int{0, 1, 2, 3}, -1, -2, -3, -4))},
		// Series with series: the timestamps both have.
		{"a + b", SeriesValue(ser([]int{0, 1, 3}, 11, 22, 4))},
		// Division by zero drops the point (b is 0 at minute 3).
		{"a / b", SeriesValue(ser([]int{0, 1}, 0.1, 0.1))},
		{"100 * errors / reqs", SeriesValue(ser([]int{0, 1}, 1, 1))},
		{"1 / (a - a)", SeriesValue(Series{T: []time.Time{}, V: []float64{}})},
		{"ABS(c)", SeriesValue(ser([]int{0, 1}, 5, 5))},
		{"ABS(-3)", ScalarValue(3)},
		{"SUM(a)", ScalarValue(10)},
		{"AVG(a)", ScalarValue(2.5)},
		{"MIN(a)", ScalarValue(1)},
		{"MAX(a)", ScalarValue(4)},
		{"AVG(4)", ScalarValue(4)},
		{"a - AVG(a)", SeriesValue(ser([]int{0, 1, 2, 3}, -1.5, -0.5, 0.5, 1.5))},
		// Across an array: per timestamp, over the series with a point.
		{"SUM([a, b])", SeriesValue(ser([]int{0, 1, 2, 3}, 11, 22, 3, 4))},
		{"MAX([a, c])", SeriesValue(ser([]int{0, 1, 2, 3}, 1, 5, 3, 4))},
		{"MIN([a, c])", SeriesValue(ser([]int{0, 1, 2, 3}, -5, 2, 3, 4))},
		{"AVG([a, b])", SeriesValue(ser([]int{0, 1, 2, 3}, 5.5, 11, 3, 2))},
		{"[a, c] * 2", Value{Kind: Multi, List: []Series{ser([]int{0, 1, 2, 3}, 2, 4, 6, 8), ser([]int{0, 1}, -10, 10)}}},
		// FILL fills the grid.
		{"FILL(b, 7)", SeriesValue(ser([]int{0, 1, 2, 3}, 10, 20, 7, 0))},
		{"FILL(c, -1)", SeriesValue(ser([]int{0, 1, 2, 3}, -5, 5, -1, -1))},
		{"FILL(c, REPEAT)", SeriesValue(ser([]int{0, 1, 2, 3}, -5, 5, 5, 5))},
		{"FILL(b, LINEAR)", SeriesValue(ser([]int{0, 1, 2, 3}, 10, 20, 10, 0))},
		{"FILL(a / b, 0)", SeriesValue(ser([]int{0, 1, 2, 3}, 0.1, 0.1, 0, 0))},
		{"a + FILL(b, 0)", SeriesValue(ser([]int{0, 1, 2, 3}, 11, 22, 3, 4))},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			n, err := Parse(tc.expr)
			require.NoError(t, err)
			got, err := Eval(n, env())
			require.NoError(t, err)
			assert.Equal(t, tc.want.Kind, got.Kind)
			if tc.want.Kind == Scalar {
				assert.InDelta(t, tc.want.Num, got.Num, 1e-9)
				return
			}
			require.Len(t, got.List, len(tc.want.List))
			for i := range got.List {
				assert.Equal(t, tc.want.List[i].T, got.List[i].T, "timestamps of series %d", i)
				assert.InDeltaSlice(t, tc.want.List[i].V, got.List[i].V, 1e-9, "values of series %d", i)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		expr, msg string
		pos       int
	}{
		{"", "empty expression", 0},
		{"a +", "unexpected end of expression", 3},
		{"100 * (a / b", `expected ")"`, 12},
		{"a $ b", "unexpected character", 2},
		{"Errors / b", `"Errors" is not a valid id`, 0},
		{"a / 2b", "unexpected name b", 5},
		{"sum(a)", "did you mean SUM?", 0},
		{"PERCENTILE(a, 9)", "unknown function PERCENTILE", 0},
		{"FILL(a)", "FILL takes 2 argument(s), got 1", 0},
		{"ABS(REPEAT)", "only a FILL mode", 4},
		{"[a, b", `expected "," or "]"`, 5},
		{"a b", "unexpected name b", 2},
		{"()", `unexpected ")"`, 1},
		{strings.Repeat("a+", 1024) + "a", "longer than 2048", 2048},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Parse(tc.expr)
			var e *Error
			require.True(t, errors.As(err, &e), "%v", err)
			assert.Contains(t, e.Msg, tc.msg)
			assert.Equal(t, tc.pos, e.Pos, e.Error())
		})
	}
}

func TestEvalErrors(t *testing.T) {
	for expr, msg := range map[string]string{
		"a + nope":      "unknown id nope",
		"FILL(3, 0)":    "not a number",
		"FILL(a, b)":    "FILL's value is a number",
		"[a, 1]":        "not numbers",
		"[a, b] + [a]":  "arrays of 2 and 1",
		"SUM([a]) + zz": "unknown id zz",
	} {
		n, err := Parse(expr)
		require.NoError(t, err, expr)
		_, err = Eval(n, env())
		assert.ErrorContains(t, err, msg, expr)
	}
}

func TestRefsAndRename(t *testing.T) {
	n, err := Parse("100 * FILL(errors, 0) / (requests + errors)")
	require.NoError(t, err)
	var ids []string
	for _, r := range Refs(n) {
		ids = append(ids, fmt.Sprintf("%s@%d", r.ID, r.At))
	}
	assert.Equal(t, []string{"errors@11", "requests@25", "errors@36"}, ids)

	got, err := Rename("100 * FILL(errors, 0) / (requests + errors)", func(id string) string { return id + "_canary_0" })
	require.NoError(t, err)
	assert.Equal(t, "100 * FILL(errors_canary_0, 0) / (requests_canary_0 + errors_canary_0)", got)
	_, err = Rename("a +", func(string) string { return "" })
	assert.Error(t, err)
}

func TestResult(t *testing.T) {
	grid := at(0, 1)
	assert.Equal(t, []Series{{T: grid, V: []float64{2, 2}}}, Result(ScalarValue(2), grid))
	assert.Equal(t, []Series{{}}, Result(ScalarValue(math.Inf(1)), grid), "1/0: no points")
	s := ser([]int{1}, 3)
	assert.Equal(t, []Series{s}, Result(SeriesValue(s), grid))
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"100 * errors / requests", "FILL(a, REPEAT)", "-[a,b]^2", "SUM([a, b]) / 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Pos < 0 || e.Pos > len(src) {
				t.Fatalf("error %v without a position in %q", err, src)
			}
			return
		}
		// Whatever parses evaluates without panicking.
		_, _ = Eval(n, env())
	})
}
