fleet "web-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
  layer    = layer.linux
  strategy = "replace"
  asg      = ["web-prod"]
}
