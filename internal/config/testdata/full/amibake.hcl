project "acme-golden" {
  regions          = ["us-east-1", "eu-west-1"]
  param_prefix     = "/acme/amibake"
  ami_name         = "${project}-${layer}-${var.env_name}-${fingerprint_short}-${timestamp}"
  provisioner      = "ssm"
  iam_instance_profile = "amibake-build"
  subnet_id        = "subnet-0123abcd"
  inventory_bucket = "acme-amibake-inventory"
  kms_key_id       = "alias/amibake"
  deprecate_after  = "90d"
  share_with {
    accounts      = ["111122223333"]
    organizations = ["arn:aws:organizations::111122223333:organization/o-exampleorgid"]
  }
  default_tags = merge(local.common_tags, { env = var.env_name })
}

variable "env_name" {
  type        = string
  default     = "prod"
  description = "Deployment environment."
  validation {
    condition     = contains(["dev", "prod"], var.env_name)
    error_message = "env_name must be dev or prod."
  }
}

variable "api_token" {
  type      = string
  default   = "s3cr3t"
  sensitive = true
}

variable "volume_size" {
  type    = number
  default = 8
}

variable "extra_packages" {
  type    = list(string)
  default = []
}

locals {
  team        = upper("platform")
  common_tags = { team = local.team, owner = local.owner }
}

locals {
  owner   = "ops"
  motd    = templatefile("templates/motd.tpl", { team = local.team, env = var.env_name })
  build_sha = sha256(file("templates/motd.tpl"))
}

patch_baseline "al2023_security" {
  operating_system = "AMAZON_LINUX_2023"
  description      = "Security patches"
  approval_rule {
    classification     = ["Security"]
    severity           = ["Critical", "Important"]
    approve_after_days = 7
  }
  approval_rule {
    classification   = ["Bugfix"]
    compliance_level = "LOW"
  }
  rejected_patches = ["kernel-debug*"]
  rebake_when {
    missing_severity = ["Critical"]
    max_age          = "30d"
  }
}
