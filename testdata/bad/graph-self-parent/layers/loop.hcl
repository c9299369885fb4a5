layer "loop" {
  parent = layer.loop
}
