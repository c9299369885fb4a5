package lineage

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/awsapi"
)

// DefaultRevokeReason is the amibake:revoked value when no reason is given:
// the tag must never be empty, since an empty value reads as not revoked.
const DefaultRevokeReason = "revoked"

// DeprecateNow is the earliest deprecation time EC2 accepts at now: it
// rounds DeprecateAt to the minute and refuses the past, so the next whole
// minute is the soonest time that is never rejected, whatever the skew
// between this clock and AWS's (at most 60 seconds from now).
func DeprecateNow(now time.Time) time.Time {
	return now.UTC().Truncate(time.Minute).Add(time.Minute)
}

// RevokeAction is what revoke does, or would do, to one AMI.
type RevokeAction struct {
	AMI    string `json:"ami"`
	Region string `json:"region"`
	Layer  string `json:"layer"`
	// Tag is true when amibake:revoked is (to be) written; false when the
	// AMI already carries this reason.
	Tag bool `json:"tag"`
	// Deprecate is true when the deprecation time is (to be) moved to
	// DeprecateAt; false when the AMI is already deprecated by then.
	Deprecate     bool   `json:"deprecate"`
	DeprecateAt   string `json:"deprecate_at,omitempty"`
	AlreadyReason string `json:"already_revoked,omitempty"`
}

// PlanRevoke lists, region by region, what revoking images with reason at
// now takes. Images already revoked with this reason and deprecated are
// left alone; nothing is ever deregistered.
func PlanRevoke(images []Image, reason string, now time.Time) []RevokeAction {
	if reason == "" {
		reason = DefaultRevokeReason
	}
	at := DeprecateNow(now)
	var out []RevokeAction
	for _, img := range images {
		a := RevokeAction{AMI: img.ID, Region: img.Region, Layer: img.Layer, AlreadyReason: img.Revoked}
		if v, ok := img.Tags[TagRevoked]; !ok || v != reason {
			a.Tag = true
		}
		a.Deprecate = true
		if img.DeprecationTime != "" {
			if t, err := time.Parse(time.RFC3339, img.DeprecationTime); err == nil && !t.After(at) {
				a.Deprecate = false
			}
		}
		if a.Deprecate {
			a.DeprecateAt = at.Format(time.RFC3339)
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].AMI < out[j].AMI
	})
	return out
}

// ApplyRevoke carries the actions out: one CreateTags per region for
// every AMI to tag, then EnableImageDeprecation per AMI to deprecate.
func ApplyRevoke(ctx context.Context, ec2For func(region string) awsapi.EC2, actions []RevokeAction, reason string) error {
	if reason == "" {
		reason = DefaultRevokeReason
	}
	byRegion := map[string][]string{}
	var regions []string
	for _, a := range actions {
		if !a.Tag {
			continue
		}
		if _, ok := byRegion[a.Region]; !ok {
			regions = append(regions, a.Region)
		}
		byRegion[a.Region] = append(byRegion[a.Region], a.AMI)
	}
	for _, r := range regions {
		ids := byRegion[r]
		// CreateTags takes up to 1000 resources per call.
		for start := 0; start < len(ids); start += 1000 {
			end := min(start+1000, len(ids))
			_, err := ec2For(r).CreateTags(ctx, &ec2.CreateTagsInput{
				Resources: ids[start:end],
				Tags:      []ec2types.Tag{{Key: aws.String(TagRevoked), Value: aws.String(reason)}},
			})
			if err != nil {
				return fmt.Errorf("tag %d AMIs revoked in %s: %w", end-start, r, err)
			}
		}
	}
	// EC2 tags are eventually consistent: until the tag shows, promote and
	// plan would still take the AMI for a good one. Return only once every
	// tag written can be read back.
	for _, r := range regions {
		if err := waitTagged(ctx, ec2For(r), r, byRegion[r], reason); err != nil {
			return err
		}
	}
	for _, a := range actions {
		if !a.Deprecate {
			continue
		}
		at, err := time.Parse(time.RFC3339, a.DeprecateAt)
		if err != nil {
			return fmt.Errorf("deprecate %s: bad time %q: %w", a.AMI, a.DeprecateAt, err)
		}
		if _, err := ec2For(a.Region).EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{
			ImageId: aws.String(a.AMI), DeprecateAt: aws.Time(at),
		}); err != nil {
			return fmt.Errorf("deprecate %s in %s: %w", a.AMI, a.Region, err)
		}
	}
	return nil
}

// RevokeVisibleWithin bounds how long ApplyRevoke waits for its tags to
// show in DescribeImages (EC2's tag writes are eventually consistent).
var RevokeVisibleWithin = 60 * time.Second

// waitTagged polls DescribeImages until every id carries amibake:revoked =
// reason, or RevokeVisibleWithin passes.
func waitTagged(ctx context.Context, client awsapi.EC2, region string, ids []string, reason string) error {
	deadline := time.Now().Add(RevokeVisibleWithin)
	wait := 100 * time.Millisecond
	for {
		pending := map[string]bool{}
		for _, id := range ids {
			pending[id] = true
		}
		for start := 0; start < len(ids); start += 200 {
			end := min(start+200, len(ids))
			out, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: ids[start:end], IncludeDeprecated: aws.Bool(true)})
			if err != nil {
				return fmt.Errorf("read back the revoked tag in %s: %w", region, err)
			}
			for _, img := range out.Images {
				for _, tag := range img.Tags {
					if aws.ToString(tag.Key) == TagRevoked && aws.ToString(tag.Value) == reason {
						delete(pending, aws.ToString(img.ImageId))
					}
				}
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("tagged %d AMIs revoked in %s, but after %s EC2 still does not show the tag on %s; run revoke again to check",
				len(ids), region, RevokeVisibleWithin, strings.Join(sortedKeys(pending), ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
