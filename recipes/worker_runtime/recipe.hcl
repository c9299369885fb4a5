recipe "worker_runtime" {
  version     = "1.1.0"
  description = "Runtime for Acme queue workers: a service user, a Python 3.11 virtualenv and a systemd unit that runs the app once it is deployed"

  input "concurrency" {
    type        = number
    default     = 4
    description = "Worker processes per instance"
  }

  input "module" {
    type        = string
    default     = "acme_worker"
    description = "Python module the unit runs with `python -m`"
  }

  # Needs python_runtime earlier in the layer (python3.11).
  step "script" {
    name = "install"
    path = "install.sh"
    env = {
      WORKER_CONCURRENCY = input.concurrency
      WORKER_MODULE      = input.module
    }
  }

  step "file" {
    name        = "unit"
    source      = "files/acme-worker.service"
    destination = "/etc/systemd/system/acme-worker.service"
    mode        = "0644"
  }

  # Enabled, not started: the app itself arrives at launch (user data or a
  # deploy tool) in /opt/acme-worker/app; until then the unit's condition
  # keeps it quiet instead of crash-looping.
  step "inline" {
    name     = "enable"
    commands = ["systemctl daemon-reload", "systemctl enable acme-worker"]
  }
}
