package patch

import (
	"context"
	"fmt"
	"strings"

	"github.com/amibake/amibake/patch/scan"
)

// NonCompliantError says a freshly baked AMI still misses (or failed to
// install) patches its baseline approves: it must not be published.
type NonCompliantError struct {
	Layer   string
	AMI     string
	Missing []scan.Finding
	Failed  []scan.Finding
}

func (e *NonCompliantError) Error() string {
	var parts []string
	for _, f := range e.Missing {
		parts = append(parts, fmt.Sprintf("%s@%s (%s, missing)", f.Package, f.Version, orUnrated(f.Severity)))
	}
	for _, f := range e.Failed {
		parts = append(parts, fmt.Sprintf("%s@%s (%s, failed)", f.Package, f.Version, orUnrated(f.Severity)))
	}
	return fmt.Sprintf("%s (%s) is not compliant with its patch baseline: %d patch(es) still missing or failed: %s",
		e.AMI, e.Layer, len(e.Missing)+len(e.Failed), strings.Join(parts, ", "))
}

// ExitCode: a rebake whose result is not compliant fails the run.
func (e *NonCompliantError) ExitCode() int { return 1 }

func orUnrated(s string) string {
	if s == "" {
		return "unrated"
	}
	return s
}

// Verify scans a new AMI (one scan instance, always terminated) and
// returns its report, with a *NonCompliantError when any approved patch is
// missing or failed: the verify step of a patch rebake, before publishing.
func Verify(ctx context.Context, s *scan.Scanner, img scan.Image) (*scan.Report, error) {
	rep, err := s.ScanImage(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("verify %s (%s): %w", img.AMI, img.Layer, err)
	}
	if len(rep.Missing)+len(rep.Failed) > 0 {
		return rep, &NonCompliantError{Layer: img.Layer, AMI: img.AMI, Missing: rep.Missing, Failed: rep.Failed}
	}
	return rep, nil
}
