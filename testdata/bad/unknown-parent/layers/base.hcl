layer "base" {
  parent = layer.linx
}
