layer "platform" {
  parent = layer.base
}
