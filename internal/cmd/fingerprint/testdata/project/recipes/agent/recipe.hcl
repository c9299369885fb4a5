recipe "agent" {
  version = "2.0.0"

  input "token" {
    type      = string
    sensitive = true
  }

  step "script" {
    name = "install"
    path = "install.sh"
    env  = { TOKEN = input.token }
  }
}
