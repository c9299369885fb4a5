package cmdutil

import (
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

// WriteJSON is the one way commands print machine output: indented, stable
// key order (struct order), newline-terminated.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
