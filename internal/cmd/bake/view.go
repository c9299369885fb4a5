package bake

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/plan"
)

// view is the live view of a bake on stderr: one line per packer message
// or amibake step, prefixed with the layer, so that parallel builds stay
// readable; coloured on a terminal.
type view struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
	width int
}

func newView(ios *iostreams.IOStreams) *view {
	return &view{w: ios.ErrOut, color: ios.ColorEnabled() && ios.IsStderrTTY(), width: 14}
}

var _ bake.Observer = (*view)(nil)

func (v *view) prefix(layer string) string {
	p := fmt.Sprintf("%-*s |", v.width, layer)
	if v.color {
		// A stable colour per layer.
		h := 0
		for _, c := range layer {
			h = h*31 + int(c)
		}
		colors := []int{36, 32, 33, 35, 34, 96, 92, 93, 95, 94}
		if h < 0 {
			h = -h
		}
		p = fmt.Sprintf("\x1b[%dm%s\x1b[0m", colors[h%len(colors)], p)
	}
	return p
}

func (v *view) line(layer, text string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(v.w, "%s %s\n", v.prefix(layer), strings.TrimRight(l, "\r"))
	}
}

func (v *view) LayerStarted(layer string, action plan.Action, detail string) {
	if action == plan.ActionBuild {
		msg := "building"
		if detail != "" {
			msg += " (" + detail + ")"
		}
		v.line(layer, msg)
		return
	}
	v.line(layer, "reusing "+detail)
}

func (v *view) LayerEvent(layer string, ev bake.Event) {
	if kind, text, ok := ev.UI(); ok {
		text = strings.TrimSpace(text)
		if text == "" {
			return
		}
		// Packer prefixes its messages with "==> layer.amazon-ebs.layer: ".
		if i := strings.Index(text, ".amazon-ebs.layer: "); i >= 0 {
			text = text[i+len(".amazon-ebs.layer: "):]
		}
		if kind == bake.UIError {
			text = "ERROR " + text
		}
		v.line(layer, text)
		return
	}
	if ev.Type == bake.EventRaw && len(ev.Data) == 2 && ev.Data[0] == "stderr" {
		if t := strings.TrimSpace(ev.Data[1]); t != "" {
			v.line(layer, t)
		}
	}
}

func (v *view) LayerMessage(layer, msg string) { v.line(layer, msg) }

func (v *view) LayerDone(r *bake.Result) {
	switch r.Status {
	case bake.StatusFailed:
		msg := "FAILED: " + r.Error
		if r.Err != nil && r.Error == "" {
			msg = "FAILED: " + r.Err.Error()
		}
		v.line(r.Layer, msg)
	case bake.StatusSkipped:
		v.line(r.Layer, r.Detail)
	default:
		v.line(r.Layer, fmt.Sprintf("%s in %s: %s", r.Status, duration(r.Duration), amis(r.AMI)))
	}
}

func amis(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}
