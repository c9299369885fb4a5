project "acme-golden" {
  regions = ["us-east-1"]
}
