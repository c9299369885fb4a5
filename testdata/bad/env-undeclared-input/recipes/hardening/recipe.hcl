recipe "hardening" {
  version = "1.0.0"
  input "level" {
    type    = number
    default = 1
  }
  step "script" {
    path = "harden.sh"
    env  = { CIS_LEVEL = input.levle }
  }
}
