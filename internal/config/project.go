package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Project defaults.
const (
	DefaultParamPrefix = "/amibake"
	DefaultProvisioner = "ssm"
	defaultAMIName     = "${project}-${layer}-${fingerprint_short}-${timestamp}"
)

// amiNameVars are the bare variables project.ami_name may use besides
// var.* and local.*; AMIName documents their values.
var amiNameVars = map[string]bool{
	"project": true, "layer": true, "fingerprint": true, "fingerprint_short": true, "timestamp": true,
}

var projectBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "regions", Required: true},
		{Name: "param_prefix"},
		{Name: "ami_name"},
		{Name: "provisioner"},
		{Name: "iam_instance_profile"},
		{Name: "subnet_id"},
		{Name: "inventory_bucket"},
		{Name: "kms_key_id"},
		{Name: "deprecate_after"},
		{Name: "share_with"},
		{Name: "default_tags"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "share_with"}},
}

var (
	projectNameRe  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	paramPrefixRe  = regexp.MustCompile(`^(/[a-zA-Z0-9_.-]+)+$`)
	regionRe       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	subnetIDRe     = regexp.MustCompile(`^subnet-[0-9a-f]+$`)
	accountIDRe    = regexp.MustCompile(`^[0-9]{12}$`)
	provisionerSet = []string{"ssm", "ssh"}
)

func decodeProjectBlock(block *hcl.Block, sc *scope) (*Project, hcl.Diagnostics) {
	p := &Project{
		Name:        block.Labels[0],
		ParamPrefix: DefaultParamPrefix,
		Provisioner: DefaultProvisioner,
		DefaultTags: map[string]string{},
		DeclRange:   block.DefRange,
	}
	diags := checkLabel(block, "project", projectNameRe, "use letters, digits, dots, underscores and dashes")
	content, moreDiags := block.Body.Content(projectBlockSchema)
	diags = append(diags, moreDiags...)
	attrs := content.Attributes

	diags = append(diags, sc.setStrings(attrs, "regions", &p.Regions)...)
	diags = append(diags, checkRegions(attrs, "regions", p.Regions)...)
	if p.Regions != nil && len(p.Regions) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No regions",
			Detail:   `A project needs at least one region: builds run in the first, and AMIs are copied to the rest. For example: regions = ["us-east-1"].`,
			Subject:  attrs["regions"].Expr.Range().Ptr(),
		})
	}

	diags = append(diags, sc.setString(attrs, "param_prefix", &p.ParamPrefix)...)
	diags = append(diags, checkPattern(attrs, "param_prefix", p.ParamPrefix, paramPrefixRe, "parameter prefix",
		`it must start with "/", not end with "/", and use letters, digits, ".", "_" and "-" between slashes, like "/amibake"`)...)

	if attr, ok := attrs["ami_name"]; ok {
		p.AMIName = attr.Expr
		amiScope := *sc
		amiScope.names = amiNameVars
		diags = append(diags, amiScope.checkRefs(attr.Expr)...)
	} else {
		p.AMIName, _ = hclsyntax.ParseTemplate([]byte(defaultAMIName), "<default ami_name>", hcl.InitialPos)
	}

	diags = append(diags, sc.setString(attrs, "provisioner", &p.Provisioner)...)
	diags = append(diags, checkOneOf(attrs, "provisioner", p.Provisioner, "provisioner", provisionerSet...)...)
	diags = append(diags, sc.setString(attrs, "iam_instance_profile", &p.IAMInstanceProfile)...)
	diags = append(diags, sc.setString(attrs, "subnet_id", &p.SubnetID)...)
	if p.SubnetID != "" {
		diags = append(diags, checkPattern(attrs, "subnet_id", p.SubnetID, subnetIDRe, "subnet ID", `use an ID like "subnet-0123abcd", or "" for the default VPC`)...)
	}
	diags = append(diags, sc.setString(attrs, "inventory_bucket", &p.InventoryBucket)...)
	if p.InventoryBucket != "" && p.Provisioner == "ssh" && p.IAMInstanceProfile == "" {
		// The inventory is gathered through Systems Manager on the build
		// instance; without a profile it is not managed and every build fails late.
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Inventory needs an SSM-managed build instance",
			Detail: `inventory_bucket records each AMI's inventory through Systems Manager Inventory on the build instance. ` +
				`With provisioner = "ssh" it is reached over Session Manager and needs an instance profile with ` +
				`AmazonSSMManagedInstanceCore: set iam_instance_profile, or use provisioner = "ssm".`,
			Subject: attrs["inventory_bucket"].Expr.Range().Ptr(),
		})
	}
	diags = append(diags, sc.setString(attrs, "kms_key_id", &p.KMSKeyID)...)
	diags = append(diags, sc.setDuration(attrs, "deprecate_after", &p.DeprecateAfter)...)

	share, d := decodeSharing(content, sc)
	diags = append(diags, d...)
	if share != nil {
		p.ShareWith = *share
	}
	diags = append(diags, sc.setStringMap(attrs, "default_tags", &p.DefaultTags)...)
	diags = append(diags, checkTags(attrs, "default_tags", p.DefaultTags)...)
	return p, diags
}

// checkRegions validates region names and rejects repeats.
func checkRegions(attrs hcl.Attributes, name string, regions []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, r := range regions {
		if !regionRe.MatchString(r) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid region",
				Detail:   fmt.Sprintf("%q is not an AWS region name; use names like \"us-east-1\".", r),
				Subject:  attrs[name].Expr.Range().Ptr(),
			})
		}
		if seen[r] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate region",
				Detail:   fmt.Sprintf("%q is listed more than once.", r),
				Subject:  attrs[name].Expr.Range().Ptr(),
			})
		}
		seen[r] = true
	}
	return diags
}

