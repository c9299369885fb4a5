# The web image: the rest of the template's provisioners, as one recipe.
layer "web" {
  parent  = layer.al2023
  recipes = [recipe.web_server]

  inputs = {
    web_server = {
      app_port    = var.app_port
      health_path = "/healthz"
    }
  }

  instance_type = "t3.small"

  # launch_block_device_mappings
  volume {
    size = 16
    type = "gp3"
  }

  tags = {
    service = "web"
  }
}
