# patch.hcl: the patch baseline the linux layer (and the fleets) patch against.
#
# Every bake of a layer with a `patch` block ends with AWS-RunPatchBaseline
# Install against this baseline; `amibake scan` compares running images with
# it, and rebake_when decides when a layer is stale.

patch_baseline "al2023_security" {
  operating_system = "AMAZON_LINUX_2023"
  description      = "Security updates at once, bug fixes after a week."

  # Critical and Important security advisories: approved the day they ship.
  approval_rule {
    classification     = ["Security"]
    severity           = ["Critical", "Important"]
    approve_after_days = 0
    compliance_level   = "CRITICAL"
  }

  # Bug fixes soak for a week first.
  approval_rule {
    classification     = ["Bugfix"]
    approve_after_days = 7
  }

  # A layer is rebaked when its latest AMI misses an approved Critical or
  # Important patch, or is older than 30 days, whichever comes first.
  rebake_when {
    missing_severity = ["Critical", "Important"]
    max_age          = "720h"
  }
}
