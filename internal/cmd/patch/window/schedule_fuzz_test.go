package window

import (
	"fmt"
	"testing"
)

// FuzzSchedule: any window string; no panic, and an accepted one becomes
// a cron SSM accepts (minute, hour, day), a duration of 1–24 hours and a
// cutoff that leaves time to start tasks.
func FuzzSchedule(f *testing.F) {
	for _, s := range []string{"sun-02:00-04:00", "sat-23:30-00:15", "mon-00:00-00:00", "fri-12:30-12:29", "tue-9:5-10:0", "xyz-1:00-2:00", "sun-02:00", "wed--1:00-02:00", "thu-+1:00-02:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		cron, duration, cutoff, err := Schedule(spec)
		if err != nil {
			return
		}
		if duration < 1 || duration > 24 {
			t.Fatalf("%q: duration %d hours", spec, duration)
		}
		if cutoff < 0 || cutoff >= duration {
			t.Fatalf("%q: cutoff %d of a %d-hour window", spec, cutoff, duration)
		}
		var m, h int
		var day string
		if n, err := fmt.Sscanf(cron, "cron(%d %d ? * %3s *)", &m, &h, &day); n != 3 || err != nil || m < 0 || m > 59 || h < 0 || h > 23 {
			t.Fatalf("%q: cron %q", spec, cron)
		}
	})
}
