project "demo" {
  regions      = ["us-east-1"]
  default_tags = { "amibake:layer" = "custom" }
}
