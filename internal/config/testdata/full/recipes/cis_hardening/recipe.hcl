recipe "cis_hardening" {
  version     = "1.4.0"
  description = "CIS Level 1 settings for AL2023"

  input "level" {
    type    = number
    default = 1
  }
  input "packages" {
    type    = list(string)
    default = []
  }

  step "script" {
    name = "harden"
    path = "harden.sh"
    env = {
      CIS_LEVEL = input.level
      PACKAGES  = join(" ", input.packages)
      ENV_NAME  = var.env_name
      TEAM      = local.team
    }
  }
  step "file" {
    source      = "files/sshd_config"
    destination = "/etc/ssh/sshd_config"
    mode        = "0600"
  }
  step "inline" {
    commands = ["sshd -t", "systemctl restart sshd"]
  }
}
