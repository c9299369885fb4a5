recipe "hardening" {
  version     = "1.4.0"
  description = "CIS-style settings"

  input "level" {
    type    = number
    default = 1
  }

  step "script" {
    name = "harden"
    path = "harden.sh"
    env  = { LEVEL = input.level }
  }

  step "file" {
    source      = "files/sshd_config"
    destination = "/etc/ssh/sshd_config"
    mode        = "0600"
  }
}
