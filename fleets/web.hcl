# web: replaced, never patched in place. A rollout makes a new launch
# template version with the app-web AMI on the stable channel and runs an
# instance refresh on both ASGs, pausing at each checkpoint.
fleet "web" {
  layer    = layer.app-web
  channel  = "stable"
  strategy = "replace"
  asg      = ["web-prod-a", "web-prod-b"]

  # Scans of running web instances report against the same baseline the
  # image was baked with.
  patch {
    baseline    = patch_baseline.al2023_security
    patch_group = "web"
  }

  rollout {
    checkpoints         = [10, 50, 100] # percent; the first is the canary
    checkpoint_wait     = "15m"
    min_healthy_percent = 90
    abort_on_alarms     = ["web-5xx-high"]
  }

  # Before passing the first checkpoint, compare new-AMI canaries with
  # old-AMI baseline instances.
  canary {
    instances = 1
    window    = "30m"

    metric "p90_latency" {
      namespace = "Web"
      name      = "Latency"
      statistic = "p90"
      direction = "lower-is-better"
      tolerance = "10%"
    }

    metric "error_rate" {
      namespace = "Web"
      name      = "5xxRate"
      statistic = "Average"
      direction = "lower-is-better"
      tolerance = "5%"
    }
  }

  retire {
    keep  = 3
    grace = "168h" # deprecated a week before deregistering
  }
}
