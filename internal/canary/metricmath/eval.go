package metricmath

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Series is one time series: ascending, unique timestamps.
type Series struct {
	T []time.Time
	V []float64
}

// Kind of a Value.
type Kind int

const (
	// Scalar is a single number.
	Scalar Kind = iota
	// Single is one time series.
	Single
	// Multi is an array of time series.
	Multi
)

// Value is what an expression evaluates to.
type Value struct {
	Kind Kind
	Num  float64  // Scalar
	List []Series // Single: one; Multi: any number
}

// ScalarValue, SeriesValue: constructors.
func ScalarValue(v float64) Value { return Value{Kind: Scalar, Num: v} }

// SeriesValue wraps one series.
func SeriesValue(s Series) Value { return Value{Kind: Single, List: []Series{s}} }

// Env is what Eval reads: the query ids' values and the request's
// period grid (every period start in the window, ascending), which FILL
// fills and a scalar result spans.
type Env struct {
	Grid []time.Time
	// Lookup returns an id's value; an error (an unknown id, a cycle)
	// stops the evaluation.
	Lookup func(id string) (Value, error)
}

// Eval evaluates n. Points whose value is not finite (a division by zero)
// are dropped, as CloudWatch drops them.
func Eval(n Node, env Env) (Value, error) {
	switch n := n.(type) {
	case *Num:
		return ScalarValue(n.Val), nil
	case *Ref:
		if env.Lookup == nil {
			return Value{}, errAt(n.At, "unknown id %s", n.ID)
		}
		v, err := env.Lookup(n.ID)
		if err != nil {
			return Value{}, err
		}
		return v, nil
	case *Keyword:
		return Value{}, errAt(n.At, "%s is only a FILL mode", n.Name)
	case *Unary:
		x, err := Eval(n.X, env)
		if err != nil {
			return Value{}, err
		}
		return mapValue(x, func(v float64) float64 { return -v }), nil
	case *Binary:
		x, err := Eval(n.X, env)
		if err != nil {
			return Value{}, err
		}
		y, err := Eval(n.Y, env)
		if err != nil {
			return Value{}, err
		}
		return binary(n, x, y)
	case *Array:
		out := Value{Kind: Multi}
		for _, e := range n.Elems {
			v, err := Eval(e, env)
			if err != nil {
				return Value{}, err
			}
			if v.Kind == Scalar {
				return Value{}, errAt(e.Pos(), "an array holds time series, not numbers")
			}
			out.List = append(out.List, v.List...)
		}
		return out, nil
	case *Call:
		return call(n, env)
	}
	return Value{}, fmt.Errorf("metricmath: unknown node %T", n)
}

