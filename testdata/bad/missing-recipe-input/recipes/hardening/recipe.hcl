recipe "hardening" {
  version = "1.0.0"
  input "level" {
    type = number
  }
  step "script" {
    path = "harden.sh"
    env  = { CIS_LEVEL = input.level }
  }
}
