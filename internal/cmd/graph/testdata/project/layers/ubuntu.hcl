layer "ubuntu" {
  source {
    owners       = ["099720109477"]
    name         = "ubuntu/images/*-24.04-\"amd64\"-*"
    architecture = "x86_64"
  }
}
