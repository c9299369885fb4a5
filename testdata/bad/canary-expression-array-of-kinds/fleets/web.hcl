fleet "web" {
  layer    = layer.linux
  strategy = "replace"
  asg      = ["web-prod"]
  canary {
    metric "error_rate" {
      expression = "100 * errors / MAX([requests, 1])"
      query "errors" {
        namespace = "Web"
        name      = "Errors"
        statistic = "Sum"
      }
      query "requests" {
        namespace = "Web"
        name      = "Requests"
        statistic = "Sum"
      }
    }
  }
}
