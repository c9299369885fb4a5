recipe "python_runtime" {
  version = "1.0.0"
}
