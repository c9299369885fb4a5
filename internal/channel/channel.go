// Package channel reads and moves a layer's channels: Parameter Store
// parameters <prefix>/<project>/layers/<layer>/<channel> holding an AMI id
// (data type aws:ec2:image) in the layer's build region. Every move is a
// new parameter version, so the parameter's history is the audit trail.
package channel

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
)

// DataType is the Parameter Store data type of every channel: AWS checks
// that the value is an AMI the account can see.
const DataType = "aws:ec2:image"

// LayerRegions returns the regions of a layer's AMIs, build region first:
// the layer's own regions, else the project's (the rule plan and bake use).
func LayerRegions(cfg *config.Config, layer string) ([]string, error) {
	l, ok := cfg.Layers[layer]
	if !ok {
		return nil, fmt.Errorf("unknown layer %q%s", layer, knownLayers(cfg))
	}
	if len(l.Regions) > 0 {
		return l.Regions, nil
	}
	if cfg.Project != nil && len(cfg.Project.Regions) > 0 {
		return cfg.Project.Regions, nil
	}
	return []string{"us-east-1"}, nil
}

// ProjectRegions returns every region any layer's AMIs live in: the
// project's regions in order, then any a layer adds.
func ProjectRegions(cfg *config.Config) []string {
	var out []string
	seen := map[string]bool{}
	add := func(rs []string) {
		for _, r := range rs {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	if cfg.Project != nil {
		add(cfg.Project.Regions)
	}
	names := make([]string, 0, len(cfg.Layers))
	for n := range cfg.Layers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		add(cfg.Layers[n].Regions)
	}
	if len(out) == 0 {
		out = []string{"us-east-1"}
	}
	return out
}

func knownLayers(cfg *config.Config) string {
	if len(cfg.Layers) == 0 {
		return ""
	}
	names := make([]string, 0, len(cfg.Layers))
	for n := range cfg.Layers {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Sprintf(" (layers: %v)", names)
}

// Paths returns the parameter paths of cfg's project.
func Paths(cfg *config.Config) lineage.Paths {
	return lineage.Paths{Prefix: cfg.Project.ParamPrefix, Project: cfg.Project.Name}
}

// NotSetError says a channel parameter does not exist.
type NotSetError struct{ Name string }

func (e *NotSetError) Error() string {
	return fmt.Sprintf("channel %s is not set (no parameter): bake the layer first, or promote into it", e.Name)
}

// Value is a channel's current version.
type Value struct {
	Name     string    `json:"name"`
	AMI      string    `json:"ami"`
	Version  int64     `json:"version"`
	Modified time.Time `json:"modified"`
}

// Get reads a channel; a missing one is *NotSetError.
func Get(ctx context.Context, client awsapi.SSM, name string) (*Value, error) {
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		return nil, &NotSetError{Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("read channel %s: %w", name, err)
	}
	p := out.Parameter
	return &Value{Name: name, AMI: aws.ToString(p.Value), Version: p.Version, Modified: aws.ToTime(p.LastModifiedDate)}, nil
}

// Version is one entry of a channel's history.
type Version struct {
	Version     int64     `json:"version"`
	AMI         string    `json:"ami"`
	When        time.Time `json:"when"`
	By          string    `json:"by"`
	Labels      []string  `json:"labels"`
	Description string    `json:"description,omitempty"`
	// State is the AMI's state now: available, pending, failed,
	// deregistered (gone) or revoked (tagged amibake:revoked).
	State   string `json:"state,omitempty"`
	Revoked string `json:"revoked,omitempty"`
	Current bool   `json:"current"`
}

// History reads every version of a channel, oldest first.
func History(ctx context.Context, client awsapi.SSM, name string) ([]Version, error) {
	var out []Version
	p := ssm.NewGetParameterHistoryPaginator(client, &ssm.GetParameterHistoryInput{Name: aws.String(name), MaxResults: aws.Int32(50)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var nf *ssmtypes.ParameterNotFound
		if errors.As(err, &nf) {
			return nil, &NotSetError{Name: name}
		}
		if err != nil {
			return nil, fmt.Errorf("history of channel %s: %w", name, err)
		}
		for _, h := range page.Parameters {
			labels := h.Labels
			if labels == nil {
				labels = []string{}
			}
			out = append(out, Version{
				Version: h.Version, AMI: aws.ToString(h.Value), When: aws.ToTime(h.LastModifiedDate),
				By: aws.ToString(h.LastModifiedUser), Labels: labels, Description: aws.ToString(h.Description),
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	if len(out) > 0 {
		out[len(out)-1].Current = true
	}
	return out, nil
}

// AnnotateStates fills each version's State with its AMI's state now,
// from one batched DescribeImages (per lineage.MaxFilterValues AMIs).
func AnnotateStates(ctx context.Context, client awsapi.EC2, region string, versions []Version) error {
	ids := make([]string, 0, len(versions))
	for _, v := range versions {
		ids = append(ids, v.AMI)
	}
	found, err := lineage.DescribeIDs(ctx, client, region, ids)
	if err != nil {
		return fmt.Errorf("state of channel AMIs: %w", err)
	}
	for i := range versions {
		img, ok := found[versions[i].AMI]
		switch {
		case !ok:
			versions[i].State = lineage.StateDeregistered
		case img.IsRevoked():
			versions[i].State = "revoked"
			versions[i].Revoked = img.Revoked
		default:
			versions[i].State = img.State
		}
	}
	return nil
}
