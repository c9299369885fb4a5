package plan

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
)

const (
	srcAMI  = "ami-src00000000000001"
	srcAMI2 = "ami-src00000000000002"
)

// fixture is a hand-built project: linux (root) → foundation (hardening,
// agent) → app (web), and app2 (web) beside app.
func fixture() *config.Config {
	layer := func(name, parent string, recipes ...string) *config.Layer {
		l := &config.Layer{
			Name: name, Parent: parent, InstanceType: "t3.small",
			Volume: config.Volume{SizeGiB: 8, Type: "gp3", Encrypted: true}, IMDSv2Required: true,
		}
		if parent == "" {
			l.Source = &config.Source{SSMParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}
		}
		for _, r := range recipes {
			l.Recipes = append(l.Recipes, &config.RecipeRef{Name: r})
		}
		return l
	}
	recipe := func(name, version, cmd string) *config.Recipe {
		return &config.Recipe{Name: name, Version: version, Dir: "recipes/" + name,
			Steps: []*config.Step{{Kind: config.StepInline, Inline: []string{cmd}}}}
	}
	return &config.Config{
		Project: &config.Project{Name: "acme", Regions: []string{"us-east-1"}, ParamPrefix: "/amibake", Provisioner: "ssm"},
		Layers: map[string]*config.Layer{
			"linux":      layer("linux", ""),
			"foundation": layer("foundation", "linux", "hardening", "agent"),
			"app":        layer("app", "foundation", "web"),
			"app2":       layer("app2", "foundation", "web"),
		},
		Recipes: map[string]*config.Recipe{
			"hardening": recipe("hardening", "1.4.0", "harden"),
			"agent":     recipe("agent", "1.0.0", "install-agent"),
			"web":       recipe("web", "1.0.0", "install-nginx"),
			"extra":     recipe("extra", "0.1.0", "extra"),
		},
	}
}

func build(t *testing.T, cfg *config.Config) (*graph.Graph, map[string]*graph.Fingerprint) {
	t.Helper()
	g, diags := graph.Build(cfg)
	require.False(t, diags.HasErrors(), diags.Error())
	fps, diags := graph.Fingerprints(g)
	require.False(t, diags.HasErrors(), diags.Error())
	return g, fps
}

// publish simulates a successful bake of cfg from srcAMI: one available
// AMI per layer and region with full lineage tags, latest channels on them.
func publish(t *testing.T, cfg *config.Config, source string) *Observed {
	t.Helper()
	g, fps := build(t, cfg)
	obs := &Observed{Images: map[string]*lineage.Image{}, Latest: map[string]string{}, Sources: map[string]string{}}
	addPublished(obs, cfg, g, fps, source, "b1", "2026-11-01T00:00:00.000Z")
	return obs
}

func addPublished(obs *Observed, cfg *config.Config, g *graph.Graph, fps map[string]*graph.Fingerprint, source, buildID, created string) {
	ids := map[string]string{}
	for _, n := range g.Topo() {
		fp := fps[n.Name()]
		var recipes []lineage.RecipeVersion
		for _, ref := range n.Layer.Recipes {
			recipes = append(recipes, lineage.RecipeVersion{Name: ref.Name, Version: cfg.Recipes[ref.Name].Version})
		}
		bt := lineage.BuildTags{
			Project: cfg.Project.Name, Layer: n.Name(), Fingerprint: fp.Hash, ParentFingerprint: fp.Parent,
			Recipes: recipes, RecipeDigests: RecipeDigests(fp), SettingsDigest: SettingsDigest(fp), BuildID: buildID,
		}
		if n.IsRoot() {
			bt.Source = source
			obs.Sources[n.Name()] = source
		} else {
			bt.ParentAMI = ids[n.Parent.Name()]
		}
		for i, r := range Regions(cfg, n.Layer) {
			id := fmt.Sprintf("ami-%s-%s-%s", n.Name(), buildID, r)
			img := lineage.FromTags(id, r, bt.Map())
			img.State, img.CreationDate = StateAvailable, created
			obs.Images[id] = &img
			if i == 0 {
				ids[n.Name()] = id
				obs.Latest[n.Name()] = id
			}
		}
	}
}

type want struct {
	action Action
	reason Reason
	detail string
}

func reasons(p *Plan) map[string]want {
	out := map[string]want{}
	for _, l := range p.Layers {
		out[l.Layer] = want{l.Action, l.Reason, l.Detail}
	}
	return out
}

