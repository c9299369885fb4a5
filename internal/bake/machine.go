package bake

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// This file reads the output of `packer build -machine-readable` (packer's
// MachineReadableUi, packer/ui.go): one event per line,
//
//	timestamp,target,type,data...
//
// where every data field has its commas escaped as %!(PACKER_COMMA), its
// carriage returns as \r and its newlines as \n. Plugins and provisioners
// may still print lines of their own into the stream, lines may be cut by
// a crash, and Windows tools end lines with CRLF: the reader skips what it
// cannot parse and never fails on content.

// MaxLineBytes bounds the memory one line of packer output may take. A
// longer line is cut to this length (and reported as truncated); the rest
// of it is read and dropped.
const MaxLineBytes = 1 << 20

// Event types amibake interprets.
const (
	EventUI            = "ui"             // data: say|message|error, text
	EventArtifact      = "artifact"       // data: index, key, value...
	EventArtifactCount = "artifact-count" // data: count
	EventError         = "error"          // data: text (per build, at the end)
	EventErrorCount    = "error-count"    // data: count
	EventBuildCount    = "build-count"    // data: count

	// EventRaw is not packer's: the runner reports a line that is not
	// machine-readable (a plugin's own output, anything on stderr) as an
	// event of this type, with Data = [stream, line], stream being
	// "stdout" or "stderr".
	EventRaw = "raw"
)

// UI message kinds: the first data field of a "ui" event.
const (
	UISay     = "say"
	UIMessage = "message"
	UIError   = "error"
)

// Event is one machine-readable line, its data fields unescaped.
type Event struct {
	Time   time.Time
	Target string
	Type   string
	Data   []string
}

// UI returns the kind (say, message, error) and text of a "ui" event; ok
// is false for any other event. Text that packer split on commas it did
// not escape is joined back.
func (e Event) UI() (kind, text string, ok bool) {
	if e.Type != EventUI || len(e.Data) == 0 {
		return "", "", false
	}
	return e.Data[0], strings.Join(e.Data[1:], ","), true
}

var unescaper = strings.NewReplacer(
	"%!(PACKER_COMMA)", ",",
	`\n`, "\n",
	`\r`, "\r",
)

