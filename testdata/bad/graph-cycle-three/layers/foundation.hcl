layer "foundation" {
  parent = layer.platform
}
