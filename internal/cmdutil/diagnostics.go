package cmdutil

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/amibake/amibake/internal/iostreams"
)

// PrintDiagnostics writes diagnostics the way Terraform and Packer do:
// "Error: summary", "on file line N:" with a source snippet, then the detail.
func PrintDiagnostics(ios *iostreams.IOStreams, sources map[string][]byte, diags hcl.Diagnostics) error {
	if len(diags) == 0 {
		return nil
	}
	files := make(map[string]*hcl.File, len(sources))
	for name, src := range sources {
		files[name] = &hcl.File{Bytes: src}
	}
	w := hcl.NewDiagnosticTextWriter(ios.ErrOut, files, uint(ios.TerminalWidth()), ios.ColorEnabled())
	return w.WriteDiagnostics(diags)
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
