layer "y" {
  parent = layer.x
}
