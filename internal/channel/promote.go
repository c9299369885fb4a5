package channel

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
)

// RefusedError says an AMI may not be promoted (or built on): missing, not
// available, or revoked.
type RefusedError struct {
	AMI    string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing to promote %s: %s", e.AMI, e.Reason)
}

// CheckPromotable returns the AMI's lineage when it exists in region, is
// available, and is not revoked; otherwise a *RefusedError.
func CheckPromotable(ctx context.Context, client awsapi.EC2, region, ami string) (lineage.Image, error) {
	found, err := lineage.DescribeIDs(ctx, client, region, []string{ami})
	if err != nil {
		return lineage.Image{}, err
	}
	img, ok := found[ami]
	switch {
	case !ok:
		return lineage.Image{}, &RefusedError{AMI: ami, Reason: fmt.Sprintf("it does not exist in %s (deregistered?)", region)}
	case img.IsRevoked():
		return img, &RefusedError{AMI: ami, Reason: fmt.Sprintf("it is revoked (%s)", img.Revoked)}
	case img.State != lineage.StateAvailable:
		return img, &RefusedError{AMI: ami, Reason: fmt.Sprintf("it is %s, not available", img.State)}
	}
	return img, nil
}

// Promoter moves a channel of one layer to the AMI another channel holds.
type Promoter struct {
	SSM   awsapi.SSM // the layer's build region
	EC2   awsapi.EC2 // the same region
	Paths lineage.Paths
	// Region is the layer's build region, where its channels live.
	Region string
	// CopyRegions are the layer's other regions: the AMI's copies there
	// (same fingerprint and build id) must be available too. EC2For
	// returns their clients; nil skips the check.
	CopyRegions []string
	EC2For      func(region string) awsapi.EC2
}

// checkCopies refuses an AMI whose copy in one of the layer's other
// regions is missing, not available or revoked: consumers there resolve
// the channel to that copy. One DescribeImages per region.
func (p *Promoter) checkCopies(ctx context.Context, img lineage.Image) error {
	if p.EC2For == nil || img.Fingerprint == "" || img.BuildID == "" {
		return nil
	}
	for _, r := range p.CopyRegions {
		if r == p.Region {
			continue
		}
		copies, err := lineage.DescribeIn(ctx, p.EC2For(r), r, []string{"self"}, "tag:"+lineage.TagBuildID, []string{img.BuildID},
			lineage.TagFilter(lineage.TagFingerprint, img.Fingerprint))
		if err != nil {
			return err
		}
		var ok bool
		for _, c := range copies {
			switch {
			case c.IsRevoked():
				return &RefusedError{AMI: img.ID, Reason: fmt.Sprintf("its copy %s in %s is revoked (%s)", c.ID, r, c.Revoked)}
			case c.State == lineage.StateAvailable:
				ok = true
			}
		}
		if !ok {
			return &RefusedError{AMI: img.ID, Reason: fmt.Sprintf("it has no available copy in %s yet", r)}
		}
	}
	return nil
}

// Promotion is what a promote did.
type Promotion struct {
	Layer       string `json:"layer"`
	Region      string `json:"region"`
	From        string `json:"from"`
	FromVersion int64  `json:"from_version"`
	To          string `json:"to"`
	Parameter   string `json:"parameter"`
	AMI         string `json:"ami"`
	// Previous is the AMI the target channel held before ("" when new).
	Previous string `json:"previous,omitempty"`
	// Changed is false when the target already held the AMI: nothing was written.
	Changed bool `json:"changed"`
	// Version is the target parameter's version after the promote.
	Version int64 `json:"version"`
}

// Promote points channel to at the AMI channel from holds, after checking
// the AMI is available and not revoked. Promoting the AMI the target
// already holds writes nothing. The caller holds the project lock.
func (p *Promoter) Promote(ctx context.Context, layer, from, to string) (*Promotion, error) {
	if err := lineage.ValidChannel(from); err != nil {
		return nil, err
	}
	if err := lineage.ValidChannel(to); err != nil {
		return nil, err
	}
	if from == to {
		return nil, fmt.Errorf("promote %s: --from and --to are both %q", layer, from)
	}
	src, err := Get(ctx, p.SSM, p.Paths.Channel(layer, from))
	if err != nil {
		return nil, fmt.Errorf("promote %s: %w", layer, err)
	}
	res := &Promotion{
		Layer: layer, Region: p.Region, From: from, FromVersion: src.Version, To: to,
		Parameter: p.Paths.Channel(layer, to), AMI: src.AMI,
	}
	img, err := CheckPromotable(ctx, p.EC2, p.Region, src.AMI)
	if err != nil {
		return nil, fmt.Errorf("promote %s %s→%s: %w", layer, from, to, err)
	}
	if img.Layer != "" && img.Layer != layer {
		return nil, fmt.Errorf("promote %s: channel %s holds %s, an AMI of layer %q", layer, from, src.AMI, img.Layer)
	}
	if err := p.checkCopies(ctx, img); err != nil {
		return nil, fmt.Errorf("promote %s %s→%s: %w", layer, from, to, err)
	}
	cur, err := Get(ctx, p.SSM, res.Parameter)
	var notSet *NotSetError
	switch {
	case err == nil:
		res.Previous = cur.AMI
		res.Version = cur.Version
		if cur.AMI == src.AMI {
			return res, nil
		}
	case errors.As(err, &notSet):
	default:
		return nil, fmt.Errorf("promote %s: %w", layer, err)
	}
	out, err := p.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name:        aws.String(res.Parameter),
		Value:       aws.String(src.AMI),
		Type:        ssmtypes.ParameterTypeString,
		DataType:    aws.String(DataType),
		Overwrite:   aws.Bool(true),
		Description: aws.String(fmt.Sprintf("amibake promote: %s from channel %s (version %d)", src.AMI, from, src.Version)),
	})
	if err != nil {
		return nil, fmt.Errorf("promote %s: write %s: %w", layer, res.Parameter, err)
	}
	res.Changed = true
	res.Version = out.Version
	return res, nil
}
