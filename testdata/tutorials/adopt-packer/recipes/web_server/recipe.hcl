recipe "web_server" {
  version     = "1.0.0"
  description = "nginx in front of the app (was: the template's shell, file and script provisioners)"

  input "app_port" {
    type    = number
    default = 8080
  }

  input "health_path" {
    type    = string
    default = "/healthz"
  }

  step "inline" {
    name     = "install"
    commands = ["dnf -y install nginx"]
  }

  # amibake copies the file where it belongs; no /tmp detour and sudo.
  step "file" {
    source      = "files/nginx.conf"
    destination = "/etc/nginx/nginx.conf"
  }

  step "script" {
    name = "configure"
    path = "configure.sh"
    env = {
      APP_PORT    = input.app_port
      HEALTH_PATH = input.health_path
    }
  }
}