func apply(op byte, a, b float64) float64 {
	switch op {
	case '+':
		return a + b
	case '-':
		return a - b
	case '*':
		return a * b
	case '/':
		return a / b // ±Inf or NaN on zero: dropped by clean
	case '^':
		return math.Pow(a, b)
	}
	return math.NaN()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// clean drops the points that are not finite.
func clean(s Series) Series {
	out := Series{T: make([]time.Time, 0, len(s.T)), V: make([]float64, 0, len(s.V))}
	for i, v := range s.V {
		if finite(v) {
			out.T = append(out.T, s.T[i])
			out.V = append(out.V, v)
		}
	}
	return out
}

func mapValue(x Value, f func(float64) float64) Value {
	if x.Kind == Scalar {
		return ScalarValue(f(x.Num))
	}
	out := Value{Kind: x.Kind}
	for _, s := range x.List {
		m := Series{T: s.T, V: make([]float64, len(s.V))}
		for i, v := range s.V {
			m.V[i] = f(v)
		}
		out.List = append(out.List, clean(m))
	}
	return out
}

// combine applies op at the timestamps both series have (series are
// aligned by period, so equal timestamps are the same period).
func combine(op byte, a, b Series) Series {
	var out Series
	for i, j := 0, 0; i < len(a.T) && j < len(b.T); {
		switch {
		case a.T[i].Before(b.T[j]):
			i++
		case b.T[j].Before(a.T[i]):
			j++
		default:
			out.T = append(out.T, a.T[i])
			out.V = append(out.V, apply(op, a.V[i], b.V[j]))
			i++
			j++
		}
	}
	return clean(out)
}

func binary(n *Binary, x, y Value) (Value, error) {
	switch {
	case x.Kind == Scalar && y.Kind == Scalar:
		return ScalarValue(apply(n.Op, x.Num, y.Num)), nil
	case x.Kind == Scalar:
		return mapValue(y, func(v float64) float64 { return apply(n.Op, x.Num, v) }), nil
	case y.Kind == Scalar:
		return mapValue(x, func(v float64) float64 { return apply(n.Op, v, y.Num) }), nil
	case x.Kind == Single && y.Kind == Single:
		return SeriesValue(combine(n.Op, x.List[0], y.List[0])), nil
	case x.Kind == Single: // series op array: per element
		out := Value{Kind: Multi}
		for _, s := range y.List {
			out.List = append(out.List, combine(n.Op, x.List[0], s))
		}
		return out, nil
	case y.Kind == Single:
		out := Value{Kind: Multi}
		for _, s := range x.List {
			out.List = append(out.List, combine(n.Op, s, y.List[0]))
		}
		return out, nil
	}
	if len(x.List) != len(y.List) {
		return Value{}, errAt(n.At, "%q between arrays of %d and %d time series", string(n.Op), len(x.List), len(y.List))
	}
	out := Value{Kind: Multi}
	for i := range x.List {
		out.List = append(out.List, combine(n.Op, x.List[i], y.List[i]))
	}
	return out, nil
}

func aggregate(fn string, vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	r := vs[0]
	if fn == "SUM" || fn == "AVG" {
		r = 0
	}
	for i, v := range vs {
		switch fn {
		case "SUM", "AVG":
			r += v
		case "MIN":
			if i == 0 || v < r {
				r = v
			}
		case "MAX":
			if i == 0 || v > r {
				r = v
			}
		}
	}
	if fn == "AVG" {
		r /= float64(len(vs))
	}
	return r
}

func call(n *Call, env Env) (Value, error) {
	x, err := Eval(n.Args[0], env)
	if err != nil {
		return Value{}, err
	}
	switch n.Fn {
	case "ABS":
		return mapValue(x, math.Abs), nil
	case "SUM", "AVG", "MIN", "MAX":
		switch x.Kind {
		case Scalar:
			return x, nil
		case Single:
			// One series → one number over its points.
			return ScalarValue(aggregate(n.Fn, x.List[0].V)), nil
		}
		// An array → one series: at each timestamp, over the series that
		// have a point there.
		at := map[time.Time][]float64{}
		for _, s := range x.List {
			for i, t := range s.T {
				at[t] = append(at[t], s.V[i])
			}
		}
		var out Series
		for t := range at {
			out.T = append(out.T, t)
		}
		sort.Slice(out.T, func(i, j int) bool { return out.T[i].Before(out.T[j]) })
		for _, t := range out.T {
			out.V = append(out.V, aggregate(n.Fn, at[t]))
		}
		return SeriesValue(clean(out)), nil
	case "FILL":
		if x.Kind == Scalar {
			return Value{}, errAt(n.Args[0].Pos(), "FILL fills a time series, not a number")
		}
		fill, err := filler(n.Args[1], env)
		if err != nil {
			return Value{}, err
		}
		out := Value{Kind: x.Kind}
		for _, s := range x.List {
			out.List = append(out.List, clean(fill(s, env.Grid)))
		}
		return out, nil
	}
	return Value{}, errAt(n.At, "unknown function %s", n.Fn)
}

// filler returns how FILL's second argument fills a series' gaps on the
// grid.
func filler(arg Node, env Env) (func(s Series, grid []time.Time) Series, error) {
	if k, ok := arg.(*Keyword); ok {
		linear := k.Name == "LINEAR"
		return func(s Series, grid []time.Time) Series {
			if len(s.T) == 0 {
				return s
			}
			return onGrid(s, grid, func(t time.Time, prev, next int) float64 {
				switch {
				case prev < 0:
					return s.V[next]
				case next < 0 || !linear:
					return s.V[prev]
				}
				f := float64(t.Sub(s.T[prev])) / float64(s.T[next].Sub(s.T[prev]))
				return s.V[prev] + f*(s.V[next]-s.V[prev])
			})
		}, nil
	}
	v, err := Eval(arg, env)
	if err != nil {
		return nil, err
	}
	if v.Kind != Scalar {
		return nil, errAt(arg.Pos(), "FILL's value is a number, REPEAT or LINEAR")
	}
	return func(s Series, grid []time.Time) Series {
		return onGrid(s, grid, func(time.Time, int, int) float64 { return v.Num })
	}, nil
}

// onGrid returns s with a point at every grid timestamp: its own where it
// has one, else gap(t, index of the previous point or -1, index of the
// next point or -1).
func onGrid(s Series, grid []time.Time, gap func(t time.Time, prev, next int) float64) Series {
	have := make(map[time.Time]int, len(s.T))
	for i, t := range s.T {
		have[t] = i
	}
	all := append([]time.Time(nil), s.T...)
	for _, t := range grid {
		if _, ok := have[t]; !ok {
			all = append(all, t)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	out := Series{T: all, V: make([]float64, len(all))}
	for k, t := range all {
		if i, ok := have[t]; ok {
			out.V[k] = s.V[i]
			continue
		}
		next := sort.Search(len(s.T), func(i int) bool { return s.T[i].After(t) })
		prev := next - 1
		if next == len(s.T) {
			next = -1
		}
		out.V[k] = gap(t, prev, next)
	}
	return out
}

// Result turns a value into the series GetMetricData returns: a number
// spans the grid.
func Result(v Value, grid []time.Time) []Series {
	if v.Kind != Scalar {
		return v.List
	}
	if !finite(v.Num) {
		return []Series{{}}
	}
	s := Series{T: append([]time.Time(nil), grid...), V: make([]float64, len(grid))}
	for i := range s.V {
		s.V[i] = v.Num
	}
	return []Series{s}
}
