package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// scope says what an expression may refer to and evaluates it in ctx.
// References are checked before evaluation so that a typo gets a precise
// "Reference to undeclared …" error with a suggestion instead of HCL's
// generic "Unsupported attribute".
type scope struct {
	ctx    *hcl.EvalContext
	vars   map[string]bool
	locals map[string]bool
	// inputs is non-nil where input.NAME is allowed (a recipe step's env).
	inputs map[string]bool
	// names are extra bare variables allowed here (project.ami_name's).
	names map[string]bool
	// noWarn turns off the "sensitive value in a plain setting" warning
	// (values that are meant to carry secrets, like recipe inputs).
	noWarn bool
}

// withInputs returns a copy of s in which input.NAME refers to inputs.
func (s *scope) withInputs(inputs map[string]bool) *scope {
	c := *s
	c.inputs = inputs
	if c.inputs == nil {
		c.inputs = map[string]bool{}
	}
	return &c
}

// checkRefs reports every reference in expr that this scope cannot resolve.
func (s *scope) checkRefs(expr hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range expr.Variables() {
		root := t.RootName()
		rng := t.SourceRange()
		if s.names[root] {
			if len(t) > 1 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference",
					Detail:   fmt.Sprintf("%s is a string: use it as ${%s}, with nothing after the name.", root, root),
					Subject:  rng.Ptr(),
				})
			}
			continue
		}
		switch {
		case root == "var":
			diags = append(diags, checkNamedRef(t, "var", "input variable", s.vars,
				`Declare it in amibake.hcl with variable "%s" {}.`)...)
		case root == "local":
			diags = append(diags, checkNamedRef(t, "local", "local value", s.locals,
				`Declare it in a locals {} block of amibake.hcl.`)...)
		case root == "input" && s.inputs != nil:
			diags = append(diags, checkNamedRef(t, "input", "recipe input", s.inputs,
				`Declare it in the recipe with input "%s" {}.`)...)
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference",
				Detail:   s.invalidRefDetail(root),
				Subject:  rng.Ptr(),
			})
		}
	}
	return diags
}

func (s *scope) invalidRefDetail(root string) string {
	allowed := "var.NAME and local.NAME"
	if s.inputs != nil {
		allowed = "input.NAME, var.NAME and local.NAME"
	}
	switch root {
	case "layer", "recipe", "patch_baseline", "fleet":
		return fmt.Sprintf("%s.NAME is a reference to a block, valid only where one is expected (parent, recipes, baseline, a fleet's layer). This argument takes a value: use %s, literals and functions.", root, allowed)
	case "input":
		return "input.NAME is only available in the env of a recipe step."
	case "project", "fingerprint", "fingerprint_short", "timestamp":
		return fmt.Sprintf("%q is only available in project.ami_name. Here, use %s.", root, allowed)
	}
	return fmt.Sprintf("There is no variable named %q. Expressions here can use %s.", root, allowed)
}

// checkNamedRef checks a ROOT.NAME reference against the declared names.
func checkNamedRef(t hcl.Traversal, root, what string, declared map[string]bool, declHint string) hcl.Diagnostics {
	name, ok := traversalName(t)
	if !ok {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid reference",
			Detail:   fmt.Sprintf("A reference to %s must name one: %s.NAME.", root, root),
			Subject:  t.SourceRange().Ptr(),
		}}
	}
	if declared[name] {
		return nil
	}
	detail := fmt.Sprintf("%s %s named %q has not been declared.", article(what), what, name)
	if s := didYouMean(name, keys(declared)); s != "" {
		detail += fmt.Sprintf(" Did you mean %s.%s?", root, s)
	} else if strings.Contains(declHint, "%s") {
		detail += " " + fmt.Sprintf(declHint, name)
	} else {
		detail += " " + declHint
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Reference to undeclared " + what,
		Detail:   detail,
		Subject:  t.SourceRange().Ptr(),
	}}
}

// traversalName returns NAME from ROOT.NAME or ROOT["NAME"].
func traversalName(t hcl.Traversal) (string, bool) {
	if len(t) < 2 {
		return "", false
	}
	switch step := t[1].(type) {
	case hcl.TraverseAttr:
		return step.Name, true
	case hcl.TraverseIndex:
		if step.Key.Type() == cty.String && step.Key.IsKnown() && !step.Key.IsNull() {
			return step.Key.AsString(), true
		}
	}
	return "", false
}

