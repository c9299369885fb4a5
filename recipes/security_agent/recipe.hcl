recipe "security_agent" {
  version     = "3.1.0"
  description = "Acme EDR agent from the internal repository; registers itself on each instance's first boot"

  # Sensitive: amibake keeps it out of rendered templates, plans and logs;
  # it reaches the build instance only at run time, as SECURITY_AGENT_TOKEN.
  input "token" {
    type        = string
    sensitive   = true
    description = "EDR registration token (empty: agent installed but left unregistered)"
  }

  step "file" {
    name        = "repo"
    source      = "files/acme-tools.repo"
    destination = "/etc/yum.repos.d/acme-tools.repo"
    mode        = "0644"
  }

  step "script" {
    name = "install"
    path = "install.sh"
    env  = { SECURITY_AGENT_TOKEN = input.token }
  }
}
