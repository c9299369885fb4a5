recipe "cloudwatch_agent" {
  version = "1.0.0"
}
