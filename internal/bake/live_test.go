//go:build unix

package bake

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/plan"
)

// fixedClock returns a clock that advances by step before every reading.
func fixedClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}

// newTestView returns a view on test streams whose clock starts at 0 and
// then reads 61s more at every line.
func newTestView(color bool, layers ...string) (*LiveView, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	ios.SetStderrTTY(color)
	ios.SetColorEnabled(color)
	v := NewLiveView(ios, layers)
	v.Now = fixedClock(0)
	v.Start()
	v.Now = fixedClock(61 * time.Second)
	return v, out, errOut
}

func TestLiveViewPlain(t *testing.T) {
	v, _, e := newTestView(false, "base", "app-web")
	v.LayerStarted("base", plan.ActionBuild, "recipe-changed: hello 1.0→1.1")
	v.LayerEvent("base", Event{Type: EventUI, Data: []string{UISay, "==> amazon-ebs.layer: Launching a source AWS instance..."}})
	v.LayerEvent("app-web", Event{Type: EventUI, Data: []string{UIMessage, "    amazon-ebs.layer: two\nlines\r\n"}})
	v.LayerEvent("base", Event{Type: EventUI, Data: []string{UISay, "\n==> Wait completed"}})
	v.LayerEvent("base", Event{Type: EventUI, Data: []string{UIError, "boom \x1b[31mred\x1b[0m"}})
	v.LayerEvent("base", Event{Type: EventRaw, Data: []string{"stderr", "plugin: crashed"}})
	v.LayerEvent("base", Event{Type: EventArtifact, Data: []string{"0", "id", "us-east-1:ami-1"}}) // not shown
	v.LayerEvent("base", Event{Type: EventUI, Data: []string{UISay, "   "}})                       // blank: not shown
	v.LayerMessage("app-web", "waiting for base")
	v.LayerFinished(SummaryRow{Layer: "base", Status: "built", AMIs: map[string]string{"us-east-1": "ami-1", "eu-west-1": "ami-2"}, Duration: 83 * time.Second})
	want := `[base   ] 01:01 starting: build (recipe-changed: hello 1.0→1.1)
[base   ] 02:02 ==> amazon-ebs.layer: Launching a source AWS instance...
[app-web] 03:03     amazon-ebs.layer: two
[app-web] 03:03 lines
[base   ] 04:04 ==> Wait completed
[base   ] 05:05 boom [31mred[0m
[base   ] 06:06 plugin: crashed
[app-web] 07:07 waiting for base
[base   ] 08:08 built: eu-west-1=ami-2 us-east-1=ami-1 in 1m23s
`
	assert.Equal(t, want, e.String())
	assert.NotContains(t, e.String(), "\x1b")
}

