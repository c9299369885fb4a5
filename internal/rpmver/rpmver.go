// Package rpmver orders RPM versions exactly as rpm does; the inventory
// diff and the sandbox's package catalogue share it.
package rpmver

import (
	"strconv"
	"strings"
)

// EVR is an RPM version: [epoch:]version[-release].
type EVR struct {
	Epoch   int
	Version string
	Release string
}

// ParseEVR splits "epoch:version-release". A missing or non-numeric epoch
// is 0; the release is what follows the last '-'.
func ParseEVR(s string) EVR {
	var e EVR
	if i := strings.IndexByte(s, ':'); i >= 0 {
		if n, err := strconv.Atoi(s[:i]); err == nil {
			e.Epoch = n
			s = s[i+1:]
		}
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		e.Version, e.Release = s[:i], s[i+1:]
	} else {
		e.Version = s
	}
	return e
}

// String renders the EVR back, leaving out a zero epoch.
func (e EVR) String() string {
	s := e.Version
	if e.Release != "" {
		s += "-" + e.Release
	}
	if e.Epoch != 0 {
		s = strconv.Itoa(e.Epoch) + ":" + s
	}
	return s
}

// CompareVersions orders two RPM versions as rpm does: epoch numerically,
// then version and release with rpmvercmp. A release missing on either
// side is not compared (as rpm treats "1.0" against "1.0-3"). It returns
// -1, 0 or 1.
func CompareVersions(a, b string) int {
	ea, eb := ParseEVR(a), ParseEVR(b)
	switch {
	case ea.Epoch < eb.Epoch:
		return -1
	case ea.Epoch > eb.Epoch:
		return 1
	}
	if c := RPMVerCmp(ea.Version, eb.Version); c != 0 {
		return c
	}
	if ea.Release == "" || eb.Release == "" {
		return 0
	}
	return RPMVerCmp(ea.Release, eb.Release)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// RPMVerCmp is rpm's rpmvercmp (lib/rpmvercmp.c): the strings are split
// into runs of digits and runs of letters, separators dropped; runs are
// compared pairwise, numeric runs numerically (a numeric run beats an
// alphabetic one), alphabetic runs by bytes. '~' sorts before anything,
// even the end of the string (1.0~rc1 < 1.0); '^' sorts after the end of
// the string but before anything else (1.0 < 1.0^git1 < 1.0.1). When every
// run compared equal, the string with runs left is newer.
func RPMVerCmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		// Tilde: older than anything, including the end.
		if (i < len(a) && a[i] == '~') || (j < len(b) && b[j] == '~') {
			if i >= len(a) || a[i] != '~' {
				return 1
			}
			if j >= len(b) || b[j] != '~' {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		// Caret: newer than the end, older than any other run.
		if (i < len(a) && a[i] == '^') || (j < len(b) && b[j] == '^') {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if a[i] != '^' {
				return 1
			}
			if b[j] != '^' {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		numeric := isDigit(a[i])
		if numeric {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		ra, rb := a[si:i], b[sj:j]
		if rb == "" {
			// Different run types: numeric is newer.
			if numeric {
				return 1
			}
			return -1
		}
		if numeric {
			ra, rb = strings.TrimLeft(ra, "0"), strings.TrimLeft(rb, "0")
			if len(ra) != len(rb) {
				if len(ra) > len(rb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(ra, rb); c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	default:
		return 1
	}
}
