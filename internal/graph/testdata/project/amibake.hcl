project "graph-test" {
  regions      = ["us-east-1", "eu-west-1"]
  provisioner  = "ssm"
  default_tags = { team = "platform" }
}

variable "agent_token" {
  type      = string
  sensitive = true
  default   = "token-not-for-display"
}

locals {
  web_port = 8080
}
