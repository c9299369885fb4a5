layer "x" {
  parent = layer.y
}
