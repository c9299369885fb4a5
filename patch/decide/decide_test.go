package decide_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/patch/decide"
	"github.com/amibake/amibake/patch/scan"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func exampleGraph(t *testing.T) *graph.Graph {
	t.Helper()
	cfg, diags := config.Load("../..", config.LoadOptions{})
	require.False(t, diags.HasErrors(), diags.Error())
	g, diags := graph.Build(cfg)
	require.False(t, diags.HasErrors(), diags.Error())
	return g
}

func img(layer string, age time.Duration, missing ...scan.Finding) *scan.Report {
	return &scan.Report{Kind: scan.KindImage, Name: layer, Layer: layer, AMI: "ami-" + layer, AMICreated: now.Add(-age), Missing: missing}
}

func all(age time.Duration, missing map[string][]scan.Finding) map[string]*scan.Report {
	out := map[string]*scan.Report{}
	for _, l := range []string{"linux", "foundation", "base", "app-web", "app-worker"} {
		out[l] = img(l, age, missing[l]...)
	}
	return out
}

func stale(r *decide.Result) map[string]string {
	out := map[string]string{}
	for _, l := range r.Layers {
		if l.Stale {
			out[l.Layer] = l.Detail
		}
	}
	return out
}

func TestKernelInLinuxRebakesLinuxAndEverythingAbove(t *testing.T) {
	g := exampleGraph(t)
	kernel := scan.Finding{Package: "kernel", Version: "6.1.120-1.amzn2023", Severity: "Critical", Classification: "Security", IntroducedBy: "linux"}
	low := scan.Finding{Package: "less", Version: "633-1", Severity: "Low", Classification: "Security", IntroducedBy: "linux"}
	m := map[string][]scan.Finding{}
	for _, l := range []string{"linux", "foundation", "base", "app-web", "app-worker"} {
		m[l] = []scan.Finding{kernel, low}
	}
	r := decide.Decide(decide.Input{Graph: g, Images: all(24*time.Hour, m), Now: now})
	assert.Equal(t, []string{"linux"}, r.Roots)
	assert.Equal(t, []string{"linux", "foundation", "base", "app-web", "app-worker"}, r.Stale)
	assert.Equal(t, "1 critical (kernel@6.1.120-1.amzn2023)", stale(r)["linux"])
	for _, l := range r.Layers {
		assert.Equal(t, plan.ReasonPatchDrift, l.Reason)
		assert.Equal(t, []string{"linux"}, l.Roots)
		assert.Equal(t, "al2023_security", l.Baseline, "inherited from linux's patch block")
		require.Len(t, l.Triggers, 1, "Low is not in missing_severity")
		assert.Equal(t, "linux", l.Triggers[0].Root)
	}
}

func TestAppOnlyPackageRebakesOnlyThatLayer(t *testing.T) {
	g := exampleGraph(t)
	py := scan.Finding{Package: "python3.11", Version: "3.11.9-2.amzn2023", Severity: "Important", Classification: "Security", IntroducedBy: "app-worker"}
	r := decide.Decide(decide.Input{Graph: g, Images: all(24*time.Hour, map[string][]scan.Finding{"app-worker": {py}}), Now: now})
	assert.Equal(t, []string{"app-worker"}, r.Roots)
	assert.Equal(t, map[string]string{"app-worker": "1 important (python3.11@3.11.9-2.amzn2023)"}, stale(r))
	for _, l := range r.Layers {
		if l.Layer != "app-worker" {
			assert.Equal(t, plan.ReasonUpToDate, l.Reason, l.Layer)
			assert.Equal(t, "ami-"+l.Layer+" within policy", l.Detail)
		}
	}
}

func TestNothingMissingNothingStale(t *testing.T) {
	g := exampleGraph(t)
	r := decide.Decide(decide.Input{Graph: g, Images: all(24*time.Hour, nil), Now: now})
	assert.Empty(t, r.Stale)
	assert.Empty(t, r.Roots)
	assert.Len(t, r.Layers, 5)
}

func TestMaxAgeAndFixedParent(t *testing.T) {
	g := exampleGraph(t)
	// linux was rebaked (has the fix); foundation and above still miss it:
	// the root is foundation. base is also older than max_age (720h).
	kernel := scan.Finding{Package: "kernel", Version: "6.1.120-1.amzn2023", Severity: "Critical", IntroducedBy: "linux"}
	images := all(24*time.Hour, map[string][]scan.Finding{"foundation": {kernel}, "base": {kernel}, "app-web": {kernel}, "app-worker": {kernel}})
	images["base"].AMICreated = now.Add(-40 * 24 * time.Hour)
	r := decide.Decide(decide.Input{Graph: g, Images: images, Now: now})
	assert.Equal(t, []string{"foundation", "base"}, r.Roots)
	assert.Equal(t, []string{"foundation", "base", "app-web", "app-worker"}, r.Stale)
	s := stale(r)
	assert.Equal(t, "1 critical (kernel@6.1.120-1.amzn2023); AMI is 40d old (max_age 30d); rebuilt on foundation", s["base"])
	assert.Equal(t, "1 critical (kernel@6.1.120-1.amzn2023); rebuilt on foundation, base", s["app-web"])
}

func TestUnscannedLayerIsOnlyADescendant(t *testing.T) {
	g := exampleGraph(t)
	kernel := scan.Finding{Package: "kernel", Version: "6.1.120-1.amzn2023", Severity: "Critical"}
	images := map[string]*scan.Report{"linux": img("linux", time.Hour, kernel)}
	r := decide.Decide(decide.Input{Graph: g, Images: images, Now: now})
	assert.Equal(t, []string{"linux", "foundation", "base", "app-web", "app-worker"}, r.Stale)
	assert.Equal(t, "rebuilt on linux", stale(r)["base"])
}

func TestOverlay(t *testing.T) {
	p := &plan.Plan{Project: "acme-golden", Layers: []*plan.Layer{
		{Layer: "linux", Action: plan.ActionReuse, Reason: plan.ReasonUpToDate, Region: "us-east-1", AMI: map[string]string{"us-east-1": "ami-1"}, State: "available"},
		{Layer: "foundation", Action: plan.ActionBuild, Reason: plan.ReasonRecipeChanged, Detail: "cis_hardening 1.4.0→1.5.0"},
		{Layer: "base", Action: plan.ActionReuse, Reason: plan.ReasonUpToDate, Region: "us-east-1", AMI: map[string]string{"us-east-1": "ami-3"}},
	}}
	d := &decide.Result{Layers: []decide.Layer{
		{Layer: "linux", Stale: true, Reason: plan.ReasonPatchDrift, Detail: "1 critical (kernel@6.1.2-1)"},
		{Layer: "foundation", Stale: true, Reason: plan.ReasonPatchDrift, Detail: "rebuilt on linux"},
		{Layer: "base", Reason: plan.ReasonUpToDate},
	}}
	assert.Equal(t, 1, decide.Overlay(p, d))
	assert.Equal(t, &plan.Layer{Layer: "linux", Action: plan.ActionBuild, Reason: plan.ReasonPatchDrift, Detail: "1 critical (kernel@6.1.2-1)",
		Region: "us-east-1", PreviousAMI: "ami-1"}, p.Layers[0])
	assert.Equal(t, plan.ReasonRecipeChanged, p.Layers[1].Reason, "a build keeps its own reason")
	assert.Equal(t, plan.ActionReuse, p.Layers[2].Action)
	assert.Equal(t, 2, p.Changes())
}
