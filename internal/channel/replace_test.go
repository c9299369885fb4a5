package channel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// seedAs seeds a build of layer in both regions with the given fingerprint
// and patch level (SeedBuild derives the fingerprint from the build id).
func seedAs(t *testing.T, sb *sandbox.Sandbox, layer, buildID, fp, level string, revoked bool) channeltest.Build {
	t.Helper()
	b := channeltest.SeedBuild(t, sb, channeltest.Project, layer, buildID, nil, "ami-source")
	b.Fingerprint = fp
	sb.Do(func(w *sandbox.World) {
		for _, id := range b.IDs {
			w.EC2.Images[id].Tags[lineage.TagFingerprint] = fp
			w.EC2.Images[id].Tags[lineage.TagPatchLevel] = level
			if revoked {
				w.EC2.Images[id].Tags[lineage.TagRevoked] = "bad canary"
			}
		}
	})
	return b
}

type replaceWorld struct {
	sb                          *sandbox.Sandbox
	clients                     *awsapi.Clients
	old, fresh, other, bad      channeltest.Build
	replacer                    *channel.Replacer
	stable, pinned, hold, euStb string
}

// newReplaceWorld: app-web's patch rebake (fresh) keeps old's fingerprint;
// latest already holds fresh (bake published it). stable and canary hold
// old (drifted), pinned holds other content, hold a revoked AMI of the
// same content, and eu-west-1 has its own stable on old's copy.
func newReplaceWorld(t *testing.T) *replaceWorld {
	sb := sandbox.Start(t)
	w := &replaceWorld{sb: sb, clients: awsapi.NewClients(sb.Config)}
	w.old = seedAs(t, sb, "app-web", "b1", "fp-web", "pl-1", false)
	w.fresh = seedAs(t, sb, "app-web", "b2", "fp-web", "pl-2", false)
	w.other = seedAs(t, sb, "app-web", "b0", "fp-web-older-content", "pl-1", false)
	w.bad = seedAs(t, sb, "app-web", "b3", "fp-web", "pl-1", true)
	home := channeltest.Regions[0]
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "latest"), w.fresh.Home())
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "stable"), w.old.Home())
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "canary"), w.old.Home())
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "pinned"), w.other.Home())
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "hold"), w.bad.Home())
	channeltest.PutChannel(t, sb, "eu-west-1", paths.Channel("app-web", "stable"), w.old.IDs["eu-west-1"])
	// Another layer's channel under a similar path is not app-web's.
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web2", "stable"), w.old.Home())
	w.replacer = &channel.Replacer{SSMFor: w.clients.SSM, EC2For: w.clients.EC2, Paths: paths, Regions: channeltest.Regions, RunID: "run-7"}
	return w
}

func byChannel(rs []*channel.Replacement) map[string]*channel.Replacement {
	m := map[string]*channel.Replacement{}
	for _, r := range rs {
		m[r.Region+"/"+r.Channel] = r
	}
	return m
}

func (w *replaceWorld) value(t *testing.T, region, layer, ch string) string {
	t.Helper()
	v, err := channel.Get(context.Background(), w.clients.SSM(region), paths.Channel(layer, ch))
	require.NoError(t, err)
	return v.AMI
}

func TestReplacerPlanDryRun(t *testing.T) {
	w := newReplaceWorld(t)
	w.sb.ResetLog()
	plan, err := w.replacer.Plan(context.Background(), "app-web", "fp-web", nil, []string{"stable", "blue", "latest"})
	require.NoError(t, err)
	got := byChannel(plan)
	require.Len(t, got, 6, "every channel but latest, plus the fleet's unset blue: %v", got)
	assert.Equal(t, channel.ReplaceWouldMove, got["us-east-1/stable"].Status)
	assert.Equal(t, w.old.Home(), got["us-east-1/stable"].From)
	assert.Empty(t, got["us-east-1/stable"].To, "a dry run knows no new AMI yet")
	assert.Equal(t, channel.ReplaceWouldMove, got["us-east-1/canary"].Status)
	assert.Equal(t, channel.ReplaceWouldMove, got["eu-west-1/stable"].Status)
	assert.Equal(t, channel.ReplaceOtherContent, got["us-east-1/pinned"].Status)
	assert.Contains(t, got["us-east-1/pinned"].Reason, "other content")
	assert.Equal(t, channel.ReplaceRevoked, got["us-east-1/hold"].Status)
	assert.Equal(t, channel.ReplaceNotSet, got["us-east-1/blue"].Status)
	// One GetParametersByPath and one DescribeImages per region.
	assert.Equal(t, 2, w.sb.CountFirstAttempts("ssm", "GetParametersByPath"))
	assert.Equal(t, 2, w.sb.CountFirstAttempts("ec2", "DescribeImages"))
	assert.Zero(t, w.sb.CountFirstAttempts("ssm", "PutParameter"))
}

