recipe "hardening" {
  version = "1.0.0"
  step "shell" {
    commands = ["echo hardening"]
  }
}
