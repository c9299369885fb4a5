layer "end" {
  parent = layer.ubuntu
}
