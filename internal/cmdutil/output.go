package cmdutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Output formats accepted by the global --output flag.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// ValidateOutput rejects unknown --output values.
func ValidateOutput(v string) error {
	switch v {
	case OutputText, OutputJSON:
		return nil
	}
	return FlagErrorf("invalid --output %q: want %q or %q", v, OutputText, OutputJSON)
}

// SchemaField is the key of the schema id in every versioned JSON document.
const SchemaField = "schema"

// SchemaWriter is the command's stdout in --output json mode, carrying the
// id of the document's schema ("amibake/status/v1"). The root sets it up
// per command (docs/reference/json.md), so that commands need not know.
type SchemaWriter struct {
	io.Writer
	ID string
}

// WriteJSON is the one way commands print machine output: indented, stable
// key order (struct order), newline-terminated. Written to a SchemaWriter,
// an object document gets the schema id as its first key.
func WriteJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	data := bytes.TrimSpace(buf.Bytes())
	if sw, ok := w.(*SchemaWriter); ok && sw.ID != "" && len(data) > 0 && data[0] == '{' {
		id, _ := json.Marshal(sw.ID)
		stamped := append([]byte(`{"`+SchemaField+`":`), id...)
		if rest := bytes.TrimSpace(data[1:]); len(rest) > 0 && rest[0] != '}' {
			stamped = append(stamped, ',')
		}
		data = append(stamped, data[1:]...)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	out.WriteByte('\n')
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
