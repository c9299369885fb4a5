layer "b" {
  parent = layer.a
}
