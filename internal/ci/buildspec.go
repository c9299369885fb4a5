// Package ci writes the CodeBuild buildspec that runs amibake: one build
// that runs a whole command (bake, patch run, ...), or a batch build-graph
// with one build per layer whose depend-on edges are the layer DAG's.
package ci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/amibake/amibake/internal/graph"
)

// Tool versions the buildspec pins; they match scripts/tools.sh.
const (
	PackerVersion        = "1.11.2"
	AmazonPluginVersion  = "1.3.6"
	ModulePath           = "github.com/amibake/amibake"
	DefaultCommand       = "bake"
	ResultFile           = "amibake-result.json"
	JUnitFile            = "amibake-junit.xml"
	ReportGroup          = "amibake"
	toolsDir             = "$HOME/.cache/amibake/tools"
	cacheToolsPath       = "/root/.cache/amibake/tools/**/*"
	defaultBatchLockWait = "2h"
	defaultBatchTTL      = "8h"
)

// Options shape the buildspec.
type Options struct {
	// Version of amibake to install (go install MODULE@Version): a tag, or
	// "latest" when the running binary is a development build.
	Version string
	// Command is the amibake command line (without "amibake") the single
	// build runs when AMIBAKE_COMMAND is not overridden; default "bake".
	Command string
	// Dir is the project directory inside the source, "" for the root.
	Dir string
	// LockWait is how long the batch's lease build waits for the project
	// lock another run holds (default 2h).
	LockWait string
	// BatchTTL is how long the batch lease lives: the batch timeout
	// (default 8h). A batch whose release build never runs (a failed
	// layer) blocks the project no longer than this.
	BatchTTL string
}

// Buildspec is a CodeBuild buildspec, version 0.2. Field order is the
// order of the YAML keys.
type Buildspec struct {
	Version   string     `yaml:"version"`
	Env       *Env       `yaml:"env,omitempty"`
	Batch     *Batch     `yaml:"batch,omitempty"`
	Phases    *Phases    `yaml:"phases,omitempty"`
	Reports   Reports    `yaml:"reports,omitempty"`
	Artifacts *Artifacts `yaml:"artifacts,omitempty"`
	Cache     *Cache     `yaml:"cache,omitempty"`
}

// Env is the env section.
type Env struct {
	Shell     string    `yaml:"shell,omitempty"`
	Variables Variables `yaml:"variables,omitempty"`
}

// Variables keeps its keys in the order they were added.
type Variables []Variable

// Variable is one env variable.
type Variable struct{ Name, Value string }

// MarshalYAML writes the variables as a mapping in their order.
func (v Variables) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, kv := range v {
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: kv.Name},
			&yaml.Node{Kind: yaml.ScalarNode, Value: kv.Value, Style: yaml.DoubleQuotedStyle})
	}
	return n, nil
}

// Batch is the batch section.
type Batch struct {
	FastFail   bool        `yaml:"fast-fail"`
	BuildGraph []BatchTask `yaml:"build-graph"`
}

// BatchTask is one build of a build-graph.
type BatchTask struct {
	Identifier    string   `yaml:"identifier"`
	Env           *Env     `yaml:"env,omitempty"`
	DependOn      []string `yaml:"depend-on,omitempty"`
	IgnoreFailure bool     `yaml:"ignore-failure"`
	Layer         string   `yaml:"-"` // the layer name the identifier stands for
	Parent        string   `yaml:"-"` // the parent layer's name, "" for a root
}

// Phases is the phases section.
type Phases struct {
	Install   *Phase `yaml:"install,omitempty"`
	PreBuild  *Phase `yaml:"pre_build,omitempty"`
	Build     *Phase `yaml:"build,omitempty"`
	PostBuild *Phase `yaml:"post_build,omitempty"`
}

// Phase is one phase.
type Phase struct {
	OnFailure string   `yaml:"on-failure,omitempty"`
	Commands  []string `yaml:"commands"`
	Finally   []string `yaml:"finally,omitempty"`
}

// Reports maps report group names to their files.
type Reports map[string]Report

// Report is one report group.
type Report struct {
	Files      []string `yaml:"files"`
	FileFormat string   `yaml:"file-format"`
}

// Artifacts is the artifacts section.
type Artifacts struct {
	Name    string   `yaml:"name,omitempty"`
	Files   []string `yaml:"files"`
	Discard bool     `yaml:"discard-paths,omitempty"`
}

// Cache is the cache section (for S3 or local custom caches).
type Cache struct {
	Paths []string `yaml:"paths"`
}

func (o Options) withDefaults() Options {
	if o.Version == "" || o.Version == "dev" {
		o.Version = "latest"
	}
	if o.Command == "" {
		o.Command = DefaultCommand
	}
	if o.LockWait == "" {
		o.LockWait = defaultBatchLockWait
	}
	if o.BatchTTL == "" {
		o.BatchTTL = defaultBatchTTL
	}
	return o
}

