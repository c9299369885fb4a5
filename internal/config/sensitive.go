package config

import (
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// SensitiveMark is the cty mark carried by the value of a sensitive
// variable or recipe input. cty propagates marks through expressions and
// function calls, so anything computed from a secret is marked too.
const SensitiveMark = "sensitive"

// IsSensitive reports whether v or any value nested in it is marked
// sensitive.
func IsSensitive(v cty.Value) bool {
	if v.HasMark(SensitiveMark) {
		return true
	}
	if !v.ContainsMarked() {
		return false
	}
	_, pvm := v.UnmarkDeepWithPaths()
	for _, pm := range pvm {
		if _, ok := pm.Marks[SensitiveMark]; ok {
			return true
		}
	}
	return false
}

// Redact renders v for humans (logs, plan output): "(sensitive value)" when
// any part of it is sensitive, otherwise strings as they are, null as
// "null", and every other value as JSON.
func Redact(v cty.Value) string {
	if IsSensitive(v) {
		return "(sensitive value)"
	}
	if v.IsKnown() && v.IsNull() {
		return "null"
	}
	s, err := stringify(v)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// stringify turns a known, unmarked value into the string a shell sees:
// strings as they are, numbers and bools in their HCL form, null as "",
// collections as JSON.
func stringify(v cty.Value) (string, error) {
	v, _ = v.UnmarkDeep()
	switch {
	case !v.IsWhollyKnown():
		return "(known after apply)", nil
	case v.IsNull():
		return "", nil
	case v.Type() == cty.String:
		return v.AsString(), nil
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('f', -1), nil
	case v.Type() == cty.Bool:
		if v.True() {
			return "true", nil
		}
		return "false", nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
