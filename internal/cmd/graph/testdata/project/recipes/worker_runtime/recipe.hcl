recipe "worker_runtime" {
  version = "1.0.0"
}
