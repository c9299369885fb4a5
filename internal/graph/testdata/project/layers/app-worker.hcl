layer "app-worker" {
  parent  = layer.base
  recipes = []
}
