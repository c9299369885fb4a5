package ci

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
)

// exampleGraph is the example project at the repository root.
func exampleGraph(t *testing.T) *graph.Graph {
	t.Helper()
	cfg, diags := config.Load("../..", config.LoadOptions{Now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
	require.False(t, diags.HasErrors(), diags.Error())
	g, diags := graph.Build(cfg)
	require.False(t, diags.HasErrors(), diags.Error())
	return g
}

// randomGraph is a forest of n layers with awkward names: dashes, dots,
// a leading digit, names that sanitize to the same identifier.
func randomGraph(t *testing.T, n int, seed int64) *graph.Graph {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	cfg := &config.Config{Project: &config.Project{Name: "big"}, Layers: map[string]*config.Layer{}, Recipes: map[string]*config.Recipe{}}
	names := make([]string, n)
	for i := range names {
		switch i % 5 {
		case 0:
			names[i] = fmt.Sprintf("app-%d", i)
		case 1:
			names[i] = fmt.Sprintf("app_%d", i-1) // collides with app-(i-1) once sanitized
		case 2:
			names[i] = fmt.Sprintf("%d.svc", i)
		default:
			names[i] = fmt.Sprintf("L%d", i)
		}
	}
	for i, name := range names {
		l := &config.Layer{Name: name}
		if i < 3 || rng.Intn(6) == 0 {
			l.Source = &config.Source{SSMParameter: "/aws/service/ami"}
		} else {
			l.Parent = names[rng.Intn(i)]
		}
		cfg.Layers[name] = l
	}
	g, diags := graph.Build(cfg)
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, g.Nodes, n)
	return g
}

// parsed is the buildspec as a generic YAML reader sees it.
type parsed struct {
	Version string `yaml:"version"`
	Env     struct {
		Shell     string            `yaml:"shell"`
		Variables map[string]string `yaml:"variables"`
	} `yaml:"env"`
	Batch struct {
		FastFail   *bool `yaml:"fast-fail"`
		BuildGraph []struct {
			Identifier string `yaml:"identifier"`
			Env        struct {
				Variables map[string]string `yaml:"variables"`
			} `yaml:"env"`
			DependOn      []string `yaml:"depend-on"`
			IgnoreFailure *bool    `yaml:"ignore-failure"`
		} `yaml:"build-graph"`
	} `yaml:"batch"`
	Phases map[string]struct {
		OnFailure string   `yaml:"on-failure"`
		Commands  []string `yaml:"commands"`
	} `yaml:"phases"`
	Reports map[string]struct {
		Files      []string `yaml:"files"`
		FileFormat string   `yaml:"file-format"`
	} `yaml:"reports"`
	Artifacts struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"artifacts"`
	Cache struct {
		Paths []string `yaml:"paths"`
	} `yaml:"cache"`
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	var p parsed
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // every key the buildspec writes is one this test knows
	require.NoError(t, dec.Decode(&p), string(data))
	return p
}

type edge struct{ from, to string }

// checkGraph asserts the build-graph has exactly g's nodes and edges.
func checkGraph(t *testing.T, g *graph.Graph, data []byte) {
	t.Helper()
	p := parse(t, data)
	require.Equal(t, "0.2", p.Version)
	require.NotNil(t, p.Batch.FastFail)
	for name := range p.Phases {
		require.Contains(t, []string{"install", "pre_build", "build", "post_build"}, name)
	}

	// The graph is: lease acquire → the layer DAG → lease release.
	tasks := p.Batch.BuildGraph
	require.GreaterOrEqual(t, len(tasks), 2)
	first, last := tasks[0], tasks[len(tasks)-1]
	assert.Equal(t, "acquire", first.Env.Variables[EnvBatchStep])
	assert.Empty(t, first.DependOn, "the lease build runs first")
	assert.Equal(t, "release", last.Env.Variables[EnvBatchStep])
	tasks = tasks[1 : len(tasks)-1]

	idToLayer := map[string]string{}
	var gotNodes []string
	for _, task := range tasks {
		require.Regexp(t, `^[A-Za-z][A-Za-z0-9_]{0,99}$`, task.Identifier)
		_, dup := idToLayer[task.Identifier]
		require.False(t, dup, "identifier %s used twice", task.Identifier)
		require.NotEqual(t, first.Identifier, task.Identifier)
		require.NotEqual(t, last.Identifier, task.Identifier)
		layer := task.Env.Variables["AMIBAKE_LAYER"]
		require.NotEmpty(t, layer, "task %s has no AMIBAKE_LAYER", task.Identifier)
		assert.Empty(t, task.Env.Variables[EnvBatchStep])
		idToLayer[task.Identifier] = layer
		gotNodes = append(gotNodes, layer)
	}
	var gotEdges []edge
	seen := map[string]bool{first.Identifier: true}
	for _, task := range tasks {
		for _, dep := range task.DependOn {
			require.True(t, seen[dep], "task %s is listed before its dependency %s", task.Identifier, dep)
			if dep == first.Identifier {
				require.Nil(t, g.Nodes[idToLayer[task.Identifier]].Parent, "only roots wait for the lease build directly")
				continue
			}
			parent, ok := idToLayer[dep]
			require.True(t, ok, "task %s depends on unknown %s", task.Identifier, dep)
			gotEdges = append(gotEdges, edge{parent, idToLayer[task.Identifier]})
		}
		require.NotEmpty(t, task.DependOn, "every layer build runs under the lease")
		seen[task.Identifier] = true
	}
	var ids []string
	for id := range idToLayer {
		ids = append(ids, id)
	}
	assert.ElementsMatch(t, ids, last.DependOn, "the release waits for every layer build")

	var wantNodes []string
	var wantEdges []edge
	for name, n := range g.Nodes {
		wantNodes = append(wantNodes, name)
		for _, c := range n.Children {
			wantEdges = append(wantEdges, edge{name, c.Name()})
		}
	}
	sort.Strings(gotNodes)
	sort.Strings(wantNodes)
	less := func(e []edge) func(i, j int) bool {
		return func(i, j int) bool { return e[i].from+"\x00"+e[i].to < e[j].from+"\x00"+e[j].to }
	}
	sort.Slice(gotEdges, less(gotEdges))
	sort.Slice(wantEdges, less(wantEdges))
	assert.Equal(t, wantNodes, gotNodes, "nodes")
	assert.Equal(t, wantEdges, gotEdges, "edges")

	build := strings.Join(p.Phases["build"].Commands, "\n")
	assert.Contains(t, build, `amibake --output json bake "$AMIBAKE_LAYER" --lock-batch "$AMIBAKE_BATCH_ID"`)
	assert.Contains(t, build, `amibake ci lease acquire --ttl 8h`)
	assert.Contains(t, build, `amibake ci lease release`)
	assert.Equal(t, "JUNITXML", p.Reports[ReportGroup].FileFormat)
	assert.Contains(t, p.Cache.Paths, cacheToolsPath)
}

func TestBatchGraphExample(t *testing.T) {
	g := exampleGraph(t)
	data, err := Marshal(BatchGraph(g, Options{Version: "v1.2.3"}), "")
	require.NoError(t, err)
	checkGraph(t, g, data)
	p := parse(t, data)
	require.Len(t, p.Batch.BuildGraph, 7)
	assert.Equal(t, LockIdentifier, p.Batch.BuildGraph[0].Identifier)
	assert.Equal(t, "linux", p.Batch.BuildGraph[1].Identifier)
	assert.Equal(t, []string{LockIdentifier}, p.Batch.BuildGraph[1].DependOn)
	assert.Equal(t, []string{"base"}, p.Batch.BuildGraph[len(p.Batch.BuildGraph)-2].DependOn)
	assert.Equal(t, UnlockIdentifier, p.Batch.BuildGraph[6].Identifier)
}

func TestBatchGraphLarge(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := randomGraph(t, 50, seed)
			data, err := Marshal(BatchGraph(g, Options{}), "header")
			require.NoError(t, err)
			checkGraph(t, g, data)
		})
	}
}

func TestSingle(t *testing.T) {
	data, err := Marshal(Single(Options{Version: "v1.2.3", Command: "patch run --rollout", Dir: "images"}), "a header\nof two lines")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "# a header\n# of two lines\nversion: \"0.2\"\n"), string(data))
	p := parse(t, data)
	assert.Equal(t, "v1.2.3", p.Env.Variables["AMIBAKE_VERSION"])
	assert.Equal(t, PackerVersion, p.Env.Variables["PACKER_VERSION"])
	assert.Equal(t, "patch run --rollout", p.Env.Variables["AMIBAKE_COMMAND"])
	assert.Empty(t, p.Batch.BuildGraph)
	install := strings.Join(p.Phases["install"].Commands, "\n")
	assert.Contains(t, install, "cmd/amibake@${AMIBAKE_VERSION}")
	assert.Contains(t, install, "cmd/packer-plugin-amibake@${AMIBAKE_VERSION}")
	assert.Contains(t, install, "packer_${PACKER_VERSION}_linux_amd64.zip")
	assert.Contains(t, install, "github.com/hashicorp/amazon")
	build := strings.Join(p.Phases["build"].Commands, "\n")
	assert.Contains(t, build, "cd \"images\"\n")
	assert.Contains(t, build, "amibake --output json $AMIBAKE_COMMAND")
	assert.Equal(t, []string{JUnitFile}, p.Reports[ReportGroup].Files)

	dev := parse(t, must(Marshal(Single(Options{Version: "dev"}), "")))
	assert.Equal(t, "latest", dev.Env.Variables["AMIBAKE_VERSION"])
	assert.Equal(t, DefaultCommand, dev.Env.Variables["AMIBAKE_COMMAND"])
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestIdentifier(t *testing.T) {
	for in, want := range map[string]string{
		"app-web":                    "app_web",
		"base":                       "base",
		"9lives":                     "layer_9lives",
		"_x":                         "layer__x",
		"a.b":                        "a_b",
		strings.Repeat("x", 200):     strings.Repeat("x", maxIdentifier),
		"ünïcode":                    "layer__n_code",
		"Foundation_v2":              "Foundation_v2",
		"layer with spaces":          "layer_with_spaces",
		"trailing-":                  "trailing_",
		"UPPER-lower-123":            "UPPER_lower_123",
		"x" + strings.Repeat("-", 3): "x___",
	} {
		assert.Equal(t, want, Identifier(in), in)
	}
}

// TestVersionsMatchToolsScript: CodeBuild installs the packer and amazon
// plugin versions the tests and the demo run with.
func TestVersionsMatchToolsScript(t *testing.T) {
	b, err := os.ReadFile("../../scripts/tools.sh")
	require.NoError(t, err)
	for name, want := range map[string]string{"PACKER_VERSION": PackerVersion, "AMAZON_PLUGIN_VERSION": AmazonPluginVersion} {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindStringSubmatch(string(b))
		require.NotNil(t, m, "%s in scripts/tools.sh", name)
		assert.Equal(t, m[1], want, name)
	}
}

func TestBatchLeaseIdentifiersAvoidLayers(t *testing.T) {
	ids := map[string]string{"amibake_lease_acquire": "amibake_lease_acquire", "x": "amibake_lease_acquire_"}
	assert.Equal(t, "amibake_lease_acquire__", reserve(LockIdentifier, ids))
	assert.Equal(t, UnlockIdentifier, reserve(UnlockIdentifier, ids))
}
