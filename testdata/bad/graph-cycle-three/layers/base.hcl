layer "base" {
  parent = layer.foundation
}
