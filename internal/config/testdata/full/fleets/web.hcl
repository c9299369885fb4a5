fleet "web" {
  layer    = layer.app-web
  channel  = "stable"
  strategy = "replace"
  asg      = ["web-prod-a", "web-prod-b"]
  patch {
    baseline    = patch_baseline.al2023_security
    patch_group = "web"
  }
  rollout {
    checkpoints         = [10, 50, 100]
    checkpoint_wait     = "15m"
    min_healthy_percent = 95
    abort_on_alarms     = ["web-5xx-high"]
    maintenance_window  = "sun-02:00-04:00"
    reboot              = "always"
  }
  canary {
    instances = 2
    window    = "30m"
    interval  = "1m"
    metric "p90_latency" {
      namespace  = "Web"
      name       = "Latency"
      dimensions = { Service = "web" }
      statistic  = "p90"
      direction  = "lower-is-better"
      tolerance  = "10%"
    }
    metric "errors" {
      expression = "100 * errors/requests"
      direction  = "lower-is-better"
      statistic  = "Sum"
      query "errors" {
        namespace = "Web"
        name      = "Errors"
      }
      query "requests" {
        namespace = "Web"
        name      = "Requests"
      }
    }
  }
  retire {
    keep  = 5
    grace = "7d"
  }
}

fleet "batch" {
  layer    = layer.foundation
  strategy = "in-place"
  targets {
    tags = { role = "batch" }
  }
  rollout {
    max_concurrency = "10%"
    max_errors      = "2"
  }
}
