# docs/tutorials/adopt-packer-template.md: legacy/web.pkr.hcl as an amibake
# project. The amazon-ebs source's region, AMI name and tags become the
# project; the source_ami_filter becomes the root layer's source; the
# provisioners become a recipe.
project "acme-web" {
  regions      = ["us-east-1"]
  param_prefix = "/amibake"
  ami_name     = "${project}-${layer}-${fingerprint_short}-${timestamp}"
  provisioner  = "ssm"

  default_tags = {
    team = "web"
  }
}

variable "app_port" {
  description = "Port the app listens on at 127.0.0.1 (was the template's var.app_port)."
  type        = number
  default     = 8080
}