func TestPlanReasons(t *testing.T) {
	up := func(layer string) want {
		return want{ActionReuse, ReasonUpToDate, "ami-" + layer + "-b1-us-east-1"}
	}
	rebuilt := func(parent string, r Reason) want {
		return want{ActionBuild, ReasonParentRebuilt, parent + " is rebuilt (" + string(r) + ")"}
	}
	tests := []struct {
		name string
		// change edits the config after publishing; observe edits what AWS holds.
		change  func(cfg *config.Config)
		observe func(obs *Observed)
		want    map[string]want
	}{
		{
			name: "unchanged: everything up to date",
			want: map[string]want{"linux": up("linux"), "foundation": up("foundation"), "app": up("app"), "app2": up("app2")},
		},
		{
			name:    "nothing published: new",
			observe: func(obs *Observed) { *obs = Observed{Sources: obs.Sources} },
			want: map[string]want{
				"linux": {ActionBuild, ReasonNew, ""}, "foundation": {ActionBuild, ReasonNew, ""},
				"app": {ActionBuild, ReasonNew, ""}, "app2": {ActionBuild, ReasonNew, ""},
			},
		},
		{
			name:   "recipe version bump",
			change: func(cfg *config.Config) { cfg.Recipes["hardening"].Version = "1.5.0" },
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionBuild, ReasonRecipeChanged, "hardening 1.4.0→1.5.0"},
				"app": rebuilt("foundation", ReasonRecipeChanged), "app2": rebuilt("foundation", ReasonRecipeChanged),
			},
		},
		{
			name:   "recipe content changed, same version",
			change: func(cfg *config.Config) { cfg.Recipes["agent"].Steps[0].Inline = []string{"install-agent --v2"} },
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionBuild, ReasonRecipeChanged, "agent content changed"},
				"app": rebuilt("foundation", ReasonRecipeChanged), "app2": rebuilt("foundation", ReasonRecipeChanged),
			},
		},
		{
			name: "recipe added and removed",
			change: func(cfg *config.Config) {
				cfg.Layers["foundation"].Recipes = []*config.RecipeRef{{Name: "hardening"}, {Name: "extra"}}
			},
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionBuild, ReasonRecipeChanged, "added extra@0.1.0, removed agent@1.0.0"},
				"app": rebuilt("foundation", ReasonRecipeChanged), "app2": rebuilt("foundation", ReasonRecipeChanged),
			},
		},
		{
			name: "recipes reordered",
			change: func(cfg *config.Config) {
				cfg.Layers["foundation"].Recipes = []*config.RecipeRef{{Name: "agent"}, {Name: "hardening"}}
			},
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionBuild, ReasonRecipeChanged, "recipes reordered"},
				"app": rebuilt("foundation", ReasonRecipeChanged), "app2": rebuilt("foundation", ReasonRecipeChanged),
			},
		},
		{
			name:   "image setting changed",
			change: func(cfg *config.Config) { cfg.Layers["app"].Volume.SizeGiB = 20 },
			want: map[string]want{
				"linux": up("linux"), "foundation": up("foundation"),
				"app": {ActionBuild, ReasonSettingsChanged, "image settings changed"}, "app2": up("app2"),
			},
		},
		{
			name:   "instance type is not an image setting",
			change: func(cfg *config.Config) { cfg.Layers["app"].InstanceType = "c6i.large" },
			want:   map[string]want{"linux": up("linux"), "foundation": up("foundation"), "app": up("app"), "app2": up("app2")},
		},
		{
			name:    "source moved",
			observe: func(obs *Observed) { obs.Sources["linux"] = srcAMI2 },
			want: map[string]want{
				"linux":      {ActionBuild, ReasonSourceMoved, srcAMI + "→" + srcAMI2},
				"foundation": rebuilt("linux", ReasonSourceMoved), "app": rebuilt("foundation", ReasonParentRebuilt),
				"app2": rebuilt("foundation", ReasonParentRebuilt),
			},
		},
		{
			name:    "source selector changed is a settings change",
			change:  func(cfg *config.Config) { cfg.Layers["linux"].Source.SSMParameter = "/aws/service/other" },
			observe: func(obs *Observed) { obs.Sources["linux"] = srcAMI2 },
			want: map[string]want{
				"linux":      {ActionBuild, ReasonSettingsChanged, "image settings changed"},
				"foundation": rebuilt("linux", ReasonSettingsChanged), "app": rebuilt("foundation", ReasonParentRebuilt),
				"app2": rebuilt("foundation", ReasonParentRebuilt),
			},
		},
		{
			name:    "revoked",
			observe: func(obs *Observed) { obs.Images["ami-foundation-b1-us-east-1"].Revoked = "CVE-2026-1234" },
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionBuild, ReasonRevoked, "ami-foundation-b1-us-east-1 revoked: CVE-2026-1234"},
				"app": rebuilt("foundation", ReasonRevoked), "app2": rebuilt("foundation", ReasonRevoked),
			},
		},
		{
			name: "revoked without a reason",
			observe: func(obs *Observed) {
				obs.Images["ami-foundation-b1-us-east-1"].Tags = map[string]string{lineage.TagRevoked: ""}
			},
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionBuild, ReasonRevoked, "ami-foundation-b1-us-east-1 revoked"},
				"app": rebuilt("foundation", ReasonRevoked), "app2": rebuilt("foundation", ReasonRevoked),
			},
		},
		{
			name:    "pending AMI after a crash is adopted",
			observe: func(obs *Observed) { obs.Images["ami-app-b1-us-east-1"].State = StatePending },
			want: map[string]want{
				"linux": up("linux"), "foundation": up("foundation"),
				"app": {ActionReuse, ReasonUpToDate, "ami-app-b1-us-east-1 (pending)"}, "app2": up("app2"),
			},
		},
		{
			name:    "failed AMI with the current fingerprint is rebuilt",
			observe: func(obs *Observed) { obs.Images["ami-app-b1-us-east-1"].State = "failed" },
			want: map[string]want{
				"linux": up("linux"), "foundation": up("foundation"),
				"app":  {ActionBuild, ReasonNew, "ami-app-b1-us-east-1 has the current fingerprint but cannot be reused (state failed)"},
				"app2": up("app2"),
			},
		},
		{
			name:    "channel points to a deregistered AMI",
			observe: func(obs *Observed) { delete(obs.Images, "ami-app2-b1-us-east-1") },
			want: map[string]want{
				"linux": up("linux"), "foundation": up("foundation"), "app": up("app"),
				"app2": {ActionBuild, ReasonNew, "latest channel points to ami-app2-b1-us-east-1, which was not found"},
			},
		},
		{
			name: "own change wins over the parent's: recipe",
			change: func(cfg *config.Config) {
				cfg.Recipes["hardening"].Version = "1.5.0"
				cfg.Recipes["web"].Version = "2.0.0"
			},
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionBuild, ReasonRecipeChanged, "hardening 1.4.0→1.5.0"},
				"app":  {ActionBuild, ReasonRecipeChanged, "web 1.0.0→2.0.0"},
				"app2": {ActionBuild, ReasonRecipeChanged, "web 1.0.0→2.0.0"},
			},
		},
		{
			name: "own change wins over the parent's: settings",
			change: func(cfg *config.Config) {
				cfg.Recipes["hardening"].Version = "1.5.0"
				cfg.Layers["app"].Volume.Type = "io2"
			},
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionBuild, ReasonRecipeChanged, "hardening 1.4.0→1.5.0"},
				"app":  {ActionBuild, ReasonSettingsChanged, "image settings changed"},
				"app2": rebuilt("foundation", ReasonRecipeChanged),
			},
		},
		{
			name:    "recipe change wins over a moved source",
			change:  func(cfg *config.Config) { cfg.Layers["linux"].Recipes = []*config.RecipeRef{{Name: "extra"}} },
			observe: func(obs *Observed) { obs.Sources["linux"] = srcAMI2 },
			want: map[string]want{
				"linux":      {ActionBuild, ReasonRecipeChanged, "added extra@0.1.0"},
				"foundation": rebuilt("linux", ReasonRecipeChanged), "app": rebuilt("foundation", ReasonParentRebuilt),
				"app2": rebuilt("foundation", ReasonParentRebuilt),
			},
		},
		{
			name:   "AMIs without digest tags: content change falls back to settings-changed",
			change: func(cfg *config.Config) { cfg.Recipes["agent"].Steps[0].Inline = []string{"install-agent --v2"} },
			observe: func(obs *Observed) {
				for _, img := range obs.Images {
					img.RecipeDigests, img.SettingsDigest = nil, ""
				}
			},
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionBuild, ReasonSettingsChanged, ""},
				"app": rebuilt("foundation", ReasonSettingsChanged), "app2": rebuilt("foundation", ReasonSettingsChanged),
			},
		},
		{
			name: "parent reused but not the AMI the child was built on",
			observe: func(obs *Observed) {
				img := *obs.Images["ami-foundation-b1-us-east-1"]
				img.ID, img.CreationDate, img.BuildID = "ami-foundation-b2", "2026-11-02T00:00:00.000Z", "b2"
				obs.Images[img.ID] = &img
				obs.Latest["foundation"] = img.ID
			},
			want: map[string]want{
				"linux": up("linux"), "foundation": {ActionReuse, ReasonUpToDate, "ami-foundation-b2"},
				"app":  {ActionBuild, ReasonParentRebuilt, "foundation ami-foundation-b1-us-east-1→ami-foundation-b2"},
				"app2": {ActionBuild, ReasonParentRebuilt, "foundation ami-foundation-b1-us-east-1→ami-foundation-b2"},
			},
		},
		{
			name: "images of another project are ignored",
			observe: func(obs *Observed) {
				for _, img := range obs.Images {
					img.Project = "other"
				}
			},
			want: map[string]want{
				"linux": {ActionBuild, ReasonNew, "latest channel points to ami-linux-b1-us-east-1, which is not an AMI of this layer"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fixture()
			obs := publish(t, cfg, srcAMI)
			if tt.change != nil {
				tt.change(cfg)
			}
			if tt.observe != nil {
				tt.observe(obs)
			}
			g, fps := build(t, cfg)
			p := New(g, fps, obs, nil)
			got := reasons(p)
			for layer, w := range tt.want {
				if w.reason == ReasonSettingsChanged && w.detail == "" {
					assert.Equal(t, w.action, got[layer].action, layer)
					assert.Equal(t, w.reason, got[layer].reason, layer)
					continue
				}
				assert.Equal(t, w, got[layer], layer)
			}
			builds := 0
			for _, w := range got {
				if w.action == ActionBuild {
					builds++
				}
			}
			assert.Equal(t, builds, p.Changes())
		})
	}
}

