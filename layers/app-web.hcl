# app-web: the image the web fleet (fleets/web.hcl) runs.
layer "app-web" {
  parent = layer.base

  recipes = [recipe.nginx_runtime]

  inputs = {
    nginx_runtime = {
      worker_connections = 4096
      health_path        = "/healthz"
    }
  }

  instance_type = "t3.medium"

  tags = {
    service = "web"
    owner   = local.owner
  }
}
