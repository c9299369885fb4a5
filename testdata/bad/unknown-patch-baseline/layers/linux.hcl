layer "linux" {
  source {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }
  patch {
    baseline    = patch_baseline.al2023_securty
    patch_group = "golden-linux"
  }
}
