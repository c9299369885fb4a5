recipe "hello" {
  version = "1.0.0"

  input "greeting" {
    type    = string
    default = "hello"
  }

  step "script" {
    name = "greet"
    path = "hello.sh"
    env  = { GREETING = input.greeting }
  }

  step "file" {
    name        = "motd"
    source      = "files/motd"
    destination = "/etc/motd"
    mode        = "0644"
  }

  step "inline" {
    name     = "done"
    commands = ["true"]
  }
}
