package patch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/patch/baseline"
)

// LevelDigestLen is how many hex digits of the approved-set digest the
// amibake:patch-level tag keeps.
const LevelDigestLen = 12

// Level is a build's patch level: the SSM baseline that patches it and a
// digest of the advisories that baseline approves at build time. Its
// String is the amibake:patch-level tag, `<baseline-id>:<digest>`.
type Level struct {
	BaselineID   string
	BaselineName string
	// Approved are the approved advisory ids, sorted.
	Approved []string
	// Digest is sha256(baseline id, "\n", the sorted advisory ids joined
	// by "\n"), LevelDigestLen hex digits of it.
	Digest string
	// Basis is how Digest was computed: "approved" (the approved
	// advisories, listed) or "baseline-day" (SSM lists no advisories for
	// the operating system — DescribeAvailablePatches does not cover
	// Amazon Linux 2023 on AWS —: the approved set is then a function of
	// the baseline's rules and lists and of the day, so the digest covers
	// those instead).
	Basis string
}

// Bases of a patch level's digest.
const (
	BasisApproved    = "approved"
	BasisBaselineDay = "baseline-day"
)

func (l *Level) String() string { return l.BaselineID + ":" + l.Digest }

// ResolveLevel computes the patch level of a build patched with the
// project's patch_baseline name (the SSM baseline amibake-<project>-<name>
// that `patch apply` creates) at now: GetPatchBaseline for its rules and
// lists, DescribeAvailablePatches (OPERATING_SYSTEM = the baseline's) for
// the advisories released so far, and Patch Manager's approval applied to
// each (rejected wins, then approved_patches, then the global filters and
// the first rule whose filters match and whose approve_after_days have
// passed). DescribeEffectivePatchesForPatchBaseline would say it directly,
// but AWS answers it for Windows baselines only.
func ResolveLevel(ctx context.Context, client awsapi.SSM, project, name string, now time.Time) (*Level, error) {
	ssmName := baseline.Name(project, name)
	var id string
	var token *string
	for id == "" {
		out, err := client.DescribePatchBaselines(ctx, &ssm.DescribePatchBaselinesInput{
			Filters:    []ssmtypes.PatchOrchestratorFilter{{Key: aws.String("NAME_PREFIX"), Values: []string{ssmName}}, {Key: aws.String("OWNER"), Values: []string{"Self"}}},
			MaxResults: aws.Int32(100), NextToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("find patch baseline %s: %w", ssmName, err)
		}
		for _, b := range out.BaselineIdentities {
			if aws.ToString(b.BaselineName) == ssmName {
				id = aws.ToString(b.BaselineId)
			}
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if id == "" {
		return nil, &NoBaselineError{Name: ssmName}
	}
	b, err := client.GetPatchBaseline(ctx, &ssm.GetPatchBaselineInput{BaselineId: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("get patch baseline %s (%s): %w", ssmName, id, err)
	}
	advisories, err := availableAdvisories(ctx, client, string(b.OperatingSystem))
	var api smithy.APIError
	if err != nil && !(errors.As(err, &api) && api.ErrorCode() == "ValidationException") {
		return nil, fmt.Errorf("patch baseline %s: %w", ssmName, err)
	}
	if len(advisories) == 0 {
		return &Level{BaselineID: id, BaselineName: ssmName, Basis: BasisBaselineDay,
			Digest: baselineDayDigest(b, now)}, nil
	}
	lv := &Level{BaselineID: id, BaselineName: ssmName, Approved: []string{}, Basis: BasisApproved}
	for _, a := range advisories {
		if approves(b, a, now) {
			lv.Approved = append(lv.Approved, a.id)
		}
	}
	sort.Strings(lv.Approved)
	lv.Digest = levelDigest(id, lv.Approved)
	return lv, nil
}

// NoBaselineError: the SSM baseline of a patch_baseline block does not
// exist yet in the region.
type NoBaselineError struct{ Name string }

func (e *NoBaselineError) Error() string {
	return fmt.Sprintf("patch baseline %s does not exist (run `amibake patch apply --apply` first)", e.Name)
}

// LevelFunc is bake.Baker's PatchLevel for a project: the level of the
// layer's effective patch block's baseline, in the layer's build region,
// at now(); "" for a layer without one. With lenient set, a baseline that
// `patch apply` has not created yet gives "" too (plain bakes: the build
// still runs AWS-RunPatchBaseline, with whatever baseline its patch group
// gets); patch runs are strict.
func LevelFunc(cfg *config.Config, g *graph.Graph, ssmFor func(region string) awsapi.SSM, now func() time.Time, lenient bool) func(ctx context.Context, layer string) (string, error) {
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, layer string) (string, error) {
		p := EffectivePatch(g, layer)
		if p == nil || p.Baseline == "" {
			return "", nil
		}
		regions, err := channel.LayerRegions(cfg, layer)
		if err != nil {
			return "", err
		}
		lv, err := ResolveLevel(ctx, ssmFor(regions[0]), cfg.Project.Name, p.Baseline, now())
		var nb *NoBaselineError
		if lenient && errors.As(err, &nb) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return lv.String(), nil
	}
}

// baselineDayDigest digests what decides a baseline's approved set when
// the advisories cannot be listed: its id, rules, global filters,
// approved and rejected lists, and the UTC day.
func baselineDayDigest(b *ssm.GetPatchBaselineOutput, now time.Time) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", aws.ToString(b.BaselineId), now.UTC().Format("2006-01-02"))
	filters := func(fs []ssmtypes.PatchFilter) {
		for _, f := range fs {
			vs := append([]string(nil), f.Values...)
			sort.Strings(vs)
			fmt.Fprintf(h, "  %s=%s\n", f.Key, strings.Join(vs, ","))
		}
	}
	if b.GlobalFilters != nil {
		fmt.Fprintln(h, "global")
		filters(b.GlobalFilters.PatchFilters)
	}
	if b.ApprovalRules != nil {
		for _, r := range b.ApprovalRules.PatchRules {
			fmt.Fprintf(h, "rule %d %s %s\n", aws.ToInt32(r.ApproveAfterDays), aws.ToString(r.ApproveUntilDate), r.ComplianceLevel)
			if r.PatchFilterGroup != nil {
				filters(r.PatchFilterGroup.PatchFilters)
			}
		}
	}
	for _, l := range []struct {
		name string
		v    []string
	}{{"approved", b.ApprovedPatches}, {"rejected", b.RejectedPatches}} {
		vs := append([]string(nil), l.v...)
		sort.Strings(vs)
		fmt.Fprintf(h, "%s %s\n", l.name, strings.Join(vs, ","))
	}
	return hex.EncodeToString(h.Sum(nil))[:LevelDigestLen]
}

func levelDigest(baselineID string, approved []string) string {
	sum := sha256.Sum256([]byte(baselineID + "\n" + strings.Join(approved, "\n")))
	return hex.EncodeToString(sum[:])[:LevelDigestLen]
}

// advisory is one released advisory (DescribeAvailablePatches lists one
// row per package of it).
type advisory struct {
	id             string
	classification string
	severity       string
	released       time.Time
	cves           []string
	packages       []string // name and name-version-release
}

func availableAdvisories(ctx context.Context, client awsapi.SSM, os string) ([]*advisory, error) {
	var filters []ssmtypes.PatchOrchestratorFilter
	if os != "" {
		filters = []ssmtypes.PatchOrchestratorFilter{{Key: aws.String("OPERATING_SYSTEM"), Values: []string{os}}}
	}
	byID := map[string]*advisory{}
	var order []string
	var token *string
	for {
		out, err := client.DescribeAvailablePatches(ctx, &ssm.DescribeAvailablePatchesInput{Filters: filters, MaxResults: aws.Int32(100), NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("describe available patches: %w", err)
		}
		for _, p := range out.Patches {
			id := aws.ToString(p.Id)
			if len(p.AdvisoryIds) > 0 {
				id = p.AdvisoryIds[0]
			}
			a := byID[id]
			if a == nil {
				a = &advisory{id: id, classification: aws.ToString(p.Classification), severity: aws.ToString(p.Severity),
					released: aws.ToTime(p.ReleaseDate), cves: p.CVEIds}
				byID[id] = a
				order = append(order, id)
			}
			if n := aws.ToString(p.Name); n != "" {
				a.packages = append(a.packages, n)
				if v := aws.ToString(p.Version); v != "" {
					nv := n + "-" + v
					if r := aws.ToString(p.Release); r != "" {
						nv += "-" + r
					}
					a.packages = append(a.packages, nv)
				}
			}
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	res := make([]*advisory, 0, len(order))
	for _, id := range order {
		res = append(res, byID[id])
	}
	return res, nil
}

// approves is Patch Manager's approval of an advisory by a baseline at now.
func approves(b *ssm.GetPatchBaselineOutput, a *advisory, now time.Time) bool {
	if listMatches(b.RejectedPatches, a) {
		return false
	}
	if listMatches(b.ApprovedPatches, a) {
		return true
	}
	if b.GlobalFilters != nil && len(b.GlobalFilters.PatchFilters) > 0 && !filtersMatch(b.GlobalFilters.PatchFilters, a) {
		return false
	}
	if b.ApprovalRules == nil {
		return false
	}
	for _, r := range b.ApprovalRules.PatchRules {
		if r.PatchFilterGroup != nil && !filtersMatch(r.PatchFilterGroup.PatchFilters, a) {
			continue
		}
		switch {
		case r.ApproveAfterDays != nil:
			if a.released.Add(time.Duration(*r.ApproveAfterDays) * 24 * time.Hour).After(now) {
				continue
			}
		case aws.ToString(r.ApproveUntilDate) != "":
			until, err := time.Parse("2006-01-02", aws.ToString(r.ApproveUntilDate))
			if err != nil || a.released.After(until.Add(24*time.Hour-time.Second)) {
				continue
			}
		}
		return true
	}
	return false
}

func filtersMatch(fs []ssmtypes.PatchFilter, a *advisory) bool {
	for _, f := range fs {
		var have string
		switch f.Key {
		case ssmtypes.PatchFilterKeyClassification:
			have = a.classification
		case ssmtypes.PatchFilterKeySeverity:
			have = a.severity
		default:
			continue // PRODUCT and the rest: every advisory here is for the baseline's OS
		}
		ok := false
		for _, v := range f.Values {
			if v == "*" || strings.EqualFold(v, have) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// listMatches matches approved/rejected entries (advisory id, CVE id,
// package name or name-version, wildcards) against an advisory.
func listMatches(list []string, a *advisory) bool {
	match := func(pattern, s string) bool {
		ok, err := path.Match(pattern, s)
		return err == nil && ok
	}
	for _, e := range list {
		if match(e, a.id) {
			return true
		}
		for _, c := range a.cves {
			if e == c {
				return true
			}
		}
		for _, p := range a.packages {
			if match(e, p) || match(e, p+".*") {
				return true
			}
		}
	}
	return false
}
