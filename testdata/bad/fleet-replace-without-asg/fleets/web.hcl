fleet "web" {
  layer    = layer.linux
  strategy = "replace"
  rollout {
    checkpoints = [10, 100]
  }
}