// base is the part both forms share: pinned tools, their cache, install.
func base(o Options) *Buildspec {
	vars := Variables{
		{"AMIBAKE_VERSION", o.Version},
		{"PACKER_VERSION", PackerVersion},
		{"AMAZON_PLUGIN_VERSION", AmazonPluginVersion},
		{"AMIBAKE_COMMAND", o.Command},
		{"AMIBAKE_OUTPUT", "json"},
		{"CHECKPOINT_DISABLE", "1"},
		{"GOTOOLCHAIN", "auto"},
	}
	cd := ""
	if o.Dir != "" && o.Dir != "." {
		cd = fmt.Sprintf("cd %q\n", o.Dir)
	}
	install := []string{
		// One directory per pinned set, restored from the CodeBuild cache.
		`export TOOLS="` + toolsDir + `/codebuild-packer-${PACKER_VERSION}_amazon-${AMAZON_PLUGIN_VERSION}_amibake-${AMIBAKE_VERSION}"`,
		`export PATH="$TOOLS/bin:$PATH" PACKER_PLUGIN_PATH="$TOOLS/plugins"`,
		`mkdir -p "$TOOLS/bin" "$TOOLS/plugins"`,
		"if [ ! -x \"$TOOLS/bin/packer\" ]; then\n" +
			"  curl -fsSLo /tmp/packer.zip \"https://releases.hashicorp.com/packer/${PACKER_VERSION}/packer_${PACKER_VERSION}_linux_amd64.zip\"\n" +
			"  unzip -o -d \"$TOOLS/bin\" /tmp/packer.zip packer\n" +
			"fi",
		"if [ ! -x \"$TOOLS/bin/amibake\" ] || [ \"$AMIBAKE_VERSION\" = latest ]; then\n" +
			"  GOBIN=\"$TOOLS/bin\" go install \"" + ModulePath + "/cmd/amibake@${AMIBAKE_VERSION}\"\n" +
			"  GOBIN=\"$TOOLS/bin\" go install \"" + ModulePath + "/cmd/packer-plugin-amibake@${AMIBAKE_VERSION}\"\n" +
			"fi",
		`packer plugins installed | grep -q "amazon.*v${AMAZON_PLUGIN_VERSION}" || packer plugins install github.com/hashicorp/amazon "v${AMAZON_PLUGIN_VERSION}"`,
		`packer plugins install --path "$TOOLS/bin/packer-plugin-amibake" ` + ModulePath,
		`amibake --version`,
		`packer version`,
	}
	return &Buildspec{
		Version: "0.2",
		Env:     &Env{Shell: "bash", Variables: vars},
		Phases: &Phases{
			Install: &Phase{OnFailure: "ABORT", Commands: install},
			PreBuild: &Phase{Commands: []string{
				cd + "amibake validate",
			}},
		},
		Cache: &Cache{Paths: []string{cacheToolsPath}},
	}
}

// reportPhases adds the JSON result file as an artifact and its JUnit
// rendering as a CodeBuild test report (CodeBuild reports take test
// formats only, so the JSON itself is the artifact).
func reportPhases(b *Buildspec, o Options, run string) {
	cd := ""
	if o.Dir != "" && o.Dir != "." {
		cd = fmt.Sprintf("cd %q\n", o.Dir)
	}
	b.Phases.Build = &Phase{Commands: []string{
		cd + "set -o pipefail\n" + run + " | tee \"$CODEBUILD_SRC_DIR/" + ResultFile + "\"",
	}}
	b.Phases.PostBuild = &Phase{Commands: []string{
		"if [ -s \"$CODEBUILD_SRC_DIR/" + ResultFile + "\" ]; then\n" +
			"  amibake ci junit --in \"$CODEBUILD_SRC_DIR/" + ResultFile + "\" --out \"$CODEBUILD_SRC_DIR/" + JUnitFile + "\"\n" +
			"fi",
	}}
	b.Reports = Reports{ReportGroup: {Files: []string{JUnitFile}, FileFormat: "JUNITXML"}}
	b.Artifacts = &Artifacts{Name: "amibake-results", Files: []string{ResultFile, JUnitFile}}
}

// Single is the buildspec of one build running $AMIBAKE_COMMAND (a
// schedule overrides it: "patch run --rollout", "patch scan", ...).
func Single(o Options) *Buildspec {
	o = o.withDefaults()
	b := base(o)
	reportPhases(b, o, `amibake --output json $AMIBAKE_COMMAND`)
	return b
}

// Identifiers of the batch's lease builds (see BatchGraph).
const (
	LockIdentifier   = "amibake_lease_acquire"
	UnlockIdentifier = "amibake_lease_release"
	// EnvBatchStep tells a batch task it is a lease build, not a layer.
	EnvBatchStep = "AMIBAKE_BATCH_STEP"
)

