package patch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/patch/scan"
)

// EffectivePatch is the patch {} block that governs a layer: its own, or
// the nearest ancestor's (a layer built on a patched parent is scanned and
// judged against the same baseline). Nil when no layer up the chain has one.
func EffectivePatch(g *graph.Graph, layer string) *config.PatchRef {
	for n := g.Node(layer); n != nil; n = n.Parent {
		if n.Layer.Patch != nil {
			return n.Layer.Patch
		}
	}
	return nil
}

// ScanOptions select what Scan scans.
type ScanOptions struct {
	Config *config.Config
	Graph  *graph.Graph
	// EC2 and SSM return the clients of a region.
	EC2 func(region string) awsapi.EC2
	SSM func(region string) awsapi.SSM
	// Layers are scanned as images (each one's latest AMI, plus the AMIs
	// of its lineage for attribution); Fleets through Run Command. Both
	// empty with All set: every layer with a latest AMI and every fleet
	// with a patch block or targets.
	Layers []string
	Fleets []string
	All    bool

	Now      func() time.Time
	Poll     time.Duration
	Timeout  time.Duration
	Progress func(format string, args ...any)
}

// ScanResult is what `patch scan` reports.
type ScanResult struct {
	// Images are the scans of each selected layer's latest AMI.
	Images []*scan.Report `json:"images"`
	// Lineage are scans of ancestor AMIs that are not a layer's latest
	// (read for attribution only).
	Lineage []*scan.Report `json:"lineage,omitempty"`
	Fleets  []*scan.Report `json:"fleets"`
	// Skipped says why a selected layer was not scanned (no latest AMI).
	Skipped map[string]string `json:"skipped,omitempty"`
}

// ImageScans reports whether opts launch scan instances (the caller takes
// the project lock for them).
func (o ScanOptions) ImageScans() bool { return len(o.Layers) > 0 || (o.All && len(o.Fleets) == 0) }

