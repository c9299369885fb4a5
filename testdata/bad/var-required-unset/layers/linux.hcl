layer "linux" {
  source {
    owners = [var.ami_owner]
    name   = "al2023-ami-*"
  }
}
