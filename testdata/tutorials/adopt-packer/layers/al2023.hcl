# The root layer: what source_ami_filter picked (the newest match wins).
layer "al2023" {
  source {
    owners       = ["amazon"]
    name         = "al2023-ami-2023.*-x86_64"
    architecture = "x86_64"
  }

  # The template's first shell provisioner updated every package.
  recipes = [recipe.os_update]
}
