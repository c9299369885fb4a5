package config

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Layer defaults.
const (
	DefaultInstanceType  = "t3.small"
	DefaultVolumeSizeGiB = 8
	DefaultVolumeType    = "gp3"
	DefaultArchitecture  = "x86_64"
)

var (
	architectures  = []string{"x86_64", "arm64"}
	volumeTypes    = []string{"gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"}
	instanceTypeRe = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`)
)

var layerBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "parent"},
		{Name: "recipes"},
		{Name: "inputs"},
		{Name: "instance_type"},
		{Name: "imdsv2_required"},
		{Name: "regions"},
		{Name: "share_with"},
		{Name: "tags"},
		{Name: "provisioner"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "source"},
		{Type: "volume"},
		{Type: "share_with"},
		{Type: "patch"},
	},
}

var sourceBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "ssm_parameter"},
		{Name: "owners"},
		{Name: "name"},
		{Name: "architecture"},
	},
}

var volumeBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "size"},
		{Name: "type"},
		{Name: "encrypted"},
		{Name: "kms_key_id"},
	},
}

var patchRefBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "baseline", Required: true},
		{Name: "patch_group"},
	},
}

func decodeLayerBlock(block *hcl.Block, sc *scope) (*Layer, hcl.Diagnostics) {
	l := &Layer{
		Name:           block.Labels[0],
		InstanceType:   DefaultInstanceType,
		Volume:         Volume{SizeGiB: DefaultVolumeSizeGiB, Type: DefaultVolumeType, Encrypted: true},
		IMDSv2Required: true,
		Tags:           map[string]string{},
		DeclRange:      block.DefRange,
	}
	diags := checkLabel(block, "layer", layerNameRe, layerNameHint)
	content, d := block.Body.Content(layerBlockSchema)
	diags = append(diags, d...)
	attrs := content.Attributes

	if attr, ok := attrs["parent"]; ok {
		name, d := blockRef(attr.Expr, "layer", "parent = %s")
		diags = append(diags, d...)
		l.Parent, l.ParentRange = name, attr.Expr.Range()
	}

	var source, volume, patch, share *hcl.Block
	for _, b := range content.Blocks {
		var seen **hcl.Block
		switch b.Type {
		case "source":
			seen = &source
		case "volume":
			seen = &volume
		case "patch":
			seen = &patch
		case "share_with":
			seen = &share
		}
		if *seen != nil {
			diags = append(diags, duplicateBlock(b, *seen))
			continue
		}
		*seen = b
	}

	switch {
	case source != nil && l.Parent != "":
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting parent and source",
			Detail: fmt.Sprintf("A layer either builds on another layer (parent, set at %s) or starts from an upstream AMI (source {}), not both. Remove one of them.",
				l.ParentRange),
			Subject: source.DefRange.Ptr(),
		})
	case source == nil && attrs["parent"] == nil:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing parent or source",
			Detail: fmt.Sprintf(`Layer %q needs a starting point: parent = layer.NAME to build on another layer, or a source { ssm_parameter = "..." } block to start from an upstream AMI.`,
				l.Name),
			Subject: l.DeclRange.Ptr(),
		})
	}
	if source != nil {
		src, d := decodeSourceBlock(source, sc)
		diags = append(diags, d...)
		l.Source = src
	}

	if attr, ok := attrs["recipes"]; ok {
		refs, d := decodeRecipeRefs(attr)
		diags = append(diags, d...)
		l.Recipes = refs
	}
	if attr, ok := attrs["inputs"]; ok {
		diags = append(diags, decodeLayerInputs(attr, sc, l.Recipes)...)
	}

	diags = append(diags, sc.setString(attrs, "instance_type", &l.InstanceType)...)
	diags = append(diags, checkPattern(attrs, "instance_type", l.InstanceType, instanceTypeRe, "instance type", `use an EC2 instance type like "t3.small" or "m7g.large"`)...)
	if volume != nil {
		diags = append(diags, decodeVolumeBlock(volume, sc, &l.Volume)...)
	}
	diags = append(diags, sc.setBool(attrs, "imdsv2_required", &l.IMDSv2Required)...)
	diags = append(diags, sc.setStrings(attrs, "regions", &l.Regions)...)
	diags = append(diags, checkRegions(attrs, "regions", l.Regions)...)

	shareContent := &hcl.BodyContent{Attributes: hcl.Attributes{}}
	if attr, ok := attrs["share_with"]; ok {
		shareContent.Attributes["share_with"] = attr
	}
	if share != nil {
		shareContent.Blocks = hcl.Blocks{share}
	}
	sharing, d := decodeSharing(shareContent, sc)
	diags = append(diags, d...)
	l.ShareWith = sharing

	diags = append(diags, sc.setStringMap(attrs, "tags", &l.Tags)...)
	diags = append(diags, checkTags(attrs, "tags", l.Tags)...)
	diags = append(diags, sc.setString(attrs, "provisioner", &l.Provisioner)...)
	if l.Provisioner != "" {
		diags = append(diags, checkOneOf(attrs, "provisioner", l.Provisioner, "provisioner", provisionerSet...)...)
	}
	if patch != nil {
		p, d := decodePatchRef(patch, sc)
		diags = append(diags, d...)
		l.Patch = p
	}
	return l, diags
}

func decodeSourceBlock(block *hcl.Block, sc *scope) (*Source, hcl.Diagnostics) {
	s := &Source{Architecture: DefaultArchitecture, DeclRange: block.DefRange}
	content, diags := block.Body.Content(sourceBlockSchema)
	attrs := content.Attributes
	diags = append(diags, sc.setString(attrs, "ssm_parameter", &s.SSMParameter)...)
	diags = append(diags, sc.setStrings(attrs, "owners", &s.Owners)...)
	diags = append(diags, sc.setString(attrs, "name", &s.NameFilter)...)
	diags = append(diags, sc.setString(attrs, "architecture", &s.Architecture)...)
	diags = append(diags, checkOneOf(attrs, "architecture", s.Architecture, "architecture", architectures...)...)

	_, hasParam := attrs["ssm_parameter"]
	_, hasOwners := attrs["owners"]
	_, hasName := attrs["name"]
	switch {
	case hasParam && (hasOwners || hasName):
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting source selectors",
			Detail:   "A source is either an SSM parameter (ssm_parameter) or an AMI filter (owners and name), not both. Remove one.",
			Subject:  attrs["ssm_parameter"].NameRange.Ptr(),
		})
	case !hasParam && !hasOwners && !hasName:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing source selector",
			Detail:   `A source needs ssm_parameter = "/aws/service/..." or an AMI filter: owners = ["amazon"] and name = "al2023-ami-*".`,
			Subject:  block.DefRange.Ptr(),
		})
	case !hasParam && hasOwners != hasName:
		missing, present := "name", "owners"
		if hasName {
			missing, present = "owners", "name"
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incomplete source filter",
			Detail:   fmt.Sprintf("An AMI filter needs both owners and name; %s is set but %s is missing.", present, missing),
			Subject:  attrs[present].NameRange.Ptr(),
		})
	}
	if s.Owners != nil && len(s.Owners) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No owners",
			Detail:   `owners must name at least one account ID or alias, like ["amazon"].`,
			Subject:  attrs["owners"].Expr.Range().Ptr(),
		})
	}
	return s, diags
}

func decodeVolumeBlock(block *hcl.Block, sc *scope, v *Volume) hcl.Diagnostics {
	v.DeclRange = block.DefRange
	content, diags := block.Body.Content(volumeBlockSchema)
	attrs := content.Attributes
	diags = append(diags, sc.setInt(attrs, "size", &v.SizeGiB)...)
	if attr, ok := attrs["size"]; ok && (v.SizeGiB < 1 || v.SizeGiB > 16384) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid volume size",
			Detail:   fmt.Sprintf("The root volume size is in GiB, from 1 to 16384; got %d.", v.SizeGiB),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	diags = append(diags, sc.setString(attrs, "type", &v.Type)...)
	diags = append(diags, checkOneOf(attrs, "type", v.Type, "volume type", volumeTypes...)...)
	diags = append(diags, sc.setBool(attrs, "encrypted", &v.Encrypted)...)
	diags = append(diags, sc.setString(attrs, "kms_key_id", &v.KMSKeyID)...)
	if attr, ok := attrs["kms_key_id"]; ok && v.KMSKeyID != "" && !v.Encrypted {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "KMS key on an unencrypted volume",
			Detail:   "kms_key_id only applies to encrypted volumes: remove it, or set encrypted = true.",
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return diags
}

// decodeRecipeRefs reads recipes = [recipe.A, recipe.B]: references, in
// the order the recipes run.
func decodeRecipeRefs(attr *hcl.Attribute) ([]*RecipeRef, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid recipes list",
			Detail:   "recipes is a list of recipe references in the order they run, like recipes = [recipe.ssm_agent, recipe.cis_hardening].",
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	var refs []*RecipeRef
	seen := map[string]hcl.Range{}
	for _, e := range exprs {
		name, d := blockRef(e, "recipe", "recipes = [%s]")
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if first, dup := seen[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate recipe in layer",
				Detail:   fmt.Sprintf("recipe.%s is already listed at %s; a recipe runs once per layer.", name, first),
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		seen[name] = e.Range()
		refs = append(refs, &RecipeRef{Name: name, Inputs: map[string]cty.Value{}, Range: e.Range(), InputRanges: map[string]hcl.Range{}})
	}
	return refs, diags
}

// decodeLayerInputs reads inputs = { RECIPE = { INPUT = value } } into the
// matching RecipeRefs, keeping each value's range so that a bad input is
// reported where it is written. Values keep their sensitive marks.
func decodeLayerInputs(attr *hcl.Attribute, sc *scope, refs []*RecipeRef) hcl.Diagnostics {
	byName := map[string]*RecipeRef{}
	var names []string
	for _, r := range refs {
		byName[r.Name] = r
		names = append(names, r.Name)
	}
	inScope := *sc
	inScope.noWarn = true // inputs are where secrets are meant to go

	items, known, diags := objectItems(attr.Expr, &inScope, false)
	if !known {
		for _, r := range refs {
			r.inputsUnknown = true
		}
	}
	seen := map[string]hcl.Range{}
	for _, item := range items {
		ref := byName[item.key]
		if first, dup := seen[item.key]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate recipe inputs",
				Detail:   fmt.Sprintf("Inputs for recipe %q were already given at %s.", item.key, first),
				Subject:  item.keyRange.Ptr(),
			})
			continue
		}
		seen[item.key] = item.keyRange
		if ref == nil {
			detail := fmt.Sprintf("inputs sets values for recipe %q, which is not in this layer's recipes list. Add recipe.%s to recipes, or remove these inputs.", item.key, item.key)
			if s := didYouMean(item.key, names); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Inputs for a recipe the layer does not run",
				Detail:   detail,
				Subject:  item.keyRange.Ptr(),
			})
			continue
		}
		ref.InputsRange = item.valueRange
		inner, known, d := objectItems(item.expr, &inScope, true)
		diags = append(diags, d...)
		ref.inputsUnknown = !known
		for _, in := range inner {
			if _, dup := ref.Inputs[in.key]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate recipe input",
					Detail:   fmt.Sprintf("Input %q of recipe %q is set twice; the first is at %s.", in.key, item.key, ref.InputRanges[in.key]),
					Subject:  in.keyRange.Ptr(),
				})
				continue
			}
			ref.Inputs[in.key] = in.value
			ref.InputRanges[in.key] = hcl.RangeBetween(in.keyRange, in.valueRange)
		}
	}
	return diags
}

// objectItem is one key = value of an object, with source ranges.
type objectItem struct {
	key        string
	keyRange   hcl.Range
	expr       hcl.Expression // nil when the object came from a computed value
	value      cty.Value
	valueRange hcl.Range
}

// objectItems lists the items of an object expression. An object
// constructor ({ a = 1 }) gives each item its own range, and its values are
// evaluated only when evalValues is set (the caller may descend into them
// instead); any other expression (local.inputs) is evaluated whole and its
// items share its range.
//
// known is false when the object could not be evaluated: its items are
// unknown, and an error has been reported.
func objectItems(expr hcl.Expression, sc *scope, evalValues bool) (items []objectItem, known bool, diags hcl.Diagnostics) {
	if pairs, d := hcl.ExprMap(expr); !d.HasErrors() {
		out := make([]objectItem, 0, len(pairs))
		for _, kv := range pairs {
			kval, d := kv.Key.Value(nil)
			if d.HasErrors() || kval.Type() != cty.String || !kval.IsKnown() || kval.IsNull() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid object key",
					Detail:   "Keys here are names: write them bare or quoted, like cis_hardening = { ... }.",
					Subject:  kv.Key.Range().Ptr(),
				})
				continue
			}
			item := objectItem{key: kval.AsString(), keyRange: kv.Key.Range(), expr: kv.Value, valueRange: kv.Value.Range()}
			if evalValues {
				v, d := sc.value(kv.Value)
				diags = append(diags, d...)
				item.value = v
			}
			out = append(out, item)
		}
		return out, true, diags
	}

	v, d := sc.value(expr)
	diags = append(diags, d...)
	if d.HasErrors() || !v.IsKnown() {
		return nil, false, diags
	}
	if v.IsNull() {
		return nil, true, diags
	}
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		return nil, false, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   "An object is required here, like { name = value }.",
			Subject:  expr.Range().Ptr(),
		})
	}
	v, vmarks := v.Unmark()
	var out []objectItem
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if len(vmarks) > 0 {
			ev = ev.WithMarks(vmarks)
		}
		out = append(out, objectItem{
			key: k.AsString(), keyRange: expr.Range(),
			expr:  hcl.StaticExpr(ev, expr.Range()),
			value: ev, valueRange: expr.Range(),
		})
	}
	return out, true, diags
}

func decodePatchRef(block *hcl.Block, sc *scope) (*PatchRef, hcl.Diagnostics) {
	p := &PatchRef{Range: block.DefRange}
	content, diags := block.Body.Content(patchRefBlockSchema)
	if attr, ok := content.Attributes["baseline"]; ok {
		name, d := blockRef(attr.Expr, "patch_baseline", "baseline = %s")
		diags = append(diags, d...)
		p.Baseline, p.BaselineRange = name, attr.Expr.Range()
	}
	diags = append(diags, sc.setString(content.Attributes, "patch_group", &p.PatchGroup)...)
	return p, diags
}
