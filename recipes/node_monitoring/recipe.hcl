recipe "node_monitoring" {
  version     = "1.2.0"
  description = "Prometheus node_exporter as a hardened systemd unit, with a textfile collector directory for local metrics"

  input "listen_address" {
    type        = string
    default     = ":9100"
    description = "Address node_exporter listens on (the security group decides who may scrape)"
  }

  # Same file as in security_agent: recipes stay self-contained, and two
  # recipes writing identical bytes to one path is harmless.
  step "file" {
    name        = "repo"
    source      = "files/acme-tools.repo"
    destination = "/etc/yum.repos.d/acme-tools.repo"
    mode        = "0644"
  }

  step "script" {
    name = "install"
    path = "install.sh"
    env  = { LISTEN_ADDRESS = input.listen_address }
  }

  # Ours, not the package's: /etc/systemd/system wins over /usr/lib/systemd.
  step "file" {
    name        = "unit"
    source      = "files/node_exporter.service"
    destination = "/etc/systemd/system/node_exporter.service"
    mode        = "0644"
  }

  step "inline" {
    name     = "enable"
    commands = ["systemctl daemon-reload", "systemctl enable --now node_exporter"]
  }
}
