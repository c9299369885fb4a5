layer "linux" {
  source {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }
  patch {
    baseline    = patch_baseline.al2023_security
    patch_group = "golden-linux"
  }
}

layer "linux-arm" {
  source {
    owners       = ["amazon"]
    name         = "al2023-ami-2023.*-arm64"
    architecture = "arm64"
  }
  instance_type = "t4g.small"
}
