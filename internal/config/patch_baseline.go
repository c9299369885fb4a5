package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// OperatingSystems is SSM's OperatingSystem enum: the values
// patch_baseline.operating_system accepts.
var OperatingSystems = []string{
	"WINDOWS", "AMAZON_LINUX", "AMAZON_LINUX_2", "AMAZON_LINUX_2022", "AMAZON_LINUX_2023",
	"UBUNTU", "REDHAT_ENTERPRISE_LINUX", "SUSE", "CENTOS", "ORACLE_LINUX", "DEBIAN",
	"MACOS", "RASPBIAN", "ROCKY_LINUX", "ALMA_LINUX",
}

// ComplianceLevels is SSM's PatchComplianceLevel enum.
var ComplianceLevels = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"}

var patchBaselineBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "operating_system", Required: true},
		{Name: "description"},
		{Name: "approved_patches"},
		{Name: "rejected_patches"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "approval_rule"},
		{Type: "rebake_when"},
	},
}

var approvalRuleBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "classification"},
		{Name: "severity"},
		{Name: "approve_after_days"},
		{Name: "compliance_level"},
	},
}

var rebakeWhenBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "missing_severity"},
		{Name: "max_age"},
	},
}

func decodePatchBaselineBlock(block *hcl.Block, sc *scope) (*PatchBaseline, hcl.Diagnostics) {
	pb := &PatchBaseline{Name: block.Labels[0], DeclRange: block.DefRange}
	diags := checkLabel(block, "patch baseline", blockNameRe, blockNameHint)
	content, d := block.Body.Content(patchBaselineBlockSchema)
	diags = append(diags, d...)
	attrs := content.Attributes

	diags = append(diags, sc.setString(attrs, "operating_system", &pb.OperatingSystem)...)
	diags = append(diags, checkOneOf(attrs, "operating_system", pb.OperatingSystem, "operating system", OperatingSystems...)...)
	diags = append(diags, sc.setString(attrs, "description", &pb.Description)...)
	diags = append(diags, sc.setStrings(attrs, "approved_patches", &pb.ApprovedPatches)...)
	diags = append(diags, sc.setStrings(attrs, "rejected_patches", &pb.RejectedPatches)...)

	var rebake *hcl.Block
	for _, b := range content.Blocks {
		switch b.Type {
		case "approval_rule":
			r, d := decodeApprovalRule(b, sc)
			diags = append(diags, d...)
			pb.ApprovalRules = append(pb.ApprovalRules, r)
		case "rebake_when":
			if rebake != nil {
				diags = append(diags, duplicateBlock(b, rebake))
				continue
			}
			rebake = b
			c, d := b.Body.Content(rebakeWhenBlockSchema)
			diags = append(diags, d...)
			rw := &RebakeWhen{DeclRange: b.DefRange}
			diags = append(diags, sc.setStrings(c.Attributes, "missing_severity", &rw.MissingSeverity)...)
			diags = append(diags, sc.setDuration(c.Attributes, "max_age", &rw.MaxAge)...)
			pb.RebakeWhen = rw
		}
	}
	return pb, diags
}

func decodeApprovalRule(block *hcl.Block, sc *scope) (*ApprovalRule, hcl.Diagnostics) {
	r := &ApprovalRule{ComplianceLevel: "UNSPECIFIED", DeclRange: block.DefRange}
	content, diags := block.Body.Content(approvalRuleBlockSchema)
	attrs := content.Attributes
	diags = append(diags, sc.setStrings(attrs, "classification", &r.Classification)...)
	diags = append(diags, sc.setStrings(attrs, "severity", &r.Severity)...)
	diags = append(diags, sc.setInt(attrs, "approve_after_days", &r.ApproveAfterDays)...)
	if attr, ok := attrs["approve_after_days"]; ok && (r.ApproveAfterDays < 0 || r.ApproveAfterDays > 360) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid approve_after_days",
			Detail:   fmt.Sprintf("SSM accepts 0 to 360 days; got %d.", r.ApproveAfterDays),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	diags = append(diags, sc.setString(attrs, "compliance_level", &r.ComplianceLevel)...)
	diags = append(diags, checkOneOf(attrs, "compliance_level", r.ComplianceLevel, "compliance level", ComplianceLevels...)...)
	return r, diags
}

// duplicateBlock reports a second copy of a block that may appear once.
func duplicateBlock(second, first *hcl.Block) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s block", second.Type),
		Detail:   fmt.Sprintf("Only one %s block is allowed here; the first is at %s.", second.Type, first.DefRange),
		Subject:  second.DefRange.Ptr(),
	}
}
