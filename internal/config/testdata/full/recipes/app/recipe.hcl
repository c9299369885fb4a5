recipe "app" {
  version = "2.0.0-rc.1"
  step "file" {
    source      = "conf"
    destination = "/etc/app/"
  }
}
