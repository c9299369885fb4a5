package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// daysRe matches a leading day count ("7d", "1d12h"): Go's time package has
// no unit larger than hours, but retention and patch ages are in days.
var daysRe = regexp.MustCompile(`^([0-9]+)d`)

// parseDuration parses every duration of the language: a Go duration
// ("90m", "1h30m", "720h") with an optional leading day count ("7d",
// "1d12h"). A day is 24h. Negative durations are rejected.
func parseDuration(s string) (time.Duration, error) {
	const hint = `use a number and a unit, like "90m", "12h" or "7d"`
	if s == "" {
		return 0, errors.New("empty duration: " + hint)
	}
	var total time.Duration
	rest := s
	if m := daysRe.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > int64(time.Duration(1<<62)/(24*time.Hour)) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		total = time.Duration(n) * 24 * time.Hour
		rest = s[len(m[0]):]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration: %s", s, hint)
		}
		if d < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		total += d
	}
	return total, nil
}
