layer "foundation" {
  parent  = layer.linux
  recipes = [recipe.cis_hardening, recipe.secrets]
  inputs = {
    cis_hardening = { level = 2, packages = var.extra_packages }
    secrets       = { token = var.api_token }
  }
  instance_type   = "t3.medium"
  imdsv2_required = true
  volume {
    size      = var.volume_size * 2
    type      = "gp3"
    encrypted = true
    kms_key_id = "alias/layer"
  }
  regions    = ["us-east-1"]
  share_with = { accounts = ["444455556666"] }
  tags       = { tier = "foundation" }
  provisioner = "ssh"
}
