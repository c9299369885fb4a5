package bake

import (
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/plan"
)

// LiveView shows many concurrent layer builds as one stream of whole lines,
// each prefixed with its layer and the time since the bake started:
//
//	[base      ] 00:42 ==> amazon-ebs.layer: Launching a source AWS instance...
//
// Live lines go to ErrOut (progress), the final summary table to Out (the
// result). With colour enabled each layer's prefix has a colour of its own,
// the same in every run, and errors are red; without it (a pipe, a CI log,
// NO_COLOR) the lines are plain. It is safe for concurrent use: one mutex,
// one write per line.
type LiveView struct {
	mu    sync.Mutex
	out   io.Writer
	sum   io.Writer
	color bool
	width int
	start time.Time
	// Now is the clock; time.Now when nil (tests set it).
	Now func() time.Time
	// werr is the first write error; once set, nothing more is written.
	werr error
}

// NewLiveView writes to ios; layers (any order) set the prefix width.
func NewLiveView(ios *iostreams.IOStreams, layers []string) *LiveView {
	v := &LiveView{out: ios.ErrOut, sum: ios.Out, color: ios.ColorEnabled()}
	for _, l := range layers {
		if n := len(l); n > v.width {
			v.width = n
		}
	}
	v.start = v.now()
	return v
}

func (v *LiveView) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Start resets the elapsed-time origin (e.g. after planning).
func (v *LiveView) Start() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.start = v.now()
}

// ANSI SGR codes.
const (
	sgrReset  = "\x1b[0m"
	sgrBold   = "\x1b[1m"
	sgrDim    = "\x1b[2m"
	sgrRed    = "\x1b[31m"
	sgrGreen  = "\x1b[32m"
	sgrYellow = "\x1b[33m"
)

// layerPalette leaves out red (errors) and plain white.
var layerPalette = []string{
	"\x1b[36m", "\x1b[35m", "\x1b[34m", "\x1b[32m", "\x1b[33m",
	"\x1b[96m", "\x1b[95m", "\x1b[94m", "\x1b[92m", "\x1b[93m",
}

// LayerColor is the SGR code of a layer's prefix: a hash of its name, so
// it is the same in every run whatever the other layers are.
func LayerColor(layer string) string {
	h := fnv.New32a()
	h.Write([]byte(layer))
	return layerPalette[h.Sum32()%uint32(len(layerPalette))]
}

type lineKind int

const (
	kindInfo lineKind = iota
	kindError
	kindQuiet // amibake's own notes and non-machine-readable output
)

// LayerEvent shows one packer event: ui say/message/error lines and lines
// that were not machine-readable; other events (artifacts, counts) are not
// shown.
func (v *LiveView) LayerEvent(layer string, ev Event) {
	switch ev.Type {
	case EventUI:
		kind, text, _ := ev.UI()
		k := kindInfo
		if kind == UIError {
			k = kindError
		}
		v.lines(layer, text, k)
	case EventRaw:
		if len(ev.Data) == 2 {
			k := kindQuiet
			if ev.Data[0] == "stderr" {
				k = kindError
			}
			v.lines(layer, ev.Data[1], k)
		}
	}
}

// Handler returns an OnEvent callback for BuildRequest that shows layer's
// events.
func (v *LiveView) Handler(layer string) func(Event) {
	return func(ev Event) { v.LayerEvent(layer, ev) }
}

// LayerStarted notes that a layer's turn came.
func (v *LiveView) LayerStarted(layer string, action plan.Action, detail string) {
	msg := "starting: " + string(action)
	if detail != "" {
		msg += " (" + detail + ")"
	}
	v.lines(layer, msg, kindQuiet)
}

// LayerMessage shows something amibake itself did for a layer.
func (v *LiveView) LayerMessage(layer, msg string) {
	v.lines(layer, msg, kindQuiet)
}

// LayerFinished shows a layer's outcome as one line.
func (v *LiveView) LayerFinished(row SummaryRow) {
	var b strings.Builder
	b.WriteString(row.Status)
	if len(row.AMIs) > 0 {
		b.WriteString(":")
		for _, r := range keysSorted(row.AMIs) {
			fmt.Fprintf(&b, " %s=%s", r, row.AMIs[r])
		}
	}
	if row.Duration > 0 {
		fmt.Fprintf(&b, " in %s", formatDuration(row.Duration))
	}
	if row.Reason != "" {
		fmt.Fprintf(&b, " (%s)", row.Reason)
	}
	k := kindInfo
	if isFailure(row.Status) {
		k = kindError
	}
	v.lines(row.Layer, b.String(), k)
}

