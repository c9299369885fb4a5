project "demo-two" {
  regions = ["eu-west-1"]
}
