recipe "internal_ca" {
  version = "1.0.0"
}