func TestReplacerApply(t *testing.T) {
	ctx := context.Background()
	w := newReplaceWorld(t)
	plan, err := w.replacer.Plan(ctx, "app-web", "fp-web", w.fresh.IDs, []string{"stable"})
	require.NoError(t, err)
	require.NoError(t, w.replacer.Apply(ctx, plan, "pl-2"))
	got := byChannel(plan)
	for _, k := range []string{"us-east-1/stable", "us-east-1/canary", "eu-west-1/stable"} {
		assert.Equal(t, channel.ReplaceMoved, got[k].Status, k)
		assert.Equal(t, int64(2), got[k].Version, k)
	}
	assert.Equal(t, w.fresh.Home(), w.value(t, "us-east-1", "app-web", "stable"))
	assert.Equal(t, w.fresh.Home(), w.value(t, "us-east-1", "app-web", "canary"))
	assert.Equal(t, w.fresh.IDs["eu-west-1"], w.value(t, "eu-west-1", "app-web", "stable"), "each region gets its own copy")
	assert.Equal(t, w.other.Home(), w.value(t, "us-east-1", "app-web", "pinned"), "other content stays")
	assert.Equal(t, w.bad.Home(), w.value(t, "us-east-1", "app-web", "hold"), "a revoked AMI is not replaced")
	assert.Equal(t, w.old.Home(), w.value(t, "us-east-1", "app-web2", "stable"))
	assert.Equal(t, w.fresh.Home(), w.value(t, "us-east-1", "app-web", "latest"))

	hist, err := channel.History(ctx, w.clients.SSM("us-east-1"), paths.Channel("app-web", "stable"))
	require.NoError(t, err)
	require.Len(t, hist, 2)
	assert.Equal(t, "amibake patch run run-7: patch-drift: replaces "+w.old.Home()+" (same fingerprint; patch level pl-1 → pl-2)", hist[1].Description)
	assert.Empty(t, hist[1].Labels, "no label: retire keeps labelled versions forever")

	// Again: everything is current, nothing is written.
	w.sb.ResetLog()
	again, err := w.replacer.Plan(ctx, "app-web", "fp-web", w.fresh.IDs, nil)
	require.NoError(t, err)
	require.NoError(t, w.replacer.Apply(ctx, again, "pl-2"))
	assert.Equal(t, channel.ReplaceCurrent, byChannel(again)["us-east-1/stable"].Status)
	assert.Zero(t, w.sb.CountFirstAttempts("ssm", "PutParameter"))
}

