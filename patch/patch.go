package patch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/inventory"
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
	// S3, when set and the project has an inventory_bucket, reads the
	// AMIs' inventory documents, which attribution prefers to scans.
	S3 func(region string) awsapi.S3
	// Layers are scanned as images (each one's latest AMI, plus the AMIs
	// of its lineage for attribution); Fleets through Run Command. Both
	// empty with All set: every layer with a latest AMI and every fleet
	// with a patch block or targets.
	Layers []string
	Fleets []string
	All    bool

	// Parallel bounds concurrent image scans (default 4).
	Parallel int

	Now      func() time.Time
	Poll     time.Duration
	Timeout  time.Duration
	Progress func(format string, args ...any)
}

func (o ScanOptions) parallel() int {
	if o.Parallel > 0 {
		return o.Parallel
	}
	return 4
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
	var progressMu sync.Mutex
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			progressMu.Lock()
			defer progressMu.Unlock()
			o.Progress(format, args...)
		}
	}
	scanners := map[string]*scan.Scanner{}
	scanner := func(region string) *scan.Scanner {
		if s := scanners[region]; s != nil {
			return s
		}
		s := &scan.Scanner{SSM: o.SSM(region), EC2: o.EC2(region), Project: cfg.Project.Name, Region: region,
			InstanceProfile: cfg.Project.IAMInstanceProfile, SubnetID: cfg.Project.SubnetID,
			Poll: o.Poll, Timeout: o.Timeout, Now: o.Now, Progress: progress}
		scanners[region] = s
		return s
	}

	// 1. Each layer's latest AMI, and its lineage up to the root
	// (amibake:parent-ami), described once per AMI.
	type target struct {
		region string
		in     scan.Image
	}
	targets := map[string]*target{} // by AMI
	described := map[string]lineage.Image{}
	parentOf := map[string]string{}
	chains := map[string][]string{} // layer → AMIs from its own up to the root
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
		for ami, want := v.AMI, l; ami != "" && !slices.Contains(chains[l], ami); want = "" {
			if targets[ami] == nil {
				imgs, err := lineage.DescribeIDs(ctx, o.EC2(region), region, []string{ami})
				if err != nil {
					return nil, fmt.Errorf("describe %s: %w", ami, err)
				}
				img, ok := imgs[ami]
				if !ok && want == "" {
					break // an ancestor that is gone: attribution stops there
				}
				if !ok {
					return nil, fmt.Errorf("AMI %s (latest of %s) not found in %s", ami, l, region)
				}
				layer := img.Layer
				if layer == "" {
					layer = want
				}
				created, _ := time.Parse(time.RFC3339, img.CreationDate)
				in := scan.Image{Layer: layer, AMI: ami, Created: created.UTC()}
				if cl := cfg.Layers[layer]; cl != nil {
					in.InstanceType = cl.InstanceType
				}
				if p := EffectivePatch(g, layer); p != nil {
					in.PatchGroup = p.PatchGroup
				}
				targets[ami] = &target{region: region, in: in}
				described[ami] = img
				parentOf[ami] = img.ParentAMI
			}
			chains[l] = append(chains[l], ami)
			ami = parentOf[ami]
		}
	}

	// 2. Scan every AMI once, a few at a time; the first failure cancels
	// the rest (each scan instance is terminated whatever happens).
	byAMI := map[string]*scan.Report{}
	if len(targets) > 0 {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var (
			mu   sync.Mutex
			errs []error
			wg   sync.WaitGroup
		)
		sem := make(chan struct{}, o.parallel())
		for _, ami := range sortedKeys(targets) {
			t := targets[ami]
			s := scanner(t.region)
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-sctx.Done():
					return
				}
				defer func() { <-sem }()
				r, err := s.ScanImage(sctx, t.in)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if len(errs) == 0 || !errors.Is(err, context.Canceled) {
						errs = append(errs, err)
					}
					cancel()
					return
				}
				byAMI[ami] = r
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
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
	docs := inventories(ctx, o, described, progress)
	for _, l := range layers {
		if r := byAMI[latest[l]]; r != nil {
			scan.Attribute(r, ancestry(chains[l], byAMI, docs))
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
			scan.Attribute(r, ancestry(chain, byAMI, docs))
		}
		res.Fleets = append(res.Fleets, r)
	}
	if len(res.Skipped) == 0 {
		res.Skipped = nil
	}
	return res, nil
}

// inventories reads the stored inventory document of each described AMI
// (package name → version), when the project records them. An AMI without
// one (baked before inventory collection), or whose document does not
// verify, is left out: attribution falls back to its scan.
func inventories(ctx context.Context, o ScanOptions, imgs map[string]lineage.Image, progress func(string, ...any)) map[string]map[string]string {
	bucket := o.Config.Project.InventoryBucket
	if bucket == "" || o.S3 == nil {
		return nil
	}
	out := map[string]map[string]string{}
	for _, ami := range sortedKeys(imgs) {
		img := imgs[ami]
		doc, err := inventory.Load(ctx, o.S3(img.Region), bucket, o.Config.Project.Name, img)
		var nr *inventory.NotRecordedError
		switch {
		case errors.As(err, &nr):
			continue
		case err != nil:
			progress("attribution uses the scan of %s: %v", ami, err)
			continue
		}
		pkgs := make(map[string]string, len(doc.Packages))
		for _, p := range doc.Packages {
			pkgs[p.Name] = p.Version
		}
		out[ami] = pkgs
	}
	return out
}

// ancestry is a chain of AMIs (r's first, the root's last) with the package
// set of each: its inventory document when there is one, else its scan.
func ancestry(chain []string, byAMI map[string]*scan.Report, docs map[string]map[string]string) []scan.Ancestor {
	out := make([]scan.Ancestor, 0, len(chain))
	for _, ami := range chain {
		a := scan.Ancestor{AMI: ami}
		img := byAMI[ami]
		if img != nil {
			a.Layer = img.Layer
		}
		switch {
		case docs[ami] != nil && img != nil:
			a.Packages, a.Source = docs[ami], scan.SourceInventory
		case img != nil:
			a.Packages, a.Source = img.Packages, scan.SourceScan
		}
		out = append(out, a)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
