recipe "cis_hardening" {
  version     = "1.4.0"
  description = "CIS Level 1 settings for AL2023"

  input "level" {
    type        = number
    default     = 1
    description = "CIS level (1 or 2)"
  }

  # Static settings first, so harden.sh can load them.
  step "file" {
    name        = "sysctl"
    source      = "files/60-cis-sysctl.conf"
    destination = "/etc/sysctl.d/60-cis.conf"
    mode        = "0644"
  }

  step "file" {
    name        = "audit-rules"
    source      = "files/50-cis.rules"
    destination = "/etc/audit/rules.d/50-cis.rules"
    mode        = "0640"
  }

  step "script" {
    name = "harden"
    path = "harden.sh"
    env  = { CIS_LEVEL = input.level }
  }

  step "file" {
    source      = "files/sshd_config"
    destination = "/etc/ssh/sshd_config"
    mode        = "0600"
  }

  # Check the new config before restarting: a broken sshd_config must fail
  # the bake, not lock people out of every instance.
  step "inline" {
    name     = "restart-sshd"
    commands = ["sshd -t", "systemctl restart sshd"]
  }
}
