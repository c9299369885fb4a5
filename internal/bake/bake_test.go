package bake

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/internal/sandbox"
)

// recordObserver keeps what a bake reported.
type recordObserver struct {
	started []string
	lines   []string
	done    []*Result
}

func (o *recordObserver) LayerStarted(layer string, _ plan.Action, _ string) {
	o.started = append(o.started, layer)
}
func (o *recordObserver) LayerEvent(layer string, ev Event) {
	if _, text, ok := ev.UI(); ok {
		o.lines = append(o.lines, layer+": "+text)
	}
}
func (o *recordObserver) LayerMessage(layer, msg string) { o.lines = append(o.lines, layer+": "+msg) }
func (o *recordObserver) LayerDone(r *Result)            { o.done = append(o.done, r) }

// TestBakeSSHSecretsAndUnavailableAMI runs an ssh-mode build of base with
// the simulated packer, which echoes its environment and reports AMIs that
// do not exist: the secret reaches packer only through its environment and
// shows nowhere (template, log, events, result); the missing AMI fails the
// layer, skips its descendants, and no channel moves.
func TestBakeSSHSecretsAndUnavailableAMI(t *testing.T) {
	cfg, g, fps := loadExample(t, ProvisionerSSH)
	sb := sandbox.Start(t)
	_, secrets, diags := NewTemplateData(RenderInput{Config: cfg, Layer: cfg.Layers["base"], Fingerprint: fps["base"], BuildID: "x"})
	require.False(t, diags.HasErrors())
	require.Len(t, secrets, 1)
	envName := secrets[0].EnvName
	require.NotEmpty(t, envName)

	obs := &recordObserver{}
	dir := t.TempDir()
	b := &Baker{
		Config: cfg, Graph: g, Fingerprints: fps, Clients: awsapi.NewClients(sb.Config),
		Runner: fakeRunner(t, "FAKEPACKER_ECHO_ENV="+envName), ProjectDir: dir,
		WaitPoll: 10 * time.Millisecond, WaitTimeout: time.Second, Observer: obs, Parallel: 2,
	}
	p := &plan.Plan{Project: cfg.Project.Name, Layers: []*plan.Layer{
		{Layer: "base", Action: plan.ActionBuild, Reason: plan.ReasonNew, Region: "us-east-1"},
		{Layer: "app-web", Action: plan.ActionBuild, Reason: plan.ReasonParentRebuilt, Region: "us-east-1"},
	}}
	sb.ResetLog()
	results, err := b.Run(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, results, 2)

	base, web := results[0], results[1]
	assert.Equal(t, StatusFailed, base.Status)
	assert.Contains(t, base.Error, "is missing")
	assert.Equal(t, StatusSkipped, web.Status)
	assert.Equal(t, "skipped: base failed", web.Detail)
	assert.Equal(t, []string{"base"}, obs.started, "app-web never started")
	assert.Len(t, obs.done, 2)
	assert.Zero(t, sb.CountCalls("ssm", "PutParameter"), "ssh mode writes no secret parameter; no channel moves to an unavailable AMI")

	assert.Contains(t, strings.Join(obs.lines, "\n"), envName+"="+Redacted, "packer had the secret in its environment")
	assert.NotContains(t, strings.Join(obs.lines, "\n"), secretValue)
	assert.NotContains(t, base.Error, secretValue)
	assert.Equal(t, filepath.Join(dir, ".amibake", "builds", b.RunID, "base.pkr.hcl"), base.Template)
	files := 0
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.NotContains(t, string(data), secretValue, p)
		return nil
	}))
	assert.Equal(t, 1, files, "the template; the fake runner logs elsewhere")
	logData, err := os.ReadFile(base.LogPath)
	require.NoError(t, err)
	assert.NotContains(t, string(logData), secretValue)
	assert.Contains(t, string(logData), envName+"="+Redacted)
}
