# The root layer: stock Amazon Linux 2023 plus every approved patch.
#
# It runs no recipes. Its value is the patch block: each bake ends with
# AWS-RunPatchBaseline Install, so every layer above starts from a patched
# image, and a patch rebake here ripples up the tree.
layer "linux" {
  source {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }

  recipes       = []
  instance_type = "t3.small"

  patch {
    baseline    = patch_baseline.al2023_security
    patch_group = "golden-linux"
  }
}
