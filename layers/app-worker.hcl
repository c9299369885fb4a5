# app-worker: the image the queue workers (fleets/worker.hcl) run.
layer "app-worker" {
  parent = layer.base

  recipes = [
    recipe.python_runtime,
    recipe.worker_runtime,
  ]

  inputs = {
    worker_runtime = {
      concurrency = 8
    }
  }

  instance_type = "c6i.large"

  tags = {
    service = "worker"
    owner   = local.owner
  }
}