// lines writes text, one prefixed line per line of it; empty lines are
// dropped and control characters removed.
func (v *LiveView) lines(layer, text string, kind lineKind) {
	var parts []string
	for _, l := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' }) {
		l = strings.TrimRight(sanitizeTerminal(l), " \t")
		if strings.TrimSpace(l) != "" {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.werr != nil {
		return
	}
	elapsed := formatElapsed(v.now().Sub(v.start))
	name := layer
	if pad := v.width - len(name); pad > 0 {
		name += strings.Repeat(" ", pad)
	}
	var b strings.Builder
	for _, p := range parts {
		if v.color {
			b.WriteString(LayerColor(layer) + "[" + name + "]" + sgrReset + " " + sgrDim + elapsed + sgrReset + " ")
			switch kind {
			case kindError:
				b.WriteString(sgrRed + p + sgrReset)
			case kindQuiet:
				b.WriteString(sgrDim + p + sgrReset)
			default:
				b.WriteString(p)
			}
		} else {
			b.WriteString("[" + name + "] " + elapsed + " " + p)
		}
		b.WriteByte('\n')
	}
	_, v.werr = io.WriteString(v.out, b.String())
}

// sanitizeTerminal drops control characters (escape sequences included)
// so that packer output cannot drive the terminal.
func sanitizeTerminal(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return -1
		}
		return r
	}, s)
}

func formatElapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// SummaryRow is one layer's line in the final table.
type SummaryRow struct {
	Layer    string
	Status   string            // built, reused, failed, skipped, interrupted…
	AMIs     map[string]string // region → AMI
	Duration time.Duration
	Reason   string // why it was built, or why it failed or was skipped
}

func isFailure(status string) bool {
	switch status {
	case "failed", "error", "interrupted", "killed":
		return true
	}
	return false
}

func statusColor(status string) string {
	switch {
	case isFailure(status):
		return sgrRed
	case status == "skipped" || status == "cancelled":
		return sgrYellow
	default:
		return sgrGreen
	}
}

// Summary writes the table of outcomes to Out, one line per layer and
// region, in the order given:
//
//	LAYER  STATUS  REGION     AMI                    DURATION  REASON
//	base   built   eu-west-1  ami-0123456789abcdef0  4m12s     recipe-changed
//	               us-east-1  ami-0fedcba9876543210
func (v *LiveView) Summary(rows []SummaryRow) {
	header := []string{"LAYER", "STATUS", "REGION", "AMI", "DURATION", "REASON"}
	type line struct {
		cells  []string
		status string
	}
	var lines []line
	for _, r := range rows {
		regions := keysSorted(r.AMIs)
		if len(regions) == 0 {
			regions = []string{""}
		}
		for i, reg := range regions {
			ami := r.AMIs[reg]
			if reg == "" {
				reg, ami = "-", "-"
			}
			cells := []string{"", "", reg, ami, "", ""}
			if i == 0 {
				cells[0], cells[1], cells[4], cells[5] = r.Layer, r.Status, formatDuration(r.Duration), oneLine(r.Reason)
			}
			for j := range cells {
				cells[j] = sanitizeTerminal(cells[j])
			}
			lines = append(lines, line{cells, r.Status})
		}
	}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, l := range lines {
		for i, c := range l.cells {
			if n := len([]rune(c)); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var table, b strings.Builder
	write := func(cells []string, status string, head bool) {
		for i, c := range cells {
			last := i == len(cells)-1
			cell := c
			if !last {
				cell += strings.Repeat(" ", widths[i]-len([]rune(c)))
			}
			switch {
			case !v.color || c == "":
			case head:
				cell = sgrBold + cell + sgrReset
			case i == 1:
				cell = statusColor(status) + cell + sgrReset
			case i == 0:
				cell = LayerColor(c) + cell + sgrReset
			}
			b.WriteString(cell)
			if !last {
				b.WriteString("  ")
			}
		}
		table.WriteString(strings.TrimRight(b.String(), " ") + "\n")
		b.Reset()
	}
	write(header, "", true)
	for _, l := range lines {
		write(l.cells, l.status, false)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	_, _ = io.WriteString(v.sum, table.String())
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:159]) + "…"
	}
	return s
}
