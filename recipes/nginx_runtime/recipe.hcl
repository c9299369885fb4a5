recipe "nginx_runtime" {
  version     = "1.3.0"
  description = "nginx as the front of a web app: a health endpoint for the load balancer and a reverse proxy to the app on localhost"

  input "worker_connections" {
    type        = number
    default     = 1024
    description = "Connections per nginx worker process"
  }

  input "health_path" {
    type        = string
    default     = "/healthz"
    description = "Path the load balancer checks; answered by nginx itself"
  }

  input "upstream_port" {
    type        = number
    default     = 8080
    description = "Port the app listens on at 127.0.0.1"
  }

  step "script" {
    name = "install"
    path = "install.sh"
  }

  step "file" {
    name        = "nginx.conf"
    source      = "files/nginx.conf"
    destination = "/etc/nginx/nginx.conf"
    mode        = "0644"
  }

  step "script" {
    name = "configure"
    path = "configure.sh"
    env = {
      WORKER_CONNECTIONS = input.worker_connections
      HEALTH_PATH        = input.health_path
      UPSTREAM_PORT      = input.upstream_port
    }
  }
}
