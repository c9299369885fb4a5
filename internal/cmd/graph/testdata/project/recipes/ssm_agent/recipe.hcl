recipe "ssm_agent" {
  version = "1.0.0"
}
