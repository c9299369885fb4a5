layer "a" {
  parent = layer.b
}
