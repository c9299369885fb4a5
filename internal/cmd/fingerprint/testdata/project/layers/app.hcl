layer "app" {
  parent  = layer.base
  recipes = [recipe.hello]

  inputs = {
    hello = {
      greeting = "app"
    }
  }

  instance_type = "t3.medium"
}
