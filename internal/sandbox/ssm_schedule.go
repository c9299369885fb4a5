package sandbox

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ssmSchedule is a parsed maintenance-window schedule: cron(…), rate(…) or
// at(…), as Systems Manager writes them.
type ssmSchedule struct {
	kind   string // cron | rate | at
	every  time.Duration
	once   time.Time
	cron   *cronSpec
	loc    *time.Location
	offset int // days after each cron occurrence (ScheduleOffset)
}

type cronSpec struct {
	minutes, hours, months []int
	dom                    []int // nil: any; -1 is L (last day)
	dow                    []int // 0=SUN; nil: any
	nth                    int   // dow#n, 0 when unset
	years                  []int // nil: any
	domAny, dowAny         bool
}

var (
	rateRE = regexp.MustCompile(`^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$`)
	atRE   = regexp.MustCompile(`^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$`)
)

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

// parseSSMSchedule reads a schedule expression in a time zone ("" = UTC).
func parseSSMSchedule(expr, tz string, offset int) (*ssmSchedule, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("unknown time zone %q", tz)
		}
		loc = l
	}
	expr = strings.TrimSpace(expr)
	s := &ssmSchedule{loc: loc, offset: offset}
	if m := rateRE.FindStringSubmatch(expr); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[m[2]]
		if n < 1 {
			return nil, fmt.Errorf("rate must be positive")
		}
		if offset != 0 {
			return nil, fmt.Errorf("ScheduleOffset is only supported with cron expressions")
		}
		s.kind, s.every = "rate", time.Duration(n)*unit
		return s, nil
	}
	if m := atRE.FindStringSubmatch(expr); m != nil {
		t, err := time.ParseInLocation("2006-01-02T15:04:05", m[1], loc)
		if err != nil {
			return nil, err
		}
		s.kind, s.once = "at", t
		return s, nil
	}
	if strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")") {
		c, err := parseCron(strings.TrimSuffix(strings.TrimPrefix(expr, "cron("), ")"))
		if err != nil {
			return nil, err
		}
		if offset < 0 || offset > 6 {
			return nil, fmt.Errorf("ScheduleOffset must be between 1 and 6")
		}
		s.kind, s.cron = "cron", c
		return s, nil
	}
	return nil, fmt.Errorf("schedule must be cron(...), rate(...) or at(...)")
}

func parseCron(body string) (*cronSpec, error) {
	f := strings.Fields(body)
	if len(f) == 5 {
		f = append(f, "*")
	}
	if len(f) != 6 {
		return nil, fmt.Errorf("cron needs six fields: minutes hours day-of-month month day-of-week year")
	}
	c := &cronSpec{}
	var err error
	if c.minutes, err = cronField(f[0], 0, 59, nil); err != nil {
		return nil, err
	}
	if c.hours, err = cronField(f[1], 0, 23, nil); err != nil {
		return nil, err
	}
	switch f[2] {
	case "?", "*":
		c.domAny = true
	case "L":
		c.dom = []int{-1}
	default:
		if c.dom, err = cronField(f[2], 1, 31, nil); err != nil {
			return nil, err
		}
	}
	if c.months, err = cronField(f[3], 1, 12, monthNames); err != nil {
		return nil, err
	}
	dow := f[4]
	switch {
	case dow == "?" || dow == "*":
		c.dowAny = true
	case strings.Contains(dow, "#"):
		parts := strings.SplitN(dow, "#", 2)
		d, err := cronField(parts[0], 1, 7, dayNames)
		if err != nil || len(d) != 1 {
			return nil, fmt.Errorf("bad day-of-week %q", dow)
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil || n < 1 || n > 5 {
			return nil, fmt.Errorf("bad day-of-week %q", dow)
		}
		c.dow, c.nth = []int{d[0] - 1}, n
	default:
		d, err := cronField(dow, 1, 7, dayNames)
		if err != nil {
			return nil, err
		}
		for _, x := range d {
			c.dow = append(c.dow, x-1)
		}
	}
	if f[2] != "?" && f[4] != "?" {
		return nil, fmt.Errorf("one of day-of-month and day-of-week must be '?'")
	}
	if f[5] != "*" {
		if c.years, err = cronField(f[5], 1970, 2199, nil); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// cronField expands "*", "a", "a-b", "a,b", "*/n", "a-b/n" with names.
func cronField(s string, lo, hi int, names map[string]int) ([]int, error) {
	set := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		step := 1
		if i := strings.IndexByte(part, '/'); i >= 0 {
			n, err := strconv.Atoi(part[i+1:])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad step in %q", s)
			}
			step, part = n, part[:i]
		}
		from, to := lo, hi
		switch {
		case part == "*":
		case strings.Contains(part, "-"):
			ab := strings.SplitN(part, "-", 2)
			a, err1 := cronValue(ab[0], names)
			b, err2 := cronValue(ab[1], names)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("bad range %q", part)
			}
			from, to = a, b
		default:
			v, err := cronValue(part, names)
			if err != nil {
				return nil, fmt.Errorf("bad value %q", part)
			}
			from = v
			if step == 1 {
				to = v
			}
		}
		if from < lo || to > hi || from > to {
			return nil, fmt.Errorf("value out of range in %q", s)
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	out := make([]int, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Ints(out)
	return out, nil
}

func cronValue(s string, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	return strconv.Atoi(s)
}

func intIn(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (c *cronSpec) dayMatches(d time.Time) bool {
	if !intIn(c.months, int(d.Month())) {
		return false
	}
	if c.years != nil && !intIn(c.years, d.Year()) {
		return false
	}
	if !c.domAny {
		if len(c.dom) == 1 && c.dom[0] == -1 {
			if d.AddDate(0, 0, 1).Month() == d.Month() {
				return false
			}
		} else if !intIn(c.dom, d.Day()) {
			return false
		}
	}
	if !c.dowAny {
		if !intIn(c.dow, int(d.Weekday())) {
			return false
		}
		if c.nth > 0 && (d.Day()-1)/7+1 != c.nth {
			return false
		}
	}
	return true
}

// next returns the first occurrence strictly after t (zero if none), with
// anchor the start of rate schedules.
func (s *ssmSchedule) next(t, anchor time.Time) time.Time {
	switch s.kind {
	case "rate":
		if t.Before(anchor) {
			return anchor.Add(s.every)
		}
		n := t.Sub(anchor)/s.every + 1
		return anchor.Add(n * s.every)
	case "at":
		if s.once.After(t) {
			return s.once.UTC()
		}
		return time.Time{}
	}
	// cron: walk days, then hours and minutes; the offset shifts each
	// occurrence by whole days, so search from t minus the offset.
	from := t.In(s.loc).AddDate(0, 0, -s.offset)
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, s.loc)
	for i := 0; i < 366*6; i++ {
		d := day.AddDate(0, 0, i)
		if !s.cron.dayMatches(d) {
			continue
		}
		for _, h := range s.cron.hours {
			for _, m := range s.cron.minutes {
				cand := time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, s.loc).AddDate(0, 0, s.offset)
				if cand.After(t) {
					return cand.UTC()
				}
			}
		}
	}
	return time.Time{}
}