// A write that fails in eu-west-1 puts the channels already moved back:
// the layer's channels move all together or not at all.
func TestReplacerAllOrNothing(t *testing.T) {
	ctx := context.Background()
	w := newReplaceWorld(t)
	cfg := w.sb.Config.Copy()
	cfg.RetryMaxAttempts = 1
	clients := awsapi.NewClients(cfg)
	w.replacer.SSMFor = clients.SSM
	plan, err := w.replacer.Plan(ctx, "app-web", "fp-web", w.fresh.IDs, nil)
	require.NoError(t, err)
	w.sb.SetFaults(sandbox.FaultRule{Service: "ssm", Action: "PutParameter", Region: "eu-west-1", ErrorRate: 1})
	err = w.replacer.Apply(ctx, plan, "pl-2")
	require.ErrorContains(t, err, "eu-west-1")
	w.sb.SetFaults()
	for k, r := range byChannel(plan) {
		assert.NotEqual(t, channel.ReplaceMoved, r.Status, k)
	}
	assert.Equal(t, channel.ReplaceNotMoved, byChannel(plan)["us-east-1/stable"].Status)
	assert.Equal(t, w.old.Home(), w.value(t, "us-east-1", "app-web", "stable"))
	assert.Equal(t, w.old.Home(), w.value(t, "us-east-1", "app-web", "canary"))
	assert.Equal(t, w.old.IDs["eu-west-1"], w.value(t, "eu-west-1", "app-web", "stable"))
	hist, err := channel.History(ctx, w.clients.SSM("us-east-1"), paths.Channel("app-web", "stable"))
	require.NoError(t, err)
	require.Len(t, hist, 3, "moved, then put back")
	assert.Contains(t, hist[2].Description, "undo of the patch-drift move")
}

// An earlier patch run moved latest to its rebake and died before moving
// stable: LeftBehind moves stable, not a channel written after latest (an
// operator's choice), not other content, not a channel in a region
// without latest; a revoked latest moves nothing.
func TestReplacerLeftBehind(t *testing.T) {
	ctx := context.Background()
	sb := sandbox.Start(t)
	clients := awsapi.NewClients(sb.Config)
	home := channeltest.Regions[0]
	old := seedAs(t, sb, "app-web", "b1", "fp-web", "pl-1", false)
	other := seedAs(t, sb, "app-web", "b0", "fp-other", "pl-1", false)
	sb.AdvanceClock(time.Minute)
	fresh := seedAs(t, sb, "app-web", "b2", "fp-web", "pl-2", false)
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "stable"), old.Home())
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "pinned"), other.Home())
	channeltest.PutChannel(t, sb, "eu-west-1", paths.Channel("app-web", "stable"), old.IDs["eu-west-1"])
	sb.AdvanceClock(time.Second)
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "latest"), fresh.Home())
	sb.AdvanceClock(time.Second)
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "rollback"), old.Home())

	r := &channel.Replacer{SSMFor: clients.SSM, EC2For: clients.EC2, Paths: paths, Regions: channeltest.Regions, RunID: "run-8"}
	moves, err := r.LeftBehind(ctx, "app-web")
	require.NoError(t, err)
	require.Len(t, moves, 1, "%+v", moves)
	assert.Equal(t, "stable", moves[0].Channel)
	assert.Equal(t, home, moves[0].Region)
	assert.Equal(t, fresh.Home(), moves[0].To)
	require.NoError(t, r.Apply(ctx, moves, ""))
	assert.Equal(t, channel.ReplaceMoved, moves[0].Status)

	get := func(region, ch string) string {
		v, err := channel.Get(ctx, clients.SSM(region), paths.Channel("app-web", ch))
		require.NoError(t, err)
		return v.AMI
	}
	assert.Equal(t, fresh.Home(), get(home, "stable"))
	assert.Equal(t, old.Home(), get(home, "rollback"), "written after latest: an operator's")
	assert.Equal(t, other.Home(), get(home, "pinned"))
	assert.Equal(t, old.IDs["eu-west-1"], get("eu-west-1", "stable"), "no latest in eu-west-1")
	hist, err := channel.History(ctx, clients.SSM(home), paths.Channel("app-web", "stable"))
	require.NoError(t, err)
	assert.Equal(t, "amibake patch run run-8: patch-drift: replaces "+old.Home()+" (same fingerprint; patch level pl-1 → pl-2)", hist[len(hist)-1].Description)

	again, err := r.LeftBehind(ctx, "app-web")
	require.NoError(t, err)
	assert.Empty(t, again)

	// A revoked latest is nobody's target.
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "canary"), old.Home())
	sb.AdvanceClock(time.Second)
	bad := seedAs(t, sb, "app-web", "b3", "fp-web", "pl-3", true)
	channeltest.PutChannel(t, sb, home, paths.Channel("app-web", "latest"), bad.Home())
	moves, err = r.LeftBehind(ctx, "app-web")
	require.NoError(t, err)
	assert.Empty(t, moves)
}
