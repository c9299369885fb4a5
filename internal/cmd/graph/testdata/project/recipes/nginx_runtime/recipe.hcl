recipe "nginx_runtime" {
  version = "1.0.0"
}