func TestPlanPicksNewestAvailable(t *testing.T) {
	cfg := fixture()
	obs := publish(t, cfg, srcAMI)
	g, fps := build(t, cfg)
	// A newer available copy of the same identity, and a newer still pending one.
	addPublished(obs, cfg, g, fps, srcAMI, "b2", "2026-11-02T00:00:00.000Z")
	addPublished(obs, cfg, g, fps, srcAMI, "b3", "2026-11-03T00:00:00.000Z")
	obs.Images["ami-linux-b3-us-east-1"].State = StatePending
	// A revoked newest one is never picked.
	addPublished(obs, cfg, g, fps, srcAMI, "b4", "2026-11-04T00:00:00.000Z")
	obs.Images["ami-linux-b4-us-east-1"].Revoked = "bad"
	obs.Latest["linux"] = "ami-linux-b1-us-east-1"

	p := New(g, fps, obs, nil)
	l := p.Layer("linux")
	require.NotNil(t, l)
	assert.Equal(t, ActionReuse, l.Action)
	assert.Equal(t, map[string]string{"us-east-1": "ami-linux-b2-us-east-1"}, l.AMI)
	assert.Equal(t, StateAvailable, l.State)
	assert.Equal(t, "ami-linux-b1-us-east-1", l.PreviousAMI)
	assert.Equal(t, srcAMI, l.SourceAMI)
	assert.True(t, l.Publish, "latest moves to the chosen AMI")
	assert.Equal(t, "ami-linux-b2-us-east-1; latest is ami-linux-b1-us-east-1", l.Detail)
	assert.Equal(t, 4, p.Publishes(), "every layer moves to the b2 chain")
	assert.Zero(t, p.Changes())
	// Children reuse the AMI built on the parent's chosen one.
	assert.Equal(t, "ami-foundation-b2-us-east-1", p.Layer("foundation").AMI["us-east-1"])

	// With only the pending one left it is adopted.
	obs.Images["ami-linux-b2-us-east-1"].State = "failed"
	obs.Images["ami-linux-b1-us-east-1"].State = "deregistered"
	p = New(g, fps, obs, nil)
	assert.Equal(t, "ami-linux-b3-us-east-1", p.Layer("linux").AMI["us-east-1"])
	assert.Equal(t, StatePending, p.Layer("linux").State)
	assert.Equal(t, "ami-foundation-b3-us-east-1", p.Layer("foundation").AMI["us-east-1"])
}