// BatchGraph is the batch build-graph buildspec: a first task takes the
// project lock for the whole batch (ci lease acquire), then one task per
// layer of g in topological order, each depending on its parent's task
// (roots on the lock task) and running `amibake bake $AMIBAKE_LAYER
// --lock-batch $AMIBAKE_BATCH_ID` under that lease, so sibling layers build
// at once; a last task, depending on every layer task, releases the lease.
func BatchGraph(g *graph.Graph, o Options) *Buildspec {
	o = o.withDefaults()
	b := base(o)
	reportPhases(b, o, `amibake --output json bake "$AMIBAKE_LAYER" --lock-batch "$AMIBAKE_BATCH_ID"`)
	cd := ""
	if o.Dir != "" && o.Dir != "." {
		cd = fmt.Sprintf("cd %q\n", o.Dir)
	}
	layerRun := b.Phases.Build.Commands[0]
	b.Phases.Build.Commands = []string{
		// CodeBuild starts every build of a batch on behalf of the batch;
		// AMIBAKE_BATCH_ID (StartBuildBatch environment override) names it
		// explicitly where that is not wanted.
		`export AMIBAKE_BATCH_ID="${AMIBAKE_BATCH_ID:-$CODEBUILD_INITIATOR}"`,
		`if [ "$` + EnvBatchStep + `" = acquire ]; then` + "\n" +
			"  " + cd + `amibake ci lease acquire --ttl ` + o.BatchTTL + ` --lock-timeout ` + o.LockWait + "\n" +
			`elif [ "$` + EnvBatchStep + `" = release ]; then` + "\n" +
			"  " + cd + "amibake ci lease release\n" +
			"else\n" +
			indent(layerRun, "  ") + "\n" +
			"fi",
	}
	ids := Identifiers(g)
	lockID, unlockID := reserve(LockIdentifier, ids), reserve(UnlockIdentifier, ids)
	tasks := []BatchTask{{
		Identifier: lockID,
		Env:        &Env{Variables: Variables{{EnvBatchStep, "acquire"}}},
	}}
	var all []string
	for _, n := range g.Topo() {
		t := BatchTask{
			Identifier: ids[n.Name()],
			Layer:      n.Name(),
			Env:        &Env{Variables: Variables{{"AMIBAKE_LAYER", n.Name()}}},
			DependOn:   []string{lockID},
		}
		if n.Parent != nil {
			t.Parent = n.Parent.Name()
			t.DependOn = []string{ids[n.Parent.Name()]}
		}
		tasks = append(tasks, t)
		all = append(all, t.Identifier)
	}
	if len(all) == 0 {
		all = []string{lockID}
	}
	tasks = append(tasks, BatchTask{
		Identifier: unlockID,
		Env:        &Env{Variables: Variables{{EnvBatchStep, "release"}}},
		DependOn:   all,
	})
	b.Batch = &Batch{BuildGraph: tasks}
	return b
}

// reserve returns id, changed until no layer's identifier is the same.
func reserve(id string, layers map[string]string) string {
	taken := map[string]bool{}
	for _, v := range layers {
		taken[v] = true
	}
	for taken[id] {
		id += "_"
	}
	return id
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// maxIdentifier bounds an identifier's length; CodeBuild identifiers are
// letters, digits and underscores, starting with a letter.
const maxIdentifier = 100

var notIdent = regexp.MustCompile(`[^A-Za-z0-9_]`)

// Identifier turns a layer name into a CodeBuild batch identifier:
// characters other than letters, digits and "_" become "_", a leading
// non-letter gets a "layer_" prefix, and long names are cut.
func Identifier(layer string) string {
	id := notIdent.ReplaceAllString(layer, "_")
	if id == "" || !(id[0] >= 'A' && id[0] <= 'Z' || id[0] >= 'a' && id[0] <= 'z') {
		id = "layer_" + id
	}
	if len(id) > maxIdentifier {
		id = id[:maxIdentifier]
	}
	return id
}

// Identifiers maps every layer of g to a unique identifier: Identifier,
// plus a short hash of the layer name where two layers would collide
// ("app-web" and "app_web").
func Identifiers(g *graph.Graph) map[string]string {
	names := make([]string, 0, len(g.Nodes))
	for name := range g.Nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	byID := map[string][]string{}
	for _, name := range names {
		id := Identifier(name)
		byID[id] = append(byID[id], name)
	}
	out := make(map[string]string, len(names))
	for id, group := range byID {
		for _, name := range group {
			if len(group) == 1 {
				out[name] = id
				continue
			}
			sum := sha256.Sum256([]byte(name))
			h := hex.EncodeToString(sum[:4])
			if len(id) > maxIdentifier-9 {
				id = id[:maxIdentifier-9]
			}
			out[name] = id + "_" + h
		}
	}
	return out
}

// Marshal writes b as YAML with a header comment.
func Marshal(b *Buildspec, header string) ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if header == "" {
			break
		}
		buf.WriteString("# " + line + "\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("encode buildspec: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode buildspec: %w", err)
	}
	return buf.Bytes(), nil
}
