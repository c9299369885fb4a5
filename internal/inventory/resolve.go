package inventory

import (
	"context"
	"fmt"
	"strings"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
)

// Resolver turns the AMI arguments of the inventory commands (an AMI id, or
// LAYER@channel) into described images.
type Resolver struct {
	Config  *config.Config
	Clients *awsapi.Clients
	// Region, when set, is where an AMI id is looked up; otherwise every
	// region of the project is searched, build region first.
	Region string
}

func (r *Resolver) finder() *lineage.Finder {
	return &lineage.Finder{EC2: r.Clients.EC2, Project: r.Config.Project.Name, Regions: channel.ProjectRegions(r.Config)}
}

// Resolve describes the AMI ref names. LAYER@channel reads the channel
// parameter in the layer's build region.
func (r *Resolver) Resolve(ctx context.Context, ref string) (lineage.Image, error) {
	ami, region := ref, r.Region
	if layer, ch, ok := strings.Cut(ref, "@"); ok {
		if err := lineage.ValidChannel(ch); err != nil {
			return lineage.Image{}, err
		}
		regions, err := channel.LayerRegions(r.Config, layer)
		if err != nil {
			return lineage.Image{}, err
		}
		v, err := channel.Get(ctx, r.Clients.SSM(regions[0]), channel.Paths(r.Config).Channel(layer, ch))
		if err != nil {
			return lineage.Image{}, err
		}
		ami, region = v.AMI, regions[0]
	} else if !strings.HasPrefix(ref, "ami-") {
		return lineage.Image{}, fmt.Errorf("%q is neither an AMI id (ami-…) nor LAYER@channel", ref)
	}
	img, err := r.finder().Find(ctx, ami, region)
	if err != nil {
		return lineage.Image{}, fmt.Errorf("resolve %s: %w", ref, err)
	}
	return img, nil
}

// Ancestor is one AMI of a lineage chain.
type Ancestor struct {
	AMI         string `json:"ami"`
	Region      string `json:"region,omitempty"`
	Layer       string `json:"layer,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Source      string `json:"source,omitempty"`
	Missing     bool   `json:"missing,omitempty"` // named as a parent, but gone
}

// maxDepth bounds the parent walk (a tag loop must not spin).
const maxDepth = 32

// Ancestors walks amibake:parent-ami from img up to the root: img first.
func (r *Resolver) Ancestors(ctx context.Context, img lineage.Image) ([]Ancestor, error) {
	out := []Ancestor{{AMI: img.ID, Region: img.Region, Layer: img.Layer, Fingerprint: img.Fingerprint, Source: img.Source}}
	seen := map[string]bool{img.ID: true}
	f := r.finder()
	parent := img.ParentAMI
	for parent != "" && !seen[parent] && len(out) < maxDepth {
		seen[parent] = true
		p, err := f.Find(ctx, parent, "")
		if _, ok := err.(*lineage.NotFoundError); ok {
			out = append(out, Ancestor{AMI: parent, Missing: true})
			break
		}
		if err != nil {
			return nil, fmt.Errorf("lineage of %s: %w", img.ID, err)
		}
		out = append(out, Ancestor{AMI: p.ID, Region: p.Region, Layer: p.Layer, Fingerprint: p.Fingerprint, Source: p.Source})
		parent = p.ParentAMI
	}
	return out, nil
}
