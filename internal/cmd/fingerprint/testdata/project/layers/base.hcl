layer "base" {
  parent  = layer.linux
  recipes = [recipe.hello, recipe.agent]

  inputs = {
    hello = {
      greeting = "hi"
    }
    agent = {
      token = var.token
    }
  }

  volume {
    size      = 10
    type      = "gp3"
    encrypted = true
  }
}
