package reliability

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/sandbox"
)

// stormRules is issue 9's storm: 30 % of calls throttled, 5 % answered 503.
// The sandbox draws faults from its seeded generator, so a run is repeatable.
var stormRules = []sandbox.FaultRule{{ThrottleRate: 0.30, ErrorRate: 0.05, ErrorStatus: 503}}

var (
	timeRE      = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	requestIDRE = regexp.MustCompile(`RequestID: [0-9a-f-]+`)
	runIDRE     = regexp.MustCompile(`b-\d{8}T\d{6}Z-[0-9a-f]+`)
	ageRE       = regexp.MustCompile(`\n\s*"age_seconds": \d+,`)
)

// normalize blanks what differs between two runs of one flow on two
// identical worlds: wall-clock times and ages, request ids and bake run ids.
func normalize(s string) string {
	s = ageRE.ReplaceAllString(runIDRE.ReplaceAllString(s, "<run>"), "")
	return requestIDRE.ReplaceAllString(timeRE.ReplaceAllString(s, "<time>"), "RequestID: <id>")
}

// stormFlow runs plan, promote, history, lineage and revoke --apply (JSON
// and text) on a fresh world and returns each command's exit code and
// normalised output. With faults, the storm is on for every command.
func stormFlow(t *testing.T, faults []sandbox.FaultRule, config func(*sandbox.Sandbox) aws.Config) (steps []string, injected int) {
	t.Helper()
	sb := sandbox.Start(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/base/latest", fam.Base.Home())
	dir := channeltest.CopyProject(t)
	cfg := config(sb)
	sb.ResetLog()
	sb.SetFaults(faults...)
	for _, args := range [][]string{
		{"-o", "json", "plan"},
		{"plan", "-detailed-exitcode"},
		{"-o", "json", "bake", "--dry-run"},
		{"-o", "json", "promote", "base", "--to", "stable"},
		{"-o", "json", "promote", "base", "--from", "stable", "--to", "canary"},
		{"-o", "json", "history", "base", "--channel", "stable"},
		{"history", "base"},
		{"-o", "json", "lineage", fam.Base.Home()},
		{"lineage", fam.Foundation.Home()},
		{"-o", "json", "revoke", fam.AppWeb.Home(), "--reason", "CVE-2026-9", "--apply"},
		{"-o", "json", "revoke", fam.Foundation.Home(), "--cascade", "--reason", "CVE-2026-9", "--apply"},
		{"-o", "json", "lineage", fam.Linux.Home()},
		{"-o", "json", "plan"},
		{"-o", "json", "status"},
		{"-o", "json", "retire"},
		{"lock", "status"},
	} {
		r := runIn(t, cfg, dir, args...)
		out := strings.ReplaceAll(normalize(r.Out)+normalize(r.Err), dir, "<project>")
		steps = append(steps, strings.Join(args, " ")+fmtExit(r.Code)+"\n"+out)
	}
	sb.SetFaults()
	for _, e := range sb.Log() {
		if e.Injected {
			injected++
		}
	}
	return steps, injected
}

func fmtExit(code int) string { return " → exit " + strconv.Itoa(code) }

// Under a storm of throttling and 503s, every command ends with exactly
// the result it has without faults. The short variant caps the backoff at
// 1 ms (same retryer and bound as production); the long one runs the
// production configuration from root.NewFactory with its real backoff.
func TestThrottlingStormSameResult(t *testing.T) {
	config := fastRetryConfig
	if long() {
		config = func(sb *sandbox.Sandbox) aws.Config { return productionConfig(t, sb) }
	}
	calm, none := stormFlow(t, nil, config)
	require.Zero(t, none)
	stormy, injected := stormFlow(t, stormRules, config)
	t.Logf("storm: %d faults injected", injected)
	if testing.Verbose() {
		t.Log(strings.Join(calm, "\n---\n"))
	}
	assert.Greater(t, injected, 20, "the storm hit")
	require.Len(t, stormy, len(calm))
	for i := range calm {
		assert.Equal(t, calm[i], stormy[i], "step %d", i)
	}
	// The calm run itself is sane: nothing failed.
	for _, s := range calm {
		assert.NotContains(t, s, "Error:", s)
	}
}
