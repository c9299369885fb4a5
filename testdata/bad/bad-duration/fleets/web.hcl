fleet "web" {
  layer    = layer.linux
  strategy = "replace"
  asg      = ["web-prod"]
  rollout {
    checkpoints     = [10, 100]
    checkpoint_wait = "15 minutes"
  }
}
