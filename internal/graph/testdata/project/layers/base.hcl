layer "base" {
  parent  = layer.foundation
  recipes = [recipe.agent]
  inputs = {
    agent = { token = var.agent_token }
  }
  tags = { tier = "base" }
}
