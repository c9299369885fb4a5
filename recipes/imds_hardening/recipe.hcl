recipe "imds_hardening" {
  version     = "1.0.0"
  description = "Instance metadata (IMDS) guard rails inside the OS: SDKs never fall back to IMDSv1; optionally only root may reach IMDS"

  # The layer's imdsv2_required (default true) turns IMDSv1 off on the
  # instance itself; this recipe covers what runs inside it.
  input "block_non_root" {
    type        = bool
    default     = false
    description = "Reject IMDS traffic from non-root users (nftables). Leave false when an app running as its own user needs the instance role."
  }

  step "script" {
    name = "harden"
    path = "harden.sh"
    env  = { BLOCK_NON_ROOT = input.block_non_root }
  }
}
