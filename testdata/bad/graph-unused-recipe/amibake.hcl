project "bad" {
  regions = ["us-east-1"]
}
