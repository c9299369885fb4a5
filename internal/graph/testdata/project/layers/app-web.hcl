layer "app-web" {
  parent  = layer.base
  recipes = [recipe.web]
  inputs = {
    web = { port = local.web_port, names = ["a", "b"] }
  }
}
