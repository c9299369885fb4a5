recipe "hardening" {
  version = "1.0.0"
  step "script" {
    path = "harden.sh"
  }
}
