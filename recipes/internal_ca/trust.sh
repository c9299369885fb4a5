#!/usr/bin/env bash
# internal_ca: rebuild the system trust store with the Acme root CA in it.
set -euo pipefail

anchor=/etc/pki/ca-trust/source/anchors/acme-root-ca.pem

dnf install -y ca-certificates

if [[ ! -s "$anchor" ]]; then
  echo "internal_ca: $anchor is missing; the file step should have put it there" >&2
  exit 1
fi

# Regenerates /etc/pki/ca-trust/extracted/* (the bundle OpenSSL, curl, dnf,
# Python and Go read) from the anchors; safe to run any number of times.
update-ca-trust extract

# Captured, not piped into grep -q: under pipefail an early exit of grep
# would fail the pipeline with SIGPIPE.
anchors="$(trust list --filter=ca-anchors)"
if ! grep -q 'Acme Example Root CA' <<<"$anchors"; then
  echo "internal_ca: the Acme root CA is not in the trust store after update-ca-trust" >&2
  exit 1
fi
echo "internal_ca: Acme root CA trusted"
