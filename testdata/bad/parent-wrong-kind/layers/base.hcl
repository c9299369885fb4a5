layer "base" {
  parent = recipe.linux
}
