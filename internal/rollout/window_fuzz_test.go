package rollout

import (
	"testing"
	"time"
)

// FuzzInWindow: any window string and instant; no panic, and an accepted
// window answers consistently: inside means the next opening is the instant
// itself, outside means an opening within the coming week that is inside.
func FuzzInWindow(f *testing.F) {
	for _, w := range []string{"sun-02:00-04:00", "sat-23:00-01:00", "mon-00:00-00:00", "fri-12:30-12:29", "tue-9:5-10:0", "xyz-1:00-2:00", "sun-02:00", "wed--1:00-02:00"} {
		f.Add(w, int64(1_795_000_000))
	}
	f.Fuzz(func(t *testing.T, window string, unix int64) {
		// Keep the instant in years time.Time handles without overflow.
		at := time.Unix(unix%(1<<40), 0).UTC()
		in, next, err := InWindow(window, at)
		if err != nil {
			if in || !next.IsZero() {
				t.Fatalf("%q: an error with in=%v next=%v", window, in, next)
			}
			return
		}
		if in {
			if !next.Equal(at) {
				t.Fatalf("%q at %s: inside, yet next opening %s", window, at, next)
			}
			return
		}
		if !next.After(at) || next.Sub(at) > 7*24*time.Hour {
			t.Fatalf("%q at %s: outside, next opening %s is not within the coming week", window, at, next)
		}
		if in2, _, err := InWindow(window, next); err != nil || !in2 {
			t.Fatalf("%q: the next opening %s is not inside the window (err %v)", window, next, err)
		}
		if in2, _, _ := InWindow(window, next.Add(-time.Second)); in2 && next.Sub(at) > time.Second {
			t.Fatalf("%q: a second before the next opening %s is already inside", window, next)
		}
	})
}