// Unescape undoes packer's escaping of one machine-readable data field.
func Unescape(s string) string {
	if !strings.Contains(s, "%!(PACKER_COMMA)") && !strings.Contains(s, `\`) {
		return s
	}
	return unescaper.Replace(s)
}

// Escape is the inverse of Unescape, as packer writes a data field.
func Escape(s string) string {
	s = strings.ReplaceAll(s, ",", "%!(PACKER_COMMA)")
	s = strings.ReplaceAll(s, "\r", `\r`)
	return strings.ReplaceAll(s, "\n", `\n`)
}

// ParseLine parses one line of machine-readable output (without its line
// terminator; a trailing CR is ignored). ok is false for a line that is not
// machine-readable: no numeric timestamp, fewer than three fields, or a
// type that is not a packer event type.
func ParseLine(line string) (Event, bool) {
	line = strings.TrimSuffix(line, "\r")
	ts, rest, ok := strings.Cut(line, ",")
	if !ok || !validTimestamp(ts) {
		return Event{}, false
	}
	target, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return Event{}, false
	}
	typ, rest, hasData := strings.Cut(rest, ",")
	if !validType(typ) {
		return Event{}, false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Event{}, false
	}
	ev := Event{Time: time.Unix(sec, 0).UTC(), Target: Unescape(target), Type: typ}
	if hasData {
		ev.Data = strings.Split(rest, ",")
		for i, d := range ev.Data {
			ev.Data[i] = Unescape(d)
		}
	}
	return ev, true
}

func validTimestamp(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validType(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// LineReader splits a stream into lines of at most a fixed length, so a
// runaway line cannot exhaust memory.
type LineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
	err error // sticky
}

// NewLineReader reads lines from r, each cut to max bytes (MaxLineBytes
// when max < 1).
func NewLineReader(r io.Reader, max int) *LineReader {
	if max < 1 {
		max = MaxLineBytes
	}
	size := 64 << 10
	if max < size {
		size = max
	}
	if size < 16 {
		size = 16 // bufio's minimum
	}
	return &LineReader{r: bufio.NewReaderSize(r, size), max: max}
}

// ReadLine returns the next line without its terminator (LF or CRLF). A
// line longer than the limit is cut, with truncated set. The last line
// need not end with a newline. err is io.EOF after the last line, or the
// reader's error; a line is returned (and err is nil) whenever one was
// read. The returned slice is valid until the next call.
func (lr *LineReader) ReadLine() (line []byte, truncated bool, err error) {
	lr.buf = lr.buf[:0]
	if lr.err != nil {
		return nil, false, lr.err
	}
	for {
		chunk, rerr := lr.r.ReadSlice('\n')
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		if room := lr.max - len(lr.buf); len(chunk) > room {
			lr.buf = append(lr.buf, chunk[:room]...)
			truncated = true
		} else {
			lr.buf = append(lr.buf, chunk...)
		}
		switch {
		case rerr == nil: // ended with '\n'
			return lr.trim(), truncated, nil
		case errors.Is(rerr, bufio.ErrBufferFull):
			continue
		default:
			lr.err = rerr
			if len(lr.buf) > 0 || truncated || len(chunk) > 0 {
				return lr.trim(), truncated, nil // the next call returns the error
			}
			return nil, false, rerr
		}
	}
}

func (lr *LineReader) trim() []byte {
	return bytes.TrimSuffix(lr.buf, []byte("\r"))
}

// Decoder reads events from a machine-readable stream, skipping lines it
// cannot parse.
type Decoder struct {
	lr      *LineReader
	skipped int
}

// NewDecoder reads r with lines capped at MaxLineBytes.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{lr: NewLineReader(r, MaxLineBytes)}
}

// Next returns the next event; io.EOF at the end of the stream, or the
// underlying reader's error.
func (d *Decoder) Next() (Event, error) {
	for {
		line, truncated, err := d.lr.ReadLine()
		if err != nil {
			return Event{}, err
		}
		if truncated {
			d.skipped++ // a cut line would carry a cut value: not trusted
			continue
		}
		if ev, ok := ParseLine(string(line)); ok {
			return ev, nil
		}
		d.skipped++
	}
}

// Skipped is how many lines were not machine-readable (or too long).
func (d *Decoder) Skipped() int { return d.skipped }

// Artifact is one artifact packer reported for a build.
type Artifact struct {
	Target    string // build name, e.g. "amazon-ebs.layer"
	Index     int
	BuilderID string // e.g. "mitchellh.amazonebs"
	ID        string // e.g. "us-east-1:ami-0123,eu-west-1:ami-4567"
	String    string
	Complete  bool // the "end" line was seen
}

// AMIs parses the artifact id as amazon builders write it.
func (a Artifact) AMIs() map[string]string { return ParseAMIs(a.ID) }

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	amiRE    = regexp.MustCompile(`^ami-[0-9a-zA-Z]{1,64}$`)
)

// ParseAMIs reads an amazon artifact id, "region:ami-…" pairs separated by
// commas (packer's amazon artifact Id()), into a map from region to AMI id.
// Parts that are not a valid region and AMI id are ignored; an id with none
// gives an empty map.
func ParseAMIs(id string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		region, ami, ok := strings.Cut(part, ":")
		if !ok || !regionRE.MatchString(region) || !amiRE.MatchString(ami) {
			continue
		}
		out[region] = ami
	}
	return out
}

// BuildFailure is one build's final error, from an "error" event.
type BuildFailure struct {
	Target string
	Text   string
}

// Limits on what a Stream keeps, so a chatty build cannot grow it.
const (
	maxStreamErrors    = 100
	maxStreamArtifacts = 100
)

// Stream accumulates what matters for amibake from a build's events.
// The zero value is ready to use. It is not safe for concurrent use.
type Stream struct {
	Artifacts     []Artifact
	UIErrors      []string // text of "ui,error" lines, the newest maxStreamErrors
	BuildFailures []BuildFailure
	ErrorCount    int // from "error-count"
	BuildCount    int // from "build-count"
	ArtifactCount int // sum of "artifact-count"
	Events        int // events seen
}

// Add interprets one event.
func (s *Stream) Add(ev Event) {
	s.Events++
	switch ev.Type {
	case EventUI:
		if kind, text, _ := ev.UI(); kind == UIError {
			if t := strings.TrimSpace(text); t != "" {
				s.UIErrors = appendBounded(s.UIErrors, t, maxStreamErrors)
			}
		}
	case EventError:
		if t := strings.TrimSpace(strings.Join(ev.Data, ",")); t != "" && len(s.BuildFailures) < maxStreamErrors {
			s.BuildFailures = append(s.BuildFailures, BuildFailure{Target: ev.Target, Text: t})
		}
	case EventErrorCount:
		s.ErrorCount = firstInt(ev.Data)
	case EventBuildCount:
		s.BuildCount = firstInt(ev.Data)
	case EventArtifactCount:
		s.ArtifactCount += firstInt(ev.Data)
	case EventArtifact:
		s.addArtifact(ev)
	}
}

func (s *Stream) addArtifact(ev Event) {
	if len(ev.Data) < 2 {
		return
	}
	idx, err := strconv.Atoi(ev.Data[0])
	if err != nil || idx < 0 {
		return
	}
	a := s.artifact(ev.Target, idx)
	if a == nil {
		return
	}
	value := strings.Join(ev.Data[2:], ",")
	switch ev.Data[1] {
	case "builder-id":
		a.BuilderID = value
	case "id":
		a.ID = value
	case "string":
		a.String = value
	case "end":
		a.Complete = true
	}
}

func (s *Stream) artifact(target string, idx int) *Artifact {
	for i := range s.Artifacts {
		if s.Artifacts[i].Target == target && s.Artifacts[i].Index == idx {
			return &s.Artifacts[i]
		}
	}
	if len(s.Artifacts) >= maxStreamArtifacts {
		return nil
	}
	s.Artifacts = append(s.Artifacts, Artifact{Target: target, Index: idx})
	return &s.Artifacts[len(s.Artifacts)-1]
}

// AMIs merges the region→AMI maps of every artifact.
func (s *Stream) AMIs() map[string]string {
	out := map[string]string{}
	for _, a := range s.Artifacts {
		for r, id := range a.AMIs() {
			out[r] = id
		}
	}
	return out
}

// Errors is what went wrong, most specific first: the builds' final
// errors when packer reported them, else its ui error lines.
func (s *Stream) Errors() []string {
	if len(s.BuildFailures) > 0 {
		out := make([]string, 0, len(s.BuildFailures))
		for _, f := range s.BuildFailures {
			if f.Target != "" {
				out = append(out, f.Target+": "+f.Text)
			} else {
				out = append(out, f.Text)
			}
		}
		return out
	}
	return append([]string(nil), s.UIErrors...)
}

func appendBounded(list []string, s string, max int) []string {
	if len(list) >= max {
		copy(list, list[1:])
		list = list[:len(list)-1]
	}
	return append(list, s)
}

func firstInt(data []string) int {
	if len(data) == 0 {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(data[0]))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
