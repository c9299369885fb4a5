package reliability

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/sandbox"
)

// lagWorld is a seeded world whose writes matching rule stay invisible to
// reads for 2 s (EC2 tags and Parameter Store are eventually consistent).
func lagWorld(t *testing.T, rule sandbox.FaultRule) (*sandbox.Sandbox, channeltest.Family, string) {
	t.Helper()
	sb := sandbox.Start(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/base/latest", fam.Base.Home())
	channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/app-web/latest", fam.AppWeb.Home())
	rule.InvisibleFor = sandbox.Duration{Duration: 2 * time.Second}
	sb.SetFaults(rule)
	return sb, fam, channeltest.CopyProject(t)
}

type historyJSON struct {
	Versions []struct {
		Version int    `json:"version"`
		AMI     string `json:"ami"`
		Current bool   `json:"current"`
	} `json:"versions"`
}

// Channel writes (PutParameter) lag by 2 s. The lock waits until its own
// lease shows before proceeding, so promote works; a promote right after a
// promote sees the first one's write (it waited on the lock) and changes
// nothing; history right after a promote either shows the new version or
// fails saying the channel is not set — never a wrong AMI; plan does not
// depend on channels and is unchanged.
func TestChannelWriteLag(t *testing.T) {
	t.Parallel()
	sb, fam, dir := lagWorld(t, sandbox.FaultRule{Service: "ssm", Action: "PutParameter"})
	cfg := fastRetryConfig(sb)
	planBefore := runIn(t, cfg, dir, "-o", "json", "plan")
	require.Equal(t, 0, planBefore.Code, "%s", planBefore)

	r := runIn(t, cfg, dir, "promote", "base", "--to", "stable")
	require.Equal(t, 0, r.Code, "promote waits for its lock lease to show\n%s", r)
	assert.Equal(t, "Promoted base latest → stable: "+fam.Base.Home()+" (was unset), /amibake/acme-golden/layers/base/stable version 1.\n", r.Out)

	h := runIn(t, cfg, dir, "-o", "json", "history", "base", "--channel", "stable")
	switch h.Code {
	case 0:
		var hj historyJSON
		require.NoError(t, json.Unmarshal([]byte(h.Out), &hj))
		require.Len(t, hj.Versions, 1)
		assert.Equal(t, fam.Base.Home(), hj.Versions[0].AMI)
	case 1:
		// Known gap: history reads the channel once and reports a write
		// still in flight as not set (an error, not a wrong answer).
		assert.Contains(t, h.Err, "Error: channel /amibake/acme-golden/layers/base/stable is not set (no parameter)")
		t.Logf("history right after promote: stale read reported as an error: %s", strings.TrimSpace(h.Err))
	default:
		t.Fatalf("history: %s", h)
	}

	again := runIn(t, cfg, dir, "promote", "base", "--to", "stable")
	require.Equal(t, 0, again.Code, "%s", again)
	assert.Equal(t, "Nothing to do: base stable already holds "+fam.Base.Home()+" (version 1).\n", again.Out, "no duplicate version")

	planAfter := runIn(t, cfg, dir, "-o", "json", "plan")
	assert.Equal(t, planBefore.Out, planAfter.Out)

	time.Sleep(2100 * time.Millisecond)
	h = runIn(t, cfg, dir, "-o", "json", "history", "base", "--channel", "stable")
	require.Equal(t, 0, h.Code, "%s", h)
	var hj historyJSON
	require.NoError(t, json.Unmarshal([]byte(h.Out), &hj))
	require.Len(t, hj.Versions, 1, "exactly one version written")
	assert.Equal(t, fam.Base.Home(), hj.Versions[0].AMI)
}

// Tag writes (CreateTags) lag by 2 s. revoke --apply returns only once its
// amibake:revoked tags show, so a promote of the revoked AMI right after it
// is refused and lineage shows it revoked (before the fix, promote took
// the revoked AMI for a good one).
func TestTagWriteLag(t *testing.T) {
	t.Parallel()
	sb, fam, dir := lagWorld(t, sandbox.FaultRule{Service: "ec2", Action: "CreateTags"})
	cfg := fastRetryConfig(sb)

	r := runIn(t, cfg, dir, "revoke", fam.AppWeb.Home(), "--reason", "CVE-2026-7", "--apply")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.GreaterOrEqual(t, r.Elapsed, 1500*time.Millisecond, "revoke waited for its tags to show")

	p := runIn(t, cfg, dir, "promote", "app-web", "--to", "stable")
	assert.Equal(t, 1, p.Code, "%s", p)
	assert.Contains(t, p.Err, "refusing to promote "+fam.AppWeb.Home()+": it is revoked (CVE-2026-7)")

	l := runIn(t, cfg, dir, "-o", "json", "lineage", fam.AppWeb.Home())
	require.Equal(t, 0, l.Code, "%s", l)
	assert.Contains(t, l.Out, `"revoked": "CVE-2026-7"`)

	// A second revoke finds everything done and writes nothing.
	before := sb.CountCalls("ec2", "CreateTags")
	r = runIn(t, cfg, dir, "revoke", fam.AppWeb.Home(), "--reason", "CVE-2026-7", "--apply")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, before, sb.CountCalls("ec2", "CreateTags"))
}
