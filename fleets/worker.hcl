# worker: long-lived queue workers, patched in place. A rollout runs
# AWS-RunPatchBaseline over SSM on the instances tagged role=worker, a slice
# at a time inside the maintenance window, bringing them to the patch level
# of the newest app-worker AMI.
fleet "worker" {
  layer    = layer.app-worker
  channel  = "stable"
  strategy = "in-place"

  targets {
    tags = {
      role = "worker"
    }
  }

  patch {
    baseline    = patch_baseline.al2023_security
    patch_group = "worker"
  }

  rollout {
    max_concurrency    = "10%"
    max_errors         = "2"
    maintenance_window = "sun-02:00-04:00"
    reboot             = "if-needed"
  }

  retire {
    keep  = 3
    grace = "168h"
  }
}