func TestPlanRollbackReusesOlderAMI(t *testing.T) {
	cfg := fixture()
	obs := publish(t, cfg, srcAMI)
	// Bake a newer recipe, then go back to the old one: the AMI of the old
	// fingerprint is reused even though latest points at the newer one.
	cfg.Recipes["web"].Version = "2.0.0"
	g2, fps2 := build(t, cfg)
	tmp := &Observed{Images: map[string]*lineage.Image{}, Latest: map[string]string{}, Sources: map[string]string{}}
	addPublished(tmp, cfg, g2, fps2, srcAMI, "b2", "2026-11-02T00:00:00.000Z")
	obs.Images["ami-app-b2-us-east-1"] = tmp.Images["ami-app-b2-us-east-1"]
	obs.Images["ami-app-b2-us-east-1"].ParentAMI = "ami-foundation-b1-us-east-1"
	obs.Latest["app"] = "ami-app-b2-us-east-1"

	cfg.Recipes["web"].Version = "1.0.0"
	g, fps := build(t, cfg)
	l := New(g, fps, obs, nil).Layer("app")
	assert.Equal(t, ActionReuse, l.Action)
	assert.Equal(t, "ami-app-b1-us-east-1", l.AMI["us-east-1"])
	assert.Equal(t, "ami-app-b2-us-east-1", l.PreviousAMI)
	assert.True(t, l.Publish)

	// No channel yet (a crash between the AMI and the channel): published
	// without a build.
	delete(obs.Latest, "app")
	l = New(g, fps, obs, nil).Layer("app")
	assert.Equal(t, ActionReuse, l.Action)
	assert.True(t, l.Publish)
	assert.Equal(t, "ami-app-b1-us-east-1; no latest channel yet", l.Detail)
}