func TestLiveViewColor(t *testing.T) {
	v, _, e := newTestView(true, "base")
	v.LayerEvent("base", Event{Type: EventUI, Data: []string{UISay, "hello"}})
	v.LayerEvent("base", Event{Type: EventUI, Data: []string{UIError, "bad"}})
	lines := strings.Split(strings.TrimSuffix(e.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	c := LayerColor("base")
	assert.Equal(t, c+"[base]"+sgrReset+" "+sgrDim+"01:01"+sgrReset+" hello", lines[0])
	assert.Equal(t, c+"[base]"+sgrReset+" "+sgrDim+"02:02"+sgrReset+" "+sgrRed+"bad"+sgrReset, lines[1])
	assert.Equal(t, LayerColor("base"), LayerColor("base"), "stable")
	assert.NotEqual(t, sgrRed, LayerColor("base"))
	seen := map[string]bool{}
	for _, l := range []string{"linux", "foundation", "base", "app-web", "app-api", "db"} {
		seen[LayerColor(l)] = true
	}
	assert.Greater(t, len(seen), 2, "layers get different colours")
}

func TestLiveViewElapsed(t *testing.T) {
	assert.Equal(t, "00:00", formatElapsed(-time.Second))
	assert.Equal(t, "00:59", formatElapsed(59*time.Second+900*time.Millisecond))
	assert.Equal(t, "59:59", formatElapsed(time.Hour-time.Second))
	assert.Equal(t, "1:00:01", formatElapsed(time.Hour+time.Second))
	assert.Equal(t, "-", formatDuration(0))
	assert.Equal(t, "1.2s", formatDuration(1234*time.Millisecond))
	assert.Equal(t, "4m12s", formatDuration(4*time.Minute+12400*time.Millisecond))
}

func TestLiveViewSummary(t *testing.T) {
	rows := []SummaryRow{
		{Layer: "linux", Status: "reused", AMIs: map[string]string{"us-east-1": "ami-0aaa"}, Reason: "up-to-date"},
		{Layer: "base", Status: "built", AMIs: map[string]string{"us-east-1": "ami-0bbb", "eu-west-1": "ami-0ccc"}, Duration: 252 * time.Second, Reason: "recipe-changed"},
		{Layer: "app-web", Status: "failed", Duration: 1500 * time.Millisecond, Reason: "layer app-web: packer build failed (exit 1):\n  boom (log: /x/app-web.log)"},
		{Layer: "app-api", Status: "skipped", Reason: "upstream layer app-web failed"},
	}
	v, o, e := newTestView(false)
	v.Summary(rows)
	want := `LAYER    STATUS   REGION     AMI       DURATION  REASON
linux    reused   us-east-1  ami-0aaa  -         up-to-date
base     built    eu-west-1  ami-0ccc  4m12s     recipe-changed
                  us-east-1  ami-0bbb
app-web  failed   -          -         1.5s      layer app-web: packer build failed (exit 1): boom (log: /x/app-web.log)
app-api  skipped  -          -         -         upstream layer app-web failed
`
	assert.Equal(t, want, o.String())
	assert.Empty(t, e.String(), "the summary is the result: stdout")

	v, o, _ = newTestView(true)
	v.Summary(rows)
	assert.Contains(t, o.String(), sgrRed+"failed "+sgrReset)
	assert.Contains(t, o.String(), sgrGreen+"built  "+sgrReset)
	assert.Contains(t, o.String(), sgrYellow+"skipped"+sgrReset)
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(o.String(), "")
	assert.Equal(t, want, plain, "colour changes no layout")
}

// Four builds on the fake packer at once, all writing to one view: every
// line is whole and prefixed, and each layer's lines keep their order.
func TestLiveViewConcurrentBuilds(t *testing.T) {
	layers := []string{"base", "app-web", "app-api", "db"}
	ios, _, out, errOut := iostreams.Test()
	v := NewLiveView(ios, layers)
	r := fakeRunner(t, "FAKEPACKER_SLEEP=base=40ms,app-web=70ms,30ms", "FAKEPACKER_NOISE=1")
	var wg sync.WaitGroup
	rows := make([]SummaryRow, len(layers))
	for i, l := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.LayerStarted(l, plan.ActionBuild, "new")
			res, err := r.Build(context.Background(), BuildRequest{Layer: l, TemplatePath: layerTemplate(t, l), OnEvent: v.Handler(l)})
			status := "built"
			if err != nil {
				status = "failed"
			}
			rows[i] = SummaryRow{Layer: l, Status: status, AMIs: res.Artifacts, Duration: res.Duration}
			v.LayerFinished(rows[i])
		}()
	}
	wg.Wait()
	v.Summary(rows)

	lineRE := regexp.MustCompile(`^\[(base   |app-web|app-api|db     )\] \d\d:\d\d `)
	perLayer := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n") {
		m := lineRE.FindStringSubmatch(l)
		require.NotNil(t, m, "line %q", l)
		name := strings.TrimSpace(m[1])
		perLayer[name] = append(perLayer[name], l[len(m[0]):])
	}
	for _, l := range layers {
		got := perLayer[l]
		require.NotEmpty(t, got, l)
		assert.Equal(t, "starting: build (new)", got[0])
		assert.Contains(t, got, "fakepacker: a line on stderr")
		assert.Regexp(t, `^built: eu-west-1=ami-[0-9a-f]{17} us-east-1=ami-[0-9a-f]{17} in `, got[len(got)-1])
		idx := func(s string) int {
			for i, g := range got {
				if strings.Contains(g, s) {
					return i
				}
			}
			return -1
		}
		assert.Less(t, idx("Launching a source AWS instance"), idx("Creating AMI"), l)
		assert.Less(t, idx("Creating AMI"), idx("Builds finished"), l)
	}
	sum := out.String()
	assert.Equal(t, 1+2*len(layers), strings.Count(sum, "\n"), "header plus two regions per layer:\n%s", sum)
	for _, l := range layers {
		assert.Regexp(t, fmt.Sprintf(`(?m)^%s +built +eu-west-1 +ami-`, l), sum)
	}
}
