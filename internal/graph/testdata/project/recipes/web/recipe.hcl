recipe "web" {
  version = "0.2.0"

  input "port" {
    type    = number
    default = 80
  }

  input "names" {
    type    = list(string)
    default = []
  }

  step "script" {
    path = "setup.sh"
    env = {
      PORT  = input.port
      NAMES = join(",", input.names)
    }
  }

  step "file" {
    source      = "conf.d"
    destination = "/etc/web/conf.d"
  }

  step "inline" {
    commands = ["systemctl enable web", "systemctl daemon-reload"]
  }
}
