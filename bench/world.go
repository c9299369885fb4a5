package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/amibake/amibake/bench/benchgen"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/internal/sandbox"
)

// project is a generated project on disk with its graph and fingerprints,
// computed in-process with the same code amibake runs.
type project struct {
	spec benchgen.Spec
	dir  string
	cfg  *config.Config
	g    *graph.Graph
	fps  map[string]*graph.Fingerprint
}

func newProject(dir string, spec benchgen.Spec) (*project, error) {
	spec = spec.Defaults()
	if _, err := benchgen.Write(dir, spec); err != nil {
		return nil, fmt.Errorf("write project: %w", err)
	}
	cfg, diags := config.Load(dir, config.LoadOptions{})
	if diags.HasErrors() {
		return nil, fmt.Errorf("load project: %s", diags.Error())
	}
	g, gd := graph.Build(cfg)
	diags = append(diags, gd...)
	if diags.HasErrors() {
		return nil, fmt.Errorf("graph: %s", diags.Error())
	}
	fps, fd := graph.Fingerprints(g)
	if fd.HasErrors() || len(fps) != spec.Layers {
		return nil, fmt.Errorf("fingerprints: %d of %d: %s", len(fps), spec.Layers, hcl.Diagnostics(fd).Error())
	}
	return &project{spec: spec, dir: dir, cfg: cfg, g: g, fps: fps}, nil
}

// distinctSources counts the distinct upstream selectors of the roots.
func (p *project) distinctSources() int {
	seen := map[string]bool{}
	for _, n := range p.g.Topo() {
		if n.IsRoot() && n.Layer.Source != nil {
			seen[graph.SourceSelector(n.Layer.Source)] = true
		}
	}
	return len(seen)
}

// seedStats describes a seeded world.
type seedStats struct {
	Total, Current int
	Bytes          int64
	Took           time.Duration
	InUse          []string // AMIs with an instance (worldOpts.InUse)
}

// buildState writes a sandbox state file holding total project AMIs across
// the project's regions: for every layer its current fingerprint in every
// region (a home build plus its copies, with the lineage tags bake writes,
// on the current source or parent AMI) and the latest channel pointing at
// it; the rest is history — older fingerprints of every layer, a third of
// them deprecated. Plan over it has nothing to build.
func buildState(path string, p *project, total int) (seedStats, error) {
	return buildStateWith(path, p, total, worldOpts{})
}

// worldOpts vary the seeded world for retire.
type worldOpts struct {
	// PastDeprecation deprecates every history AMI a minute after its
	// creation (long past), instead of a third of them a week after.
	PastDeprecation bool
	// InUse launches one running instance on each of this many history
	// AMIs outside the newest three builds of their layer, spread evenly.
	InUse int
}

