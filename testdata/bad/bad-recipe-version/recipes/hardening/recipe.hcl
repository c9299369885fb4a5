recipe "hardening" {
  version = "v1"
  step "script" {
    path = "harden.sh"
  }
}
