fleet "web" {
  layer    = layer.app-web
  strategy = "replace"
  asg      = ["web-prod"]
}