// buildStateWith is buildState with options; stats.InUse lists the AMIs
// the instances run.
func buildStateWith(path string, p *project, total int, o worldOpts) (seedStats, error) {
	started := time.Now()
	os.Remove(path)
	srv, err := sandbox.New(sandbox.Options{Seed: 1, Mode: sandbox.ClockInstant, StateFile: path})
	if err != nil {
		return seedStats{}, err
	}
	regions := plan.Regions(p.cfg, nil)
	home := regions[0]
	project := p.cfg.Project.Name
	paths := lineage.Paths{Prefix: p.cfg.Project.ParamPrefix, Project: project}
	account := sandbox.DefaultAccount
	nodes := p.g.Topo()
	current := len(nodes) * len(regions)
	if total < current {
		return seedStats{}, fmt.Errorf("%d AMIs cannot hold %d layers in %d regions", total, len(nodes), len(regions))
	}
	var seedErr error
	var inUse []string
	srv.Do(func(w *sandbox.World) {
		now := srv.Clock().Now()
		homeAMI := map[string]string{}
		recipesOf := func(n *graph.Node) []lineage.RecipeVersion {
			var out []lineage.RecipeVersion
			for _, r := range n.Layer.Recipes {
				out = append(out, lineage.RecipeVersion{Name: r.Name, Version: p.cfg.Recipes[r.Name].Version})
			}
			return out
		}
		tagsFor := func(n *graph.Node, bt lineage.BuildTags, name string) sandbox.Tags {
			t := sandbox.Tags(bt.Map())
			t["Name"] = name
			t["team"] = "platform"
			t["managed-by"] = "amibake"
			return t
		}
		// Current builds, parents first so children point at their AMIs.
		for i, n := range nodes {
			fp := p.fps[n.Name()]
			bt := lineage.BuildTags{
				Project: project, Layer: n.Name(), Fingerprint: fp.Hash,
				Recipes: recipesOf(n), RecipeDigests: plan.RecipeDigests(fp), SettingsDigest: plan.SettingsDigest(fp),
				BuildID: fmt.Sprintf("bld-%s-%06d", fp.Short, i),
			}
			if n.IsRoot() {
				bt.Source = w.PublicParameterValue(home, n.Layer.Source.SSMParameter)
				if bt.Source == "" {
					seedErr = fmt.Errorf("no public parameter %s in %s", n.Layer.Source.SSMParameter, home)
					return
				}
			} else {
				bt.ParentAMI, bt.ParentFingerprint = homeAMI[n.Parent.Name()], fp.Parent
			}
			created := now.Add(-time.Duration(len(nodes)-i) * time.Minute)
			name := fmt.Sprintf("%s-%s-%s-%s", project, n.Name(), fp.Short, created.Format("20060102150405"))
			imgs := make([]sandbox.BenchImage, len(regions))
			for k, r := range regions {
				imgs[k] = sandbox.BenchImage{Region: r, Name: name, Tags: tagsFor(n, bt, name), Created: created.Add(time.Duration(k) * time.Minute)}
			}
			ids, err := w.AddBenchImages(account, now, imgs)
			if err != nil {
				seedErr = err
				return
			}
			homeAMI[n.Name()] = ids[0]
			w.PutBenchParameter(account, home, paths.Channel(n.Name(), lineage.ChannelLatest), ids[0], "aws:ec2:image", created)
		}
		// History: older fingerprints, newest first, round-robin over
		// layers and regions, one build a minute back in time.
		history := total - current
		historyIDs := make([]string, 0, history)
		batch := make([]sandbox.BenchImage, 0, 1024)
		for k := 0; k < history; k++ {
			n := nodes[k%len(nodes)]
			region := regions[(k/len(nodes))%len(regions)]
			sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", project, n.Name(), k)))
			old := hex.EncodeToString(sum[:])
			created := now.Add(-time.Duration(len(nodes)+k+1) * time.Minute)
			name := fmt.Sprintf("%s-%s-%s-%s", project, n.Name(), old[:12], created.Format("20060102150405"))
			bt := lineage.BuildTags{
				Project: project, Layer: n.Name(), Fingerprint: old, Recipes: recipesOf(n),
				BuildID: fmt.Sprintf("bld-%s-%06d", old[:12], k), SettingsDigest: old[12:24],
			}
			if n.IsRoot() {
				bt.Source = fmt.Sprintf("ami-%017x", sum[1:9])
			} else {
				bt.ParentAMI = fmt.Sprintf("ami-%017x", sum[9:17])
				bt.ParentFingerprint = hex.EncodeToString(sum[16:]) + old[:32]
			}
			img := sandbox.BenchImage{Region: region, Name: name, Tags: tagsFor(n, bt, name), Created: created}
			switch {
			case o.PastDeprecation:
				img.Deprecated = created.Add(time.Minute)
			case k%3 == 2:
				img.Deprecated = created.Add(7 * 24 * time.Hour)
			}
			batch = append(batch, img)
			if len(batch) == cap(batch) || k == history-1 {
				ids, err := w.AddBenchImages(account, now, batch)
				if err != nil {
					seedErr = err
					return
				}
				historyIDs = append(historyIDs, ids...)
				batch = batch[:0]
			}
		}
		// In use: history builds k ≥ 2×layers are older than each
		// layer's newest three (current + two history builds).
		skip := 2 * len(nodes)
		if o.InUse > 0 && len(historyIDs)-skip < o.InUse {
			seedErr = fmt.Errorf("%d history AMIs cannot hold %d in use", len(historyIDs), o.InUse)
			return
		}
		for i := 0; i < o.InUse; i++ {
			k := skip + i*(len(historyIDs)-skip)/o.InUse
			img := w.EC2.Images[historyIDs[k]]
			if _, err := w.RunInstance(sandbox.LaunchSpec{Account: account, Region: img.Region, ImageID: img.ID, InstanceType: "t3.micro"}, now); err != nil {
				seedErr = fmt.Errorf("instance on %s: %s", img.ID, err.Message)
				return
			}
			inUse = append(inUse, img.ID)
		}
	})
	if seedErr != nil {
		srv.Close()
		return seedStats{}, seedErr
	}
	if err := srv.Close(); err != nil {
		return seedStats{}, fmt.Errorf("save state: %w", err)
	}
	st := seedStats{Total: total, Current: current, Took: time.Since(started), InUse: inUse}
	if fi, err := os.Stat(path); err == nil {
		st.Bytes = fi.Size()
	}
	return st, nil
}
