layer "Linux_2023" {
  source {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }
}
