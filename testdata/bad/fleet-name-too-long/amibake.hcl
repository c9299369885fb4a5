project "demo" {
  regions = ["us-east-1"]
}