// checkTags rejects the amibake: prefix, which amibake's own lineage tags
// use: a user tag there would corrupt lineage and plans.
func checkTags(attrs hcl.Attributes, name string, tags map[string]string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range keys(tags) {
		if strings.HasPrefix(strings.ToLower(k), "amibake:") {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Reserved tag key",
				Detail:   fmt.Sprintf("Tag keys starting with \"amibake:\" are written by amibake itself (lineage, fingerprint); rename %q.", k),
				Subject:  attrs[name].Expr.Range().Ptr(),
			})
		}
	}
	return diags
}

var sharingBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "accounts"},
		{Name: "organizations"},
		{Name: "org_units"},
	},
}

// decodeSharing reads share_with, written either as a block
// (share_with { accounts = [...] }) or as an attribute
// (share_with = { accounts = [...] }). nil means not set.
func decodeSharing(content *hcl.BodyContent, sc *scope) (*Sharing, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var blocks []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == "share_with" {
			blocks = append(blocks, b)
		}
	}
	attr, hasAttr := content.Attributes["share_with"]
	if len(blocks) > 1 || (len(blocks) == 1 && hasAttr) {
		second := blocks[len(blocks)-1].DefRange
		first := blocks[0].DefRange
		if hasAttr {
			first = attr.Range
		}
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate share_with",
			Detail:   fmt.Sprintf("share_with was already set at %s; set it once.", first),
			Subject:  second.Ptr(),
		}}
	}

	var attrs hcl.Attributes
	s := &Sharing{}
	switch {
	case len(blocks) == 1:
		c, d := blocks[0].Body.Content(sharingBlockSchema)
		diags = append(diags, d...)
		attrs = c.Attributes
		s.DeclRange = blocks[0].DefRange
	case hasAttr:
		v, d := sc.value(attr.Expr)
		diags = append(diags, d...)
		if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			return nil, diags
		}
		s.DeclRange = attr.Range
		if !v.Type().IsObjectType() && !v.Type().IsMapType() {
			return nil, append(diags, typeError(attr, fmt.Errorf("object required, like { accounts = [\"111122223333\"] }")))
		}
		// Re-express the object's items as attributes so both forms share
		// one decoder; ranges all point at the share_with value.
		attrs = hcl.Attributes{}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			name := k.AsString()
			if !contains([]string{"accounts", "organizations", "org_units"}, name) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unsupported argument",
					Detail:   fmt.Sprintf("share_with has no %q; use accounts, organizations or org_units.", name),
					Subject:  attr.Expr.Range().Ptr(),
				})
				continue
			}
			attrs[name] = &hcl.Attribute{Name: name, Expr: hcl.StaticExpr(ev, attr.Expr.Range()), Range: attr.Range, NameRange: attr.NameRange}
		}
	default:
		return nil, nil
	}

	diags = append(diags, sc.setStrings(attrs, "accounts", &s.Accounts)...)
	diags = append(diags, sc.setStrings(attrs, "organizations", &s.Organizations)...)
	diags = append(diags, sc.setStrings(attrs, "org_units", &s.OrgUnits)...)
	for _, a := range s.Accounts {
		if !accountIDRe.MatchString(a) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid account ID",
				Detail:   fmt.Sprintf("%q is not an AWS account ID: use the 12 digits, like \"111122223333\".", a),
				Subject:  attrs["accounts"].Expr.Range().Ptr(),
			})
		}
	}
	for _, item := range []struct {
		name string
		list []string
		ex   string
	}{
		{"organizations", s.Organizations, "arn:aws:organizations::111122223333:organization/o-exampleorgid"},
		{"org_units", s.OrgUnits, "arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-examplerootid-exampleouid"},
	} {
		for _, arn := range item.list {
			if !strings.HasPrefix(arn, "arn:") {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid ARN",
					Detail:   fmt.Sprintf("%s takes ARNs, like %q; got %q.", item.name, item.ex, arn),
					Subject:  attrs[item.name].Expr.Range().Ptr(),
				})
			}
		}
	}
	return s, diags
}

// AMIName evaluates project.ami_name for one build. Besides var.* and
// local.*, the pattern sees project, layer, fingerprint,
// fingerprint_short (the first 12 characters of fingerprint) and
// timestamp (at, UTC, as 20060102150405: AMI names may not contain ":").
func (c *Config) AMIName(layer, fingerprint string, at time.Time) (string, hcl.Diagnostics) {
	if c.Project == nil || c.Project.AMIName == nil {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No project", Detail: "The configuration has no project block."}}
	}
	short := fingerprint
	if len(short) > 12 {
		short = short[:12]
	}
	ctx := c.EvalContext().NewChild()
	ctx.Variables = map[string]cty.Value{
		"project":           cty.StringVal(c.Project.Name),
		"layer":             cty.StringVal(layer),
		"fingerprint":       cty.StringVal(fingerprint),
		"fingerprint_short": cty.StringVal(short),
		"timestamp":         cty.StringVal(at.UTC().Format("20060102150405")),
	}
	v, diags := c.Project.AMIName.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid ami_name",
			Detail:   "project.ami_name must evaluate to a string.",
			Subject:  c.Project.AMIName.Range().Ptr(),
		})
	}
	return v.AsString(), diags
}
