layer "app-web" {
  parent  = layer.foundation
  recipes = [recipe.app]
}
