package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Variable.ValueFrom values. A value from a -var-file records
// "var-file:" followed by the file's name.
const (
	ValueFromDefault = "default"
	ValueFromEnv     = "env" // AMIBAKE_VAR_NAME
	ValueFromCLI     = "cli" // -var NAME=VALUE
	valueFromFile    = "var-file:"
)

// EnvVarPrefix prefixes environment variables that set variables.
const EnvVarPrefix = "AMIBAKE_VAR_"

var variableBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

// variableDecl is a decoded variable with what only the loader needs.
type variableDecl struct {
	*Variable
	defaults *typeexpr.Defaults
	failed   bool // a value was given but unusable; already reported
}

func decodeVariableBlock(block *hcl.Block) (*variableDecl, hcl.Diagnostics) {
	v := &Variable{
		Name:      block.Labels[0],
		Type:      cty.DynamicPseudoType,
		DeclRange: block.DefRange,
	}
	decl := &variableDecl{Variable: v}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(v.Name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable name",
			Detail:   fmt.Sprintf("%q is not a valid variable name: use letters, digits, underscores and dashes, starting with a letter.", v.Name),
			Subject:  block.LabelRanges[0].Ptr(),
		})
	}

	content, moreDiags := block.Body.Content(variableBlockSchema)
	diags = append(diags, moreDiags...)

	if attr, ok := content.Attributes["type"]; ok {
		ty, defaults, tyDiags := typeexpr.TypeConstraintWithDefaults(attr.Expr)
		diags = append(diags, tyDiags...)
		if !tyDiags.HasErrors() {
			v.Type, decl.defaults = ty, defaults
		}
	}
	if attr, ok := content.Attributes["description"]; ok {
		if val, d := staticValue(attr, cty.String); !d.HasErrors() && !val.IsNull() {
			v.Description = val.AsString()
		} else {
			diags = append(diags, d...)
		}
	}
	if attr, ok := content.Attributes["sensitive"]; ok {
		if val, d := staticValue(attr, cty.Bool); !d.HasErrors() && !val.IsNull() {
			v.Sensitive = val.True()
		} else {
			diags = append(diags, d...)
		}
	}
	if attr, ok := content.Attributes["default"]; ok {
		val, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		decl.failed = d.HasErrors()
		if !d.HasErrors() {
			if decl.defaults != nil {
				val = decl.defaults.Apply(val)
			}
			cv, err := convert.Convert(val, v.Type)
			if err != nil {
				decl.failed = true // not "required": its default is wrong
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("This default value does not match the variable's type %s: %s.", typeexpr.TypeString(v.Type), formatCtyError(err)),
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				v.Default = cv
				v.ValueRange = attr.Expr.Range()
			}
		}
	}

	for _, b := range content.Blocks {
		vc, d := b.Body.Content(validationBlockSchema)
		diags = append(diags, d...)
		val := &VariableValidation{DeclRange: b.DefRange}
		if attr, ok := vc.Attributes["condition"]; ok {
			val.Condition = attr.Expr
		}
		if attr, ok := vc.Attributes["error_message"]; ok {
			msg, d := staticValue(attr, cty.String)
			diags = append(diags, d...)
			if !d.HasErrors() && !msg.IsNull() {
				val.ErrorMessage = msg.AsString()
			}
		}
		if val.Condition != nil {
			v.Validations = append(v.Validations, val)
		}
	}
	return decl, diags
}

// staticValue evaluates an attribute that may not refer to anything.
func staticValue(attr *hcl.Attribute, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	val, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.NullVal(ty), diags
	}
	cv, err := convert.Convert(val, ty)
	if err != nil {
		return cty.NullVal(ty), hcl.Diagnostics{typeError(attr, err)}
	}
	return cv, nil
}

// setVariableValues gives every variable its final value: its default,
// then AMIBAKE_VAR_NAME, then each -var-file in order, then -var; the last
// one wins. Each value is converted to the declared type where it is given,
// so a type error points at its origin. Sensitive values get the mark.
func (ld *loader) setVariableValues() hcl.Diagnostics {
	var diags hcl.Diagnostics
	vars := ld.vars
	for _, v := range vars {
		if v.Default != cty.NilVal {
			v.Value, v.ValueFrom = v.Default, ValueFromDefault
		}
	}

	// Environment: unknown names are ignored, since the environment is
	// shared with everything else the user runs (as Terraform does).
	for _, name := range keys(ld.env) {
		if !strings.HasPrefix(name, EnvVarPrefix) {
			continue
		}
		vname := strings.TrimPrefix(name, EnvVarPrefix)
		v, ok := vars[vname]
		if !ok {
			continue
		}
		origin := fmt.Sprintf("from the environment variable %s", name)
		diags = append(diags, ld.assignRaw(v, ld.env[name], ValueFromEnv, origin)...)
	}

	for _, path := range ld.opts.VarFiles {
		diags = append(diags, ld.loadVarFile(path)...)
	}

	names := keys(ld.opts.Vars)
	for _, name := range names {
		v, ok := vars[name]
		if !ok {
			detail := fmt.Sprintf("A value for var.%s was given with -var, but no variable %q {} block declares it.", name, name)
			if s := didYouMean(name, keys(vars)); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   detail,
			})
			continue
		}
		diags = append(diags, ld.assignRaw(v, ld.opts.Vars[name], ValueFromCLI, "using -var")...)
	}

	for _, name := range keys(vars) {
		v := vars[name]
		switch {
		case v.failed:
			v.Value = cty.UnknownVal(v.Type)
		case v.Value == cty.NilVal:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("The variable %q has no default, so it needs a value: -var %s=VALUE, a -var-file, or the environment variable %s%s.",
					name, name, EnvVarPrefix, name),
				Subject: v.DeclRange.Ptr(),
			})
			v.Value = cty.UnknownVal(v.Type)
		}
		if v.Sensitive {
			v.Value = v.Value.Mark(SensitiveMark)
		}
	}
	return diags
}