func TestPlanTargets(t *testing.T) {
	cfg := fixture()
	obs := publish(t, cfg, srcAMI)
	cfg.Recipes["hardening"].Version = "1.5.0"
	g, fps := build(t, cfg)

	layers := func(p *Plan) []string {
		var out []string
		for _, l := range p.Layers {
			out = append(out, l.Layer)
		}
		return out
	}
	assert.Equal(t, []string{"linux", "foundation", "app", "app2"}, layers(New(g, fps, obs, nil)))
	// app needs foundation rebuilt; linux is reused and left out.
	assert.Equal(t, []string{"foundation", "app"}, layers(New(g, fps, obs, []string{"app"})))
	assert.Equal(t, []string{"linux"}, layers(New(g, fps, obs, []string{"linux"})))
	assert.Equal(t, []string{"foundation", "app", "app2"}, layers(New(g, fps, obs, []string{"app2", "app"})))
	assert.Empty(t, layers(New(g, fps, obs, []string{"nope"})))
	assert.Equal(t, 2, New(g, fps, obs, []string{"app"}).Changes())
}

func TestPlanCopyRegions(t *testing.T) {
	cfg := fixture()
	cfg.Project.Regions = []string{"us-east-1", "eu-west-1"}
	obs := publish(t, cfg, srcAMI)
	delete(obs.Images, "ami-app-b1-eu-west-1")
	g, fps := build(t, cfg)
	p := New(g, fps, obs, nil)

	f := p.Layer("foundation")
	assert.Equal(t, map[string]string{"us-east-1": "ami-foundation-b1-us-east-1", "eu-west-1": "ami-foundation-b1-eu-west-1"}, f.AMI)
	assert.Empty(t, f.MissingRegions)
	a := p.Layer("app")
	assert.Equal(t, ActionReuse, a.Action)
	assert.Equal(t, []string{"eu-west-1"}, a.MissingRegions)
	assert.Equal(t, "ami-app-b1-us-east-1; no copy in eu-west-1", a.Detail)
	assert.Equal(t, 0, p.Changes())
	assert.Equal(t, 1, p.Copies())
	assert.Equal(t, 1, p.Pending(), "a missing copy is pending work for bake")
	a.Publish = true
	assert.Equal(t, 1, p.Pending(), "a layer to copy and publish counts once")

	// A layer's own regions win; its build region is the first.
	cfg.Layers["app2"].Regions = []string{"eu-west-1"}
	assert.Equal(t, []string{"eu-west-1"}, Regions(cfg, cfg.Layers["app2"]))
	assert.Equal(t, []string{"us-east-1"}, Regions(nil, nil))
}

