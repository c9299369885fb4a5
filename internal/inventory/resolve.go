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

// Ancestors is img's chain up to the root, img first, as `amibake lineage`
// finds it (lineage.Finder: a parent is looked up in the child's region
// first; a parent that is gone ends the chain, marked Missing).
func (r *Resolver) Ancestors(ctx context.Context, img lineage.Image) ([]Ancestor, error) {
	lin, err := r.finder().Lineage(ctx, img.ID, img.Region)
	if err != nil {
		return nil, fmt.Errorf("lineage of %s: %w", img.ID, err)
	}
	out := []Ancestor{ancestorOf(lin.Target, img.ID)}
	for i := len(lin.Ancestors) - 1; i >= 0; i-- {
		out = append(out, ancestorOf(lin.Ancestors[i], ""))
	}
	return out, nil
}

// ancestorOf names a member by the image with id, else its first image
// (the build region's: Finder sorts copies by project region order).
func ancestorOf(m *lineage.Member, id string) Ancestor {
	img := m.Images[0]
	for _, x := range m.Images {
		if x.ID == id {
			img = x
		}
	}
	return Ancestor{AMI: img.ID, Region: img.Region, Layer: m.Layer, Fingerprint: m.Fingerprint, Source: m.Source, Missing: m.Missing}
}
