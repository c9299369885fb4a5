layer "app-worker" {
  parent  = layer.base
  recipes = [recipe.python_runtime, recipe.worker_runtime]
}
