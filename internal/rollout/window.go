package rollout

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// InWindow reports whether t (UTC) falls inside a maintenance window
// "DAY-HH:MM-HH:MM" (config validates the form). An end before the start
// runs past midnight into the next day. It also returns when the window
// next opens (t itself when inside).
func InWindow(window string, t time.Time) (bool, time.Time, error) {
	parts := strings.SplitN(window, "-", 3)
	if len(parts) != 3 {
		return false, time.Time{}, fmt.Errorf("maintenance window %q: want DAY-HH:MM-HH:MM", window)
	}
	day, ok := weekdays[parts[0]]
	if !ok {
		return false, time.Time{}, fmt.Errorf("maintenance window %q: unknown day %q", window, parts[0])
	}
	start, err := clock(parts[1])
	if err != nil {
		return false, time.Time{}, fmt.Errorf("maintenance window %q: %w", window, err)
	}
	end, err := clock(parts[2])
	if err != nil {
		return false, time.Time{}, fmt.Errorf("maintenance window %q: %w", window, err)
	}
	length := end - start
	if length <= 0 {
		length += 24 * time.Hour
	}
	t = t.UTC()
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	// The window that opened most recently on its weekday, then the next.
	back := (int(midnight.Weekday()) - int(day) + 7) % 7
	open := midnight.AddDate(0, 0, -back).Add(start)
	if open.After(t) {
		open = open.AddDate(0, 0, -7)
	}
	if t.Before(open.Add(length)) {
		return true, t, nil
	}
	return false, open.AddDate(0, 0, 7), nil
}

func clock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh > 23 || mm > 59 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}
