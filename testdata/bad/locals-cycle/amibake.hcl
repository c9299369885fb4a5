project "demo" {
  regions = ["us-east-1"]
}

locals {
  name   = "${local.prefix}-golden"
  prefix = "${local.name}-acme"
}
