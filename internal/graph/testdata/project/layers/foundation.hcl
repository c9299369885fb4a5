layer "foundation" {
  parent  = layer.linux
  recipes = [recipe.hardening]
  inputs = {
    hardening = { level = 1 }
  }
  volume {
    size      = 10
    type      = "gp3"
    encrypted = true
  }
}
