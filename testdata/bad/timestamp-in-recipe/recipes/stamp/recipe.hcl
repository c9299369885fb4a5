recipe "stamp" {
  version = "1.0.0"
  step "inline" {
    commands = ["echo \"built $BUILT_AT\" > /etc/image-build"]
    env      = { BUILT_AT = timestamp() }
  }
}
