layer "tools" {
  parent        = layer.foundation
  recipes       = [recipe.web]
  instance_type = "t3.large"
}
