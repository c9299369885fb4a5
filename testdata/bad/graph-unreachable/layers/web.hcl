layer "web" {
  parent = layer.app
}
