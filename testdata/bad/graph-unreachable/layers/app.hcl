layer "app" {
  parent = layer.x
}
