layer "app-web" {
  parent  = layer.base
  recipes = [recipe.nginx_runtime]
}
