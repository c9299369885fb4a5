# foundation: what every instance at Acme needs, whatever it runs.
#
# Agents AWS gives us (SSM, CloudWatch), correct time, and the hardening the
# auditors ask for. Changing anything here rebakes every layer below it.
layer "foundation" {
  parent = layer.linux

  recipes = [
    recipe.ssm_agent,
    recipe.cloudwatch_agent,
    recipe.time_sync,
    recipe.cis_hardening,
    recipe.imds_hardening,
  ]

  inputs = {
    cis_hardening = {
      level = 1
    }
  }

  volume {
    size      = 10
    type      = "gp3"
    encrypted = true
  }

  imdsv2_required = true
}
