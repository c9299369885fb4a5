# base: company tooling on top of foundation.
#
# internal_ca runs first: the log endpoint and the internal package
# repository (acme-tools) present certificates signed by the Acme root CA.
layer "base" {
  parent = layer.foundation

  recipes = [
    recipe.internal_ca,
    recipe.log_shipping,
    recipe.node_monitoring,
    recipe.security_agent,
  ]

  inputs = {
    log_shipping = {
      endpoint = var.log_endpoint
    }
    # Sensitive (variable and recipe input): never written into the rendered
    # template or a log; it reaches the build instance only at run time.
    security_agent = {
      token = var.security_agent_token
    }
  }
}