// value checks the references of expr and evaluates it. On errors it
// returns cty.DynamicVal so that callers treat the value as "unknown" and
// do not pile more errors on top.
func (s *scope) value(expr hcl.Expression) (cty.Value, hcl.Diagnostics) {
	diags := s.checkRefs(expr)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	v, valDiags := expr.Value(s.ctx)
	diags = append(diags, valDiags...)
	if valDiags.HasErrors() {
		return cty.DynamicVal, diags
	}
	return v, diags
}

// attrValue evaluates attrs[name] and converts it to ty, dropping marks.
// ok is false when the attribute is absent, null, unknown (an error was
// already reported upstream) or invalid: the caller keeps its default.
func (s *scope) attrValue(attrs hcl.Attributes, name string, ty cty.Type) (cty.Value, bool, hcl.Diagnostics) {
	attr, exists := attrs[name]
	if !exists {
		return cty.NilVal, false, nil
	}
	v, diags := s.value(attr.Expr)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false, diags
	}
	if IsSensitive(v) && !s.noWarn {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Sensitive value in a plain setting",
			Detail: fmt.Sprintf("The value of %q derives from a sensitive value, but this setting is written in clear text to Packer templates, AMI tags or logs. Pass secrets to recipes as sensitive inputs instead.",
				name),
			Subject: attr.Expr.Range().Ptr(),
		})
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return cty.NilVal, false, diags
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		return cty.NilVal, false, append(diags, typeError(attr, err))
	}
	return cv, true, diags
}

func typeError(attr *hcl.Attribute, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Incorrect attribute value type",
		Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s.", attr.Name, formatCtyError(err)),
		Subject:  attr.Expr.Range().Ptr(),
	}
}

// formatCtyError renders a conversion error with the path it happened at,
// the way Terraform does ("element 0: string required").
func formatCtyError(err error) string {
	pe, ok := err.(cty.PathError)
	if !ok || len(pe.Path) == 0 {
		return err.Error()
	}
	return formatCtyPath(pe.Path) + ": " + pe.Error()
}

func formatCtyPath(path cty.Path) string {
	var parts []string
	for _, step := range path {
		switch s := step.(type) {
		case cty.GetAttrStep:
			parts = append(parts, fmt.Sprintf("attribute %q", s.Name))
		case cty.IndexStep:
			switch s.Key.Type() {
			case cty.String:
				parts = append(parts, fmt.Sprintf("element %q", s.Key.AsString()))
			case cty.Number:
				parts = append(parts, "element "+s.Key.AsBigFloat().Text('f', -1))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// toGo converts a known, unmarked value into dst, reporting at attr.
func toGo(attr *hcl.Attribute, v cty.Value, dst any) hcl.Diagnostics {
	if err := gocty.FromCtyValue(v, dst); err != nil {
		return hcl.Diagnostics{typeError(attr, err)}
	}
	return nil
}

func (s *scope) setString(attrs hcl.Attributes, name string, dst *string) hcl.Diagnostics {
	v, ok, diags := s.attrValue(attrs, name, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return diags
}

func (s *scope) setBool(attrs hcl.Attributes, name string, dst *bool) hcl.Diagnostics {
	v, ok, diags := s.attrValue(attrs, name, cty.Bool)
	if ok {
		*dst = v.True()
	}
	return diags
}

func (s *scope) setInt(attrs hcl.Attributes, name string, dst *int) hcl.Diagnostics {
	v, ok, diags := s.attrValue(attrs, name, cty.Number)
	if !ok {
		return diags
	}
	var n int
	if d := toGo(attrs[name], v, &n); d.HasErrors() {
		return append(diags, d...)
	}
	*dst = n
	return diags
}

func (s *scope) setStrings(attrs hcl.Attributes, name string, dst *[]string) hcl.Diagnostics {
	v, ok, diags := s.attrValue(attrs, name, cty.List(cty.String))
	if !ok {
		return diags
	}
	out := []string{}
	if d := toGo(attrs[name], v, &out); d.HasErrors() {
		return append(diags, d...)
	}
	*dst = out
	return diags
}

func (s *scope) setStringMap(attrs hcl.Attributes, name string, dst *map[string]string) hcl.Diagnostics {
	v, ok, diags := s.attrValue(attrs, name, cty.Map(cty.String))
	if !ok {
		return diags
	}
	out := map[string]string{}
	if d := toGo(attrs[name], v, &out); d.HasErrors() {
		return append(diags, d...)
	}
	*dst = out
	return diags
}

func (s *scope) setDuration(attrs hcl.Attributes, name string, dst *time.Duration) hcl.Diagnostics {
	v, ok, diags := s.attrValue(attrs, name, cty.String)
	if !ok {
		return diags
	}
	d, err := parseDuration(v.AsString())
	if err != nil {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid duration",
			Detail:   fmt.Sprintf("Argument %q: %s.", name, err),
			Subject:  attrs[name].Expr.Range().Ptr(),
		})
	}
	*dst = d
	return diags
}

// checkOneOf reports got when the attribute is set and got is not one of
// allowed. When the attribute failed to evaluate, got still holds the
// default and nothing more is reported.
func checkOneOf(attrs hcl.Attributes, name, got, what string, allowed ...string) hcl.Diagnostics {
	attr, ok := attrs[name]
	if !ok || contains(allowed, got) {
		return nil
	}
	return oneOfError(attr, got, what, allowed)
}

func oneOfError(attr *hcl.Attribute, got, what string, allowed []string) hcl.Diagnostics {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	detail := fmt.Sprintf("%q is not a valid %s. Use one of %s.", got, what, strings.Join(quoted, ", "))
	if s := didYouMean(got, allowed); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + what,
		Detail:   detail,
		Subject:  attr.Expr.Range().Ptr(),
	}}
}

// checkPattern reports got when it is set and does not match re.
func checkPattern(attrs hcl.Attributes, name, got string, re *regexp.Regexp, what, hint string) hcl.Diagnostics {
	attr, ok := attrs[name]
	if !ok || re.MatchString(got) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + what,
		Detail:   fmt.Sprintf("%q is not a valid %s: %s.", got, what, hint),
		Subject:  attr.Expr.Range().Ptr(),
	}}
}

