recipe "internal_ca" {
  version     = "1.0.0"
  description = "Trust the Acme root CA system-wide (internal package repository, log endpoint, internal APIs)"

  # files/acme-root-ca.pem is an example certificate whose key was thrown
  # away; replace it with your organization's root (public part only).
  step "file" {
    name        = "anchor"
    source      = "files/acme-root-ca.pem"
    destination = "/etc/pki/ca-trust/source/anchors/acme-root-ca.pem"
    mode        = "0644"
  }

  step "script" {
    name = "update-trust"
    path = "trust.sh"
  }
}
