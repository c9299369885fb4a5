layer "base" {
  parent  = layer.foundation
  recipes = [recipe.internal_ca]
}
