recipe "orphan" {
  version = "1.0.0"

  step "inline" {
    commands = ["true"]
  }
}
