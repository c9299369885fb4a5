package canary

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestMannWhitneyUKnownValues checks the test against published values.
func TestMannWhitneyUKnownValues(t *testing.T) {
	// Sources:
	//  [scipy] scipy.stats.mannwhitneyu documentation, "Examples": ages of
	//          males [19,22,16,29,24] and females [20,11,17,12]; U1 = 17,
	//          exact two-sided p = 0.1111111111111111, asymptotic
	//          (continuity-corrected) p = 0.11134688653314041.
	//  [wiki]  Wikipedia, "Mann–Whitney U test", illustration of
	//          calculation methods: tortoise and hare finishing order
	//          T H H H H H T T T T T H; the two U statistics are 11 and 25.
	//  [table] Standard two-sided critical-value tables of U (e.g. Mann &
	//          Whitney 1947, Table I; reproduced in textbook appendices):
	//          n1 = n2 = 5 at α = .05 has critical U = 2, i.e. U = 2 has
	//          p = 2·4/252 = 0.0317 and U = 3 has p = 2·7/252 = 0.0556.
	tort := []float64{1, 7, 8, 9, 10, 11}
	hare := []float64{2, 3, 4, 5, 6, 12}
	cases := []struct {
		name  string
		x, y  []float64
		wantU float64
		wantP float64
		meth  MWMethod
	}{
		{"scipy exact", []float64{19, 22, 16, 29, 24}, []float64{20, 11, 17, 12}, 17, 0.1111111111111111, MWExact},
		// Finishing positions as values; U of x counts pairs with x > y, so
		// the two statistics are the published 11 and 25 (sum n1·n2 = 36).
		{"wiki hare", hare, tort, 11, -1, MWExact},
		{"wiki tortoise", tort, hare, 25, -1, MWExact},
		{"table n5 U=2", []float64{1, 2, 3, 5, 6}, []float64{4, 7, 8, 9, 10}, 2, 2 * 4.0 / 252, MWExact},
		{"table n5 U=3", []float64{1, 2, 3, 5, 7}, []float64{4, 6, 8, 9, 10}, 3, 2 * 7.0 / 252, MWExact},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := MannWhitneyU(tc.x, tc.y)
			if err != nil {
				t.Fatal(err)
			}
			if r.U != tc.wantU || r.Method != tc.meth {
				t.Fatalf("U = %v (%s), want %v (%s)", r.U, r.Method, tc.wantU, tc.meth)
			}
			if tc.wantP >= 0 && !near(r.P, tc.wantP, 1e-12) {
				t.Fatalf("p = %.17g, want %.17g", r.P, tc.wantP)
			}
		})
	}
}

// TestMannWhitneyUAsymptotic: the scipy example through the normal
// approximation (a tie forces it), and the tie-corrected formula.
func TestMannWhitneyUAsymptotic(t *testing.T) {
	// Without ties, large samples: scipy's asymptotic p for the docs example
	// equals ours when forced through the same formula.
	n1, n2 := 5.0, 4.0
	z := (17 - n1*n2/2 - 0.5) / math.Sqrt(n1*n2*(n1+n2+1)/12)
	if p := 2 * normalSF(z); !near(p, 0.11134688653314041, 1e-12) {
		t.Fatalf("asymptotic p = %.17g, want 0.11134688653314041 [scipy]", p)
	}
	// Ties: x = [1,2,2,3], y = [2,3,3,4,5] (n=9); ranks 1, 3,3,3, 6,6,6, 8, 9;
	// R1 = 1+3+3+6 = 13, U1 = 13-10 = 3; Σ(t³−t) = 24+24 = 48;
	// σ² = 20/12·(10 − 48/72) = 15.5556; z = (17−10−0.5)/σ (U = max = 17).
	r, err := MannWhitneyU([]float64{1, 2, 2, 3}, []float64{2, 3, 3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	want := 2 * normalSF((17-10-0.5)/math.Sqrt(20.0/12*(10-48.0/72)))
	if r.U != 3 || r.Method != MWAsymptotic || !near(r.P, want, 1e-12) {
		t.Fatalf("tied: %+v, want U=3 asymptotic p=%v", r, want)
	}
}

// TestExactMatchesEnumeration cross-checks the exact distribution against
// brute force over all arrangements.
func TestExactMatchesEnumeration(t *testing.T) {
	for _, nn := range [][2]int{{3, 4}, {5, 5}, {6, 3}, {7, 7}} {
		n1, n2 := nn[0], nn[1]
		n := n1 + n2
		brute := make([]float64, n1*n2+1)
		for mask := 0; mask < 1<<n; mask++ {
			if popcount(mask) != n1 {
				continue
			}
			u, ys := 0, 0
			for i := 0; i < n; i++ { // position i in increasing order
				if mask&(1<<i) != 0 {
					u += ys
				} else {
					ys++
				}
			}
			brute[u]++
		}
		got := exactCounts(n1, n2)
		for k := range brute {
			if got[k] != brute[k] {
				t.Fatalf("n=%v: count[%d] = %v, want %v", nn, k, got[k], brute[k])
			}
		}
	}
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	if s.P50 != 5.5 || !near(s.P90, 9.1, 1e-12) || s.Mean != 5.5 || !near(s.StdDev, 3.0276503540974917, 1e-12) {
		t.Fatalf("%+v", s)
	}
}

func TestJudge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sample := func(mean float64) []float64 {
		out := make([]float64, 30)
		for i := range out {
			out[i] = mean * (1 + 0.03*rng.NormFloat64())
		}
		return out
	}
	base := sample(100)
	cases := []struct {
		canary []float64
		dir    string
		want   Verdict
	}{
		{sample(100), LowerIsBetter, Pass},
		{sample(130), LowerIsBetter, Fail},
		{sample(115), LowerIsBetter, Marginal},
		{sample(80), LowerIsBetter, Pass},
		{sample(80), HigherIsBetter, Fail},
		{sample(130), HigherIsBetter, Pass},
	}
	for i, tc := range cases {
		j, err := Judge(base, tc.canary, tc.dir, 0.10)
		if err != nil {
			t.Fatal(err)
		}
		if j.Verdict != tc.want {
			t.Errorf("case %d: %s (%s), want %s", i, j.Verdict, j.Reason, tc.want)
		}
	}
	if _, err := Judge(base, base, "sideways", 0.1); err == nil {
		t.Fatal("bad direction accepted")
	}
	if v, s := Overall([]Verdict{Pass, Marginal}); v != Marginal || s != 75 {
		t.Fatalf("overall %v %v", v, s)
	}
	if v, _ := Overall([]Verdict{Pass, Fail, Marginal}); v != Fail {
		t.Fatalf("overall %v", v)
	}
	for in, want := range map[string]float64{"10%": 0.1, "0.05": 0.05, "": 0.1} {
		if got, err := ParseTolerance(in); err != nil || !near(got, want, 1e-12) {
			t.Fatalf("ParseTolerance(%q) = %v, %v", in, got, err)
		}
	}
}
