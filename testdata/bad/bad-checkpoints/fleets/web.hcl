fleet "web" {
  layer    = layer.linux
  strategy = "replace"
  asg      = ["web-prod"]
  rollout {
    checkpoints = [10, 50, 90]
  }
}
