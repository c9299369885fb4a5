package cmdutil

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/amibake/amibake/internal/iostreams"
)

// PrintDiagnostics writes every diagnostic with its location as
// FILE:LINE:COL (which editors and CI annotate), the source line with the
// range underlined, and the detail that carries the hint:
//
//	Error: Unsupported argument
//	  --> layers/linux.hcl:5:3
//	   |
//	 5 |   instance_typ = "t3.small"
//	   |   ^^^^^^^^^^^^
//	An argument named "instance_typ" is not expected here. Did you mean "instance_type"?
func PrintDiagnostics(ios *iostreams.IOStreams, sources map[string][]byte, diags hcl.Diagnostics) error {
	w := ios.ErrOut
	color := ios.ColorEnabled()
	for _, d := range diags {
		if err := writeDiagnostic(w, sources, d, color); err != nil {
			return err
		}
	}
	return nil
}

func writeDiagnostic(w io.Writer, sources map[string][]byte, d *hcl.Diagnostic, color bool) error {
	var b strings.Builder
	label, on, off := "Error", "\x1b[1;31m", "\x1b[0m"
	if d.Severity == hcl.DiagWarning {
		label, on = "Warning", "\x1b[1;33m"
	}
	if !color {
		on, off = "", ""
	}
	fmt.Fprintf(&b, "%s%s:%s %s\n", on, label, off, d.Summary)
	if r := d.Subject; r != nil {
		fmt.Fprintf(&b, "  --> %s:%d:%d\n", r.Filename, r.Start.Line, r.Start.Column)
		if line, ok := sourceLine(sources[r.Filename], r.Start.Line); ok {
			num := fmt.Sprint(r.Start.Line)
			pad := strings.Repeat(" ", len(num))
			fmt.Fprintf(&b, " %s |\n", pad)
			fmt.Fprintf(&b, " %s | %s\n", num, line)
			start := r.Start.Column - 1
			end := r.End.Column - 1
			if r.End.Line != r.Start.Line || end > len(line) {
				end = len(line)
			}
			if start > len(line) {
				start = len(line)
			}
			width := end - start
			if width < 1 {
				width = 1
			}
			// Keep tabs so the caret lines up under the source.
			indent := []byte(line[:start])
			for i, c := range indent {
				if c != '\t' {
					indent[i] = ' '
				}
			}
			fmt.Fprintf(&b, " %s | %s%s%s%s\n", pad, indent, on, strings.Repeat("^", width), off)
		}
	}
	if d.Detail != "" {
		b.WriteString(d.Detail)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func sourceLine(src []byte, n int) (string, bool) {
	if src == nil || n < 1 {
		return "", false
	}
	lines := bytes.Split(src, []byte("\n"))
	if n > len(lines) {
		return "", false
	}
	return strings.TrimRight(string(lines[n-1]), "\r"), true
}

// JSONDiagnostic is the machine form of an hcl.Diagnostic (the shape of
// `terraform validate -json`).
type JSONDiagnostic struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *JSONRange `json:"range,omitempty"`
}

// JSONRange is a source range with 1-based lines and columns.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONPos is one position in a source file.
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// DiagnosticsJSON converts diagnostics for --output json.
func DiagnosticsJSON(diags hcl.Diagnostics) []JSONDiagnostic {
	out := make([]JSONDiagnostic, 0, len(diags))
	for _, d := range diags {
		jd := JSONDiagnostic{Summary: d.Summary, Detail: d.Detail, Severity: "error"}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if d.Subject != nil {
			r := d.Subject
			jd.Range = &JSONRange{
				Filename: r.Filename,
				Start:    JSONPos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
				End:      JSONPos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte},
			}
		}
		out = append(out, jd)
	}
	return out
}
