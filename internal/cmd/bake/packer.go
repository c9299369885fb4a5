package bake

import (
	"fmt"
	"os/exec"
	"time"

	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/plan"
)

// Packer is how a command that bakes (bake, patch run) finds packer.
type Packer struct {
	Bin       string // --packer; else $AMIBAKE_PACKER; else packer on PATH
	PluginDir string // --plugin-dir; else $PACKER_PLUGIN_PATH
	Getenv    func(string) string
	Environ   []string
}

// Runner resolves the packer binary and returns the runner for logDir.
func (p Packer) Runner(logDir string) (*bake.Runner, error) {
	bin, pluginDir := p.Bin, p.PluginDir
	if bin == "" {
		bin = p.Getenv(EnvPacker)
	}
	if pluginDir == "" {
		pluginDir = p.Getenv(EnvPluginPath)
	}
	if bin == "" {
		bin = "packer"
	}
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("packer not found (%w): install packer >= 1.11 with the amazon and amibake plugins, or name it with --packer or $%s", err, EnvPacker)
	}
	return &bake.Runner{Bin: bin, PluginDir: pluginDir, Env: packerEnv(p.Environ), LogDir: logDir}, nil
}

// ConfigureEndpoint points a Baker at $AWS_ENDPOINT_URL and, for the
// sandbox (a loopback endpoint), applies the sandbox's quick poll settings.
func ConfigureEndpoint(b *bake.Baker, getenv func(string) string) {
	b.Endpoint = getenv(EnvEndpoint)
	b.Sandbox = isLoopback(b.Endpoint)
	if b.Sandbox {
		b.PollDelaySeconds, b.PollMaxAttempts = 1, 120
		b.StepPollInterval = 100 * time.Millisecond
		b.WaitPoll = 200 * time.Millisecond
	}
}

// NewObserver is bake's live view (prefixed lines on stderr) for the
// layers of a plan.
func NewObserver(ios *iostreams.IOStreams, p *plan.Plan) bake.Observer { return newView(ios, p) }

// Summary prints bake's summary table (through obs, a NewObserver), each
// failure with its log, and the counts.
func Summary(ios *iostreams.IOStreams, obs bake.Observer, results []*bake.Result) error {
	view, ok := obs.(liveObserver)
	if !ok {
		return fmt.Errorf("summary: not a bake live view")
	}
	rep := jsonReport{}
	for _, r := range results {
		switch r.Status {
		case bake.StatusBuilt:
			rep.Built++
		case bake.StatusReused:
			rep.Reused++
		case bake.StatusFailed:
			rep.Failed++
		case bake.StatusSkipped:
			rep.Skipped++
		}
	}
	return writeSummary(ios, view.LiveView, results, rep)
}
