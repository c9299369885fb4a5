recipe "cloudwatch_agent" {
  version     = "1.1.0"
  description = "Amazon CloudWatch agent with Acme's host metrics (memory, disk, swap) per ASG and AMI; logs go through log_shipping"

  step "script" {
    name = "install"
    path = "install.sh"
  }

  # The agent's own JSON config, translated to TOML by configure.sh.
  step "file" {
    source      = "files/amazon-cloudwatch-agent.json"
    destination = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
    mode        = "0644"
  }

  step "script" {
    name = "configure"
    path = "configure.sh"
  }
}