// Scan runs the selected image and fleet scans and attributes each
// missing package to the layer that introduced it: the lowest layer, along
// the AMI's lineage (amibake:parent-ami), whose image has the package.
func Scan(ctx context.Context, o ScanOptions) (*ScanResult, error) {
	cfg, g := o.Config, o.Graph
	res := &ScanResult{Images: []*scan.Report{}, Fleets: []*scan.Report{}, Skipped: map[string]string{}}
	layers := o.Layers
	fleets := o.Fleets
	if o.All && len(layers) == 0 && len(fleets) == 0 {
		for _, n := range g.Topo() {
			layers = append(layers, n.Name())
		}
		for _, name := range sortedKeys(cfg.Fleets) {
			f := cfg.Fleets[name]
			if (f.Patch != nil && f.Patch.PatchGroup != "") || len(f.TargetTags) > 0 {
				fleets = append(fleets, name)
			}
		}
	}
	for _, l := range layers {
		if g.Node(l) == nil {
			return nil, &graph.UnknownLayerError{Name: l}
		}
	}
	for _, f := range fleets {
		if cfg.Fleets[f] == nil {
			return nil, fmt.Errorf("unknown fleet %q", f)
		}
	}

	paths := channel.Paths(cfg)
	scanners := map[string]*scan.Scanner{}
	scanner := func(region string) *scan.Scanner {
		if s := scanners[region]; s != nil {
			return s
		}
		s := &scan.Scanner{SSM: o.SSM(region), EC2: o.EC2(region), Project: cfg.Project.Name, Region: region,
			InstanceProfile: cfg.Project.IAMInstanceProfile, SubnetID: cfg.Project.SubnetID,
			Poll: o.Poll, Timeout: o.Timeout, Now: o.Now, Progress: o.Progress}
		scanners[region] = s
		return s
	}

	// Image scans, cached by AMI: a layer's parent AMI is often its
	// parent layer's latest.
	byAMI := map[string]*scan.Report{}
	parentOf := map[string]string{}
	chains := map[string][]string{} // layer → AMIs from its own up to the root
	var scanAMI func(region, ami, wantLayer string) (*scan.Report, error)
	scanAMI = func(region, ami, wantLayer string) (*scan.Report, error) {
		if r := byAMI[ami]; r != nil {
			return r, nil
		}
		imgs, err := lineage.DescribeIDs(ctx, o.EC2(region), region, []string{ami})
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", ami, err)
		}
		img, ok := imgs[ami]
		if !ok && wantLayer == "" {
			return nil, nil // an ancestor that is gone: attribution stops there
		}
		if !ok {
			return nil, fmt.Errorf("AMI %s (%s) not found in %s", ami, wantLayer, region)
		}
		parentOf[ami] = img.ParentAMI
		layer := img.Layer
		if layer == "" {
			layer = wantLayer
		}
		created, _ := time.Parse(time.RFC3339, img.CreationDate)
		in := scan.Image{Layer: layer, AMI: ami, Created: created.UTC()}
		if l := cfg.Layers[layer]; l != nil {
			in.InstanceType = l.InstanceType
		}
		if p := EffectivePatch(g, layer); p != nil {
			in.PatchGroup = p.PatchGroup
		}
		r, err := scanner(region).ScanImage(ctx, in)
		if err != nil {
			return nil, err
		}
		byAMI[ami] = r
		if img.ParentAMI != "" {
			if _, err := scanAMI(region, img.ParentAMI, ""); err != nil {
				return nil, fmt.Errorf("scan %s's parent: %w", ami, err)
			}
		}
		return r, nil
	}
	latest := map[string]string{}
	for _, l := range layers {
		regions, err := channel.LayerRegions(cfg, l)
		if err != nil {
			return nil, err
		}
		region := regions[0]
		v, err := channel.Get(ctx, o.SSM(region), paths.Channel(l, lineage.ChannelLatest))
		var ns *channel.NotSetError
		if errors.As(err, &ns) {
			res.Skipped[l] = "no latest AMI (bake it first)"
			continue
		}
		if err != nil {
			return nil, err
		}
		latest[l] = v.AMI
		if _, err := scanAMI(region, v.AMI, l); err != nil {
			return nil, err
		}
		// Remember the lineage for attribution.
		for ami := v.AMI; ami != ""; {
			chains[l] = append(chains[l], ami)
			p := parentOf[ami]
			if slices.Contains(chains[l], p) {
				break
			}
			ami = p
		}
	}
	isLatest := map[string]bool{}
	for _, l := range layers {
		if ami := latest[l]; ami != "" {
			res.Images = append(res.Images, byAMI[ami])
			isLatest[ami] = true
		}
	}
	for _, ami := range sortedKeys(byAMI) {
		if !isLatest[ami] {
			res.Lineage = append(res.Lineage, byAMI[ami])
		}
	}
	for _, l := range layers {
		if r := byAMI[latest[l]]; r != nil {
			attribute(r, chains[l], byAMI)
		}
	}

	for _, name := range fleets {
		f := cfg.Fleets[name]
		regions, err := channel.LayerRegions(cfg, f.Layer)
		if err != nil {
			return nil, fmt.Errorf("fleet %s: %w", name, err)
		}
		sf := scan.Fleet{Name: name, Layer: f.Layer, TargetTags: f.TargetTags,
			MaxConcurrency: f.Rollout.MaxConcurrency, MaxErrors: f.Rollout.MaxErrors}
		if f.Patch != nil {
			sf.PatchGroup = f.Patch.PatchGroup
		}
		r, err := scanner(regions[0]).ScanFleet(ctx, sf)
		if err != nil {
			return nil, err
		}
		if chain := chains[f.Layer]; len(chain) > 0 {
			attribute(r, chain, byAMI)
		}
		res.Fleets = append(res.Fleets, r)
	}
	if len(res.Skipped) == 0 {
		res.Skipped = nil
	}
	return res, nil
}

// attribute sets IntroducedBy on each missing and failed finding of r:
// walking chain (r's AMI first, the root's last) from the root up, the
// first image whose package set has the package introduced it.
func attribute(r *scan.Report, chain []string, byAMI map[string]*scan.Report) {
	find := func(pkg string) string {
		for i := len(chain) - 1; i >= 0; i-- {
			img := byAMI[chain[i]]
			if img == nil {
				continue
			}
			if _, ok := img.Packages[pkg]; ok {
				return img.Layer
			}
		}
		return ""
	}
	for i := range r.Missing {
		r.Missing[i].IntroducedBy = find(r.Missing[i].Package)
	}
	for i := range r.Failed {
		r.Failed[i].IntroducedBy = find(r.Failed[i].Package)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
