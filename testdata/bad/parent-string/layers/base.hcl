layer "base" {
  parent = "linux"
}
