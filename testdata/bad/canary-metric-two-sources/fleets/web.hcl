fleet "web" {
  layer    = layer.linux
  strategy = "replace"
  asg      = ["web-prod"]
  canary {
    metric "error_rate" {
      namespace  = "Web"
      name       = "Errors"
      expression = "100 * errors / requests"
    }
  }
}
