// Package canary judges a new AMI by its metrics: canary instances from the
// new image beside baseline instances from the current one, each metric's
// samples compared with a two-sided Mann-Whitney U test plus a tolerance,
// a verdict per metric and an overall score.
package canary

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Summary describes one sample.
type Summary struct {
	N      int     `json:"n"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
}

// Summarize returns p50, p90 (linear interpolation between order
// statistics, as numpy's default), mean and sample standard deviation.
func Summarize(xs []float64) Summary {
	s := Summary{N: len(xs)}
	if len(xs) == 0 {
		return s
	}
	sorted := append([]float64(nil), xs...)
	sort.Float64s(sorted)
	s.P50 = Quantile(sorted, 0.5)
	s.P90 = Quantile(sorted, 0.9)
	var sum float64
	for _, x := range xs {
		sum += x
	}
	s.Mean = sum / float64(len(xs))
	if len(xs) > 1 {
		var ss float64
		for _, x := range xs {
			d := x - s.Mean
			ss += d * d
		}
		s.StdDev = math.Sqrt(ss / float64(len(xs)-1))
	}
	return s
}

// Quantile of an ascending sample, q in [0,1], linear interpolation.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	if lo == hi {
		return sorted[lo]
	}
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// MWMethod says how a Mann-Whitney p-value was computed.
type MWMethod string

// Methods.
const (
	MWExact      MWMethod = "exact"
	MWAsymptotic MWMethod = "asymptotic"
)

// MWResult is a two-sided Mann-Whitney U test result. U is the statistic of
// the first sample (scipy.stats.mannwhitneyu's convention).
type MWResult struct {
	U      float64  `json:"u"`
	P      float64  `json:"p"`
	Method MWMethod `json:"method"`
}

// exactLimit: below it (both samples, no ties) the exact null distribution
// is used; above it, the normal approximation with tie and continuity
// correction.
const exactLimit = 20

// MannWhitneyU runs the two-sided test of x against y. Samples of at most
// 20 each without ties use the exact distribution of U; otherwise the
// normal approximation with tie correction and continuity correction.
func MannWhitneyU(x, y []float64) (MWResult, error) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return MWResult{}, fmt.Errorf("mann-whitney: empty sample (n1=%d, n2=%d)", n1, n2)
	}
	ranks, tieTerm := rank(append(append([]float64(nil), x...), y...))
	var r1 float64
	for i := 0; i < n1; i++ {
		r1 += ranks[i]
	}
	u1 := r1 - float64(n1*(n1+1))/2
	res := MWResult{U: u1}
	u := math.Max(u1, float64(n1*n2)-u1)
	if tieTerm == 0 && n1 <= exactLimit && n2 <= exactLimit {
		res.Method = MWExact
		res.P = math.Min(1, 2*exactSF(int(math.Round(u)), n1, n2))
		return res, nil
	}
	res.Method = MWAsymptotic
	n := float64(n1 + n2)
	mu := float64(n1*n2) / 2
	sigma := math.Sqrt(float64(n1*n2) / 12 * ((n + 1) - tieTerm/(n*(n-1))))
	if sigma == 0 {
		res.P = 1
		return res, nil
	}
	z := (u - mu - 0.5) / sigma
	res.P = math.Min(1, 2*normalSF(z))
	return res, nil
}

// rank returns average ranks (1-based) and Σ(t³−t) over tie groups.
func rank(v []float64) ([]float64, float64) {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	ranks := make([]float64, len(v))
	var tie float64
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = avg
		}
		if t := float64(j - i + 1); t > 1 {
			tie += t*t*t - t
		}
		i = j + 1
	}
	return ranks, tie
}

// exactSF is P(U >= u) under the null for samples of n1 and n2 without ties.
func exactSF(u, n1, n2 int) float64 {
	counts := exactCounts(n1, n2)
	var total, tail float64
	for k, c := range counts {
		total += c
		if k >= u {
			tail += c
		}
	}
	return tail / total
}

// exactCounts[k] is the number of arrangements of n1 and n2 observations
// whose U equals k: f(m,n) = f(m-1,n) shifted by n + f(m,n-1).
func exactCounts(n1, n2 int) []float64 {
	// f[m][n] as slices of counts over u.
	prev := make([][]float64, n2+1) // m-1 row
	for n := 0; n <= n2; n++ {
		prev[n] = []float64{1} // m=0: only U=0
	}
	for m := 1; m <= n1; m++ {
		cur := make([][]float64, n2+1)
		cur[0] = []float64{1}
		for n := 1; n <= n2; n++ {
			out := make([]float64, m*n+1)
			for k, c := range prev[n] { // last is from x: adds n
				out[k+n] += c
			}
			for k, c := range cur[n-1] { // last is from y: adds 0
				out[k] += c
			}
			cur[n] = out
		}
		prev = cur
	}
	return prev[n2]
}

func normalSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// Direction of a metric.
const (
	LowerIsBetter  = "lower-is-better"
	HigherIsBetter = "higher-is-better"
)

// Verdict of a metric or of the whole analysis.
type Verdict string

// Verdicts, from best to worst.
const (
	Pass     Verdict = "pass"
	Marginal Verdict = "marginal"
	Fail     Verdict = "fail"
)

// Alpha is the significance level.
const Alpha = 0.05

// ParseTolerance reads "10%" or "0.1" as a fraction.
func ParseTolerance(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0.1, nil
	}
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("tolerance %q: want a percentage like \"10%%\"", s)
	}
	if pct {
		v /= 100
	}
	return v, nil
}

// Judgement is one metric's comparison.
type Judgement struct {
	Baseline Summary  `json:"baseline"`
	Canary   Summary  `json:"canary"`
	Test     MWResult `json:"test"`
	// Change is how much worse the canary is than the baseline, as a
	// fraction of the baseline's median (negative: better).
	Change    float64 `json:"change"`
	Tolerance float64 `json:"tolerance"`
	Verdict   Verdict `json:"verdict"`
	Reason    string  `json:"reason"`
}

// Judge compares canary against baseline samples of one metric. The
// samples' medians are compared (each sample is a series of the metric's
// CloudWatch statistic per period, e.g. p90 latency):
//
//   - worse by no more than the tolerance → pass;
//   - significantly different (p < Alpha) and worse by more than twice the
//     tolerance → fail;
//   - significantly different and worse by more than the tolerance but at
//     most twice it → marginal;
//   - not significant but worse by more than twice the tolerance →
//     marginal (a large shift the data cannot confirm);
//   - otherwise pass.
func Judge(baseline, canary []float64, direction string, tolerance float64) (Judgement, error) {
	j := Judgement{Baseline: Summarize(baseline), Canary: Summarize(canary), Tolerance: tolerance}
	t, err := MannWhitneyU(canary, baseline)
	if err != nil {
		return j, err
	}
	j.Test = t
	b, c := j.Baseline.P50, j.Canary.P50
	den := math.Abs(b)
	if den == 0 {
		den = 1e-12
	}
	switch direction {
	case "", LowerIsBetter:
		j.Change = (c - b) / den
	case HigherIsBetter:
		j.Change = (b - c) / den
	default:
		return j, fmt.Errorf("direction %q: want %s or %s", direction, LowerIsBetter, HigherIsBetter)
	}
	sig := t.P < Alpha
	switch {
	case j.Change <= tolerance:
		j.Verdict, j.Reason = Pass, fmt.Sprintf("%+.1f%% within tolerance %.0f%%", 100*j.Change, 100*tolerance)
	case sig && j.Change > 2*tolerance:
		j.Verdict, j.Reason = Fail, fmt.Sprintf("%+.1f%% worse, beyond 2× tolerance %.0f%%, p=%.3g", 100*j.Change, 100*tolerance, t.P)
	case sig:
		j.Verdict, j.Reason = Marginal, fmt.Sprintf("%+.1f%% worse, beyond tolerance %.0f%%, p=%.3g", 100*j.Change, 100*tolerance, t.P)
	case j.Change > 2*tolerance:
		j.Verdict, j.Reason = Marginal, fmt.Sprintf("%+.1f%% worse but not significant (p=%.3g)", 100*j.Change, t.P)
	default:
		j.Verdict, j.Reason = Pass, fmt.Sprintf("%+.1f%% not significant (p=%.3g)", 100*j.Change, t.P)
	}
	return j, nil
}

// Overall combines verdicts: any fail → fail, else any marginal →
// marginal, else pass. Score is 100 × (passes + ½ marginals) / metrics.
func Overall(vs []Verdict) (Verdict, float64) {
	if len(vs) == 0 {
		return Pass, 100
	}
	out := Pass
	var pts float64
	for _, v := range vs {
		switch v {
		case Pass:
			pts++
		case Marginal:
			pts += 0.5
			if out == Pass {
				out = Marginal
			}
		case Fail:
			out = Fail
		}
	}
	return out, 100 * pts / float64(len(vs))
}
