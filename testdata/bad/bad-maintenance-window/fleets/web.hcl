fleet "web" {
  layer    = layer.linux
  strategy = "in-place"
  targets {
    tags = { role = "web" }
  }
  rollout {
    maintenance_window = "sunday 02:00-04:00"
  }
}
