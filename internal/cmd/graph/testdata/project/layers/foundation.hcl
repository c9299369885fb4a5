layer "foundation" {
  parent  = layer.linux
  recipes = [recipe.ssm_agent, recipe.cloudwatch_agent]
}