// checkLabel validates a block label (a name) against re.
func checkLabel(block *hcl.Block, what string, re *regexp.Regexp, hint string) hcl.Diagnostics {
	if len(block.Labels) == 0 {
		return nil
	}
	if n := len(block.Labels[0]); n > maxBlockName {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what + " name",
			Detail: fmt.Sprintf("%q is %d characters; a %s name has at most %d: it is part of AWS names and texts with their own limits (SSM Run Command comments of 100 bytes, maintenance window and target names, tag values).",
				block.Labels[0], n, what, maxBlockName),
			Subject: block.LabelRanges[0].Ptr(),
		}}
	}
	if re.MatchString(block.Labels[0]) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + what + " name",
		Detail:   fmt.Sprintf("%q is not a valid %s name: %s.", block.Labels[0], what, hint),
		Subject:  block.LabelRanges[0].Ptr(),
	}}
}

// Name rules. Layer names appear in SSM parameter paths, AMI names and tags,
// so they are the strictest; recipe, fleet and baseline names may also use
// underscores (recipe.cis_hardening).
var (
	layerNameRe   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	layerNameHint = "use lowercase letters, digits and dashes, starting with a letter"
	blockNameRe   = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	// maxBlockName bounds layer, recipe, baseline and fleet names.
	maxBlockName  = 64
	blockNameHint = "use lowercase letters, digits, underscores and dashes, starting with a letter"
)

// duplicate reports a second declaration of a named block, citing the first.
func duplicate(what, name string, first, second hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + what + " declaration",
		Detail:   fmt.Sprintf("%s %s named %q was already declared at %s. Names must be unique within a project.", article(what), what, name, first),
		Subject:  second.Ptr(),
	}
}

// article is "A" or "An" for a noun phrase.
func article(what string) string {
	if what != "" && strings.ContainsAny(what[:1], "aeiou") {
		return "An"
	}
	return "A"
}

// didYouMean returns the candidate closest to given when it is close
// enough to be a plausible typo and no other candidate is as close: an
// ambiguous guess helps nobody.
func didYouMean(given string, candidates []string) string {
	best, bestDist, tie := "", 3, false
	for _, c := range candidates {
		switch d := editDistance(given, c); {
		case d < bestDist:
			best, bestDist, tie = c, d, false
		case d == bestDist && c != best:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance over runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