func TestPlanJSON(t *testing.T) {
	cfg := fixture()
	obs := publish(t, cfg, srcAMI)
	cfg.Recipes["web"].Version = "2.0.0"
	g, fps := build(t, cfg)
	b, err := json.Marshal(New(g, fps, obs, []string{"app"}))
	require.NoError(t, err)
	var got struct {
		Project string           `json:"project"`
		Layers  []map[string]any `json:"layers"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, "acme", got.Project)
	require.Len(t, got.Layers, 1)
	l := got.Layers[0]
	assert.Equal(t, "app", l["layer"])
	assert.Equal(t, "foundation", l["parent"])
	assert.Equal(t, "build", l["action"])
	assert.Equal(t, "recipe-changed", l["reason"])
	assert.Equal(t, "web 1.0.0→2.0.0", l["detail"])
	assert.Equal(t, fps["app"].Hash, l["fingerprint"])
	assert.Equal(t, "ami-app-b1-us-east-1", l["previous_ami"])
	assert.Equal(t, "us-east-1", l["region"])
	assert.NotContains(t, l, "ami")

	b, err = json.Marshal(New(g, fps, obs, []string{"linux"}).Layers[0])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"ami":{"us-east-1":"ami-linux-b1-us-east-1"}`)
	assert.Contains(t, string(b), `"source_ami":"`+srcAMI+`"`)
}

func TestPlanEdgeCases(t *testing.T) {
	assert.Empty(t, New(nil, nil, nil, nil).Layers)
	cfg := fixture()
	g, fps := build(t, cfg)
	// No observation at all: every layer new; the source did not resolve.
	p := New(g, fps, nil, nil)
	assert.Equal(t, 4, p.Changes())
	// A layer whose fingerprint failed is left out with its descendants.
	delete(fps, "foundation")
	p = New(g, fps, nil, nil)
	require.Len(t, p.Layers, 1)
	assert.Equal(t, "linux", p.Layers[0].Layer)
}

func TestDigests(t *testing.T) {
	cfg := fixture()
	_, fps := build(t, cfg)
	d := RecipeDigests(fps["foundation"])
	require.Len(t, d, 2)
	for _, x := range d {
		assert.Regexp(t, `^[0-9a-f]{8}$`, x)
	}
	assert.Regexp(t, `^[0-9a-f]{12}$`, SettingsDigest(fps["foundation"]))
	assert.Nil(t, RecipeDigests(nil))
	assert.Empty(t, SettingsDigest(nil))

	s := SettingsDigest(fps["app"])
	cfg.Recipes["web"].Version = "9"
	_, fps2 := build(t, cfg)
	assert.Equal(t, s, SettingsDigest(fps2["app"]), "recipes are not settings")
	assert.NotEqual(t, RecipeDigests(fps["app"]), RecipeDigests(fps2["app"]))
	cfg.Layers["app"].IMDSv2Required = false
	_, fps3 := build(t, cfg)
	assert.NotEqual(t, s, SettingsDigest(fps3["app"]))
}

func TestDigestTagsRoundTrip(t *testing.T) {
	cfg := fixture()
	_, fps := build(t, cfg)
	fp := fps["foundation"]
	bt := lineage.BuildTags{Project: "acme", Layer: "foundation", Fingerprint: fp.Hash,
		Recipes:       []lineage.RecipeVersion{{Name: "hardening", Version: "1.4.0"}, {Name: "agent", Version: "1.0.0"}},
		RecipeDigests: RecipeDigests(fp), SettingsDigest: SettingsDigest(fp)}
	m := bt.Map()
	assert.Equal(t, lineage.FormatDigests(RecipeDigests(fp)), m[lineage.TagRecipeDigests])
	img := lineage.FromTags("ami-1", "us-east-1", m)
	assert.Equal(t, RecipeDigests(fp), img.RecipeDigests)
	assert.Equal(t, SettingsDigest(fp), img.SettingsDigest)

	// AMIs baked before the tags: nothing set, nothing parsed.
	bt.RecipeDigests, bt.SettingsDigest = nil, ""
	m = bt.Map()
	assert.NotContains(t, m, lineage.TagRecipeDigests)
	assert.NotContains(t, m, lineage.TagSettingsDigest)
	assert.Nil(t, lineage.FromTags("ami-1", "us-east-1", m).RecipeDigests)
}