// assignRaw sets v from a string given on the command line or in the
// environment. Like Terraform, a string-typed (or untyped) variable takes
// the text as it is; any other type parses it as an HCL expression.
func (ld *loader) assignRaw(v *variableDecl, raw, from, origin string) hcl.Diagnostics {
	filename := fmt.Sprintf("<value for var.%s>", v.Name)
	// The text is kept for diagnostic snippets, unless it is a secret.
	if !v.Sensitive {
		ld.parser.AddSource(filename, []byte(raw))
	}
	rng := textRange(filename, raw)
	val := cty.StringVal(raw)
	if v.Type != cty.String && v.Type != cty.DynamicPseudoType {
		expr, diags := hclsyntax.ParseExpression([]byte(raw), filename, hcl.InitialPos)
		if diags.HasErrors() {
			v.failed = true
			return diags
		}
		// A bare word such as "large" for a number parses as a variable
		// reference; treating it as text gives the useful error ("a number
		// is required") instead of "Variables not allowed".
		if len(expr.Variables()) == 0 {
			ev, diags := expr.Value(nil)
			if diags.HasErrors() {
				v.failed = true
				return diags
			}
			val = ev
		}
	}
	return ld.assign(v, val, rng, from, origin)
}

// assign converts val to v's type and makes it the current value.
func (ld *loader) assign(v *variableDecl, val cty.Value, rng hcl.Range, from, origin string) hcl.Diagnostics {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	cv, err := convert.Convert(val, v.Type)
	if err != nil {
		v.failed = true
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for input variable",
			Detail: fmt.Sprintf("Unsuitable value for var.%s set %s: %s. The variable's type is %s.",
				v.Name, origin, formatCtyError(err), typeexpr.TypeString(v.Type)),
			Subject: rng.Ptr(),
		}}
	}
	v.failed = false
	v.Value, v.ValueFrom, v.ValueRange = cv, from, rng
	return nil
}

// loadVarFile applies one -var-file: a file of NAME = VALUE attributes.
func (ld *loader) loadVarFile(path string) hcl.Diagnostics {
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(ld.dir, abs)
	}
	name := relName(ld.dir, abs)
	f, diags := ld.parser.LoadHCLFile(name)
	if f == nil {
		return diags
	}
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	sorted := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		sorted = append(sorted, a)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Range.Start.Byte < sorted[j].Range.Start.Byte })
	for _, attr := range sorted {
		v, ok := ld.vars[attr.Name]
		if !ok {
			detail := fmt.Sprintf("The file sets var.%s, but no variable %q {} block declares it, so the value is ignored.", attr.Name, attr.Name)
			if s := didYouMean(attr.Name, keys(ld.vars)); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   detail,
				Subject:  attr.NameRange.Ptr(),
			})
			continue
		}
		val, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			v.failed = true
			continue
		}
		diags = append(diags, ld.assign(v, val, attr.Expr.Range(), valueFromFile+name, "in "+name)...)
	}
	return diags
}

// checkVariableValidations runs every validation rule against the final
// values, once locals are known (a rule may use both).
func (ld *loader) checkVariableValidations(sc *scope) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range keys(ld.vars) {
		v := ld.vars[name]
		if !v.Value.IsWhollyKnown() {
			continue
		}
		for _, rule := range v.Validations {
			diags = append(diags, checkValidation(v.Variable, rule, sc)...)
		}
	}
	return diags
}

func checkValidation(v *Variable, rule *VariableValidation, sc *scope) hcl.Diagnostics {
	result, diags := sc.value(rule.Condition)
	if diags.HasErrors() || !result.IsWhollyKnown() {
		return diags
	}
	result, _ = result.UnmarkDeep()
	if result.IsNull() {
		return append(diags, invalidCondition(rule, "it is null"))
	}
	b, err := convert.Convert(result, cty.Bool)
	if err != nil {
		return append(diags, invalidCondition(rule, "a bool is required"))
	}
	if b.True() {
		return diags
	}
	msg := rule.ErrorMessage
	if msg == "" {
		msg = fmt.Sprintf("The value of var.%s is not valid.", v.Name)
	}
	return append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid value for variable",
		Detail:   fmt.Sprintf("%s\n\nThe value (%s, from %s) failed the validation rule at %s.", msg, Redact(v.Value), valueOrigin(v), rule.DeclRange),
		Subject:  rule.Condition.Range().Ptr(),
	})
}

func invalidCondition(rule *VariableValidation, why string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid validation condition",
		Detail:   fmt.Sprintf("The condition must evaluate to true or false, but %s.", why),
		Subject:  rule.Condition.Range().Ptr(),
	}
}

func valueOrigin(v *Variable) string {
	switch {
	case v.ValueFrom == ValueFromDefault:
		return "its default"
	case v.ValueFrom == ValueFromEnv:
		return EnvVarPrefix + v.Name
	case v.ValueFrom == ValueFromCLI:
		return "-var"
	case strings.HasPrefix(v.ValueFrom, valueFromFile):
		return strings.TrimPrefix(v.ValueFrom, valueFromFile)
	}
	return v.ValueFrom
}

// textRange is the range covering all of text in a synthetic file.
func textRange(filename, text string) hcl.Range {
	end := hcl.Pos{Line: 1, Column: 1, Byte: len(text)}
	for _, r := range text {
		if r == '\n' {
			end.Line++
			end.Column = 1
		} else {
			end.Column++
		}
	}
	return hcl.Range{Filename: filename, Start: hcl.InitialPos, End: end}
}
