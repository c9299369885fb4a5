recipe "ssm_agent" {
  version     = "1.0.0"
  description = "AWS Systems Manager agent, installed and enabled at boot (Run Command, Session Manager, Patch Manager)"

  step "script" {
    name = "install"
    path = "install.sh"
  }
}
