# amibake.hcl: the acme-golden example project.
#
# Layer tree (see layers/ and docs/examples.md):
#
#   linux (AL2023 from the public SSM parameter, patched)
#   └── foundation  ssm_agent, cloudwatch_agent, time_sync, cis_hardening, imds_hardening
#       └── base    internal_ca, log_shipping, node_monitoring, security_agent
#           ├── app-web     nginx_runtime
#           └── app-worker  python_runtime, worker_runtime
#
# Every *.hcl file beside this one is part of the project (patch.hcl holds
# the patch baseline).

project "acme-golden" {
  # The first region is where builds run; AMIs are copied to the others.
  regions = ["us-east-1", "eu-west-1"]

  # Channel parameters live under /amibake/acme-golden/layers/<layer>/<channel>.
  param_prefix = "/amibake"

  # Evaluated per build; fingerprint_short is the first 12 hex digits.
  ami_name = "${project}-${layer}-${fingerprint_short}-${timestamp}"

  # Recipes run over SSM Run Command: no SSH key, no inbound port.
  provisioner = "ssm"

  # Build and scan instances need AmazonSSMManagedInstanceCore (and read
  # access to the internal package repository) through this profile.
  iam_instance_profile = "amibake-build"

  # Every AMI is encrypted; sharing needs a customer-managed key that the
  # prod account may use (the default EBS key cannot be shared).
  kms_key_id = "alias/acme-golden-ami"

  default_tags = {
    team          = "platform"
    "managed-by"  = "amibake"
    "cost-center" = local.cost_center
  }

  share_with {
    accounts = [var.prod_account_id]
  }
}

variable "prod_account_id" {
  description = "AWS account that launches the golden AMIs in production."
  type        = string
  default     = "111122223333"

  validation {
    condition     = can(regex("^[0-9]{12}$", var.prod_account_id))
    error_message = "The prod_account_id must be a 12-digit AWS account id."
  }
}

variable "log_endpoint" {
  description = "Fluent Bit forward endpoint (host:port) that every instance ships its journal to."
  type        = string
  default     = "logs.acme.internal:24224"

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+:[0-9]+$", var.log_endpoint))
    error_message = "The log_endpoint must look like host:port, e.g. logs.acme.internal:24224."
  }
}

variable "security_agent_token" {
  description = "Registration token of the EDR agent. Set it with AMIBAKE_VAR_security_agent_token; never commit it."
  type        = string
  sensitive   = true
  default     = ""
}

locals {
  cost_center = "cc-1042"
  owner       = "platform@acme.example"
}
