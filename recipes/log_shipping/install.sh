#!/usr/bin/env bash
# log_shipping: install Fluent Bit and tell it where to ship.
#
# LOG_ENDPOINT (host:port) comes from the recipe input "endpoint". It lands
# in an environment file that fluent-bit.conf reads as ${LOG_HOST} and
# ${LOG_PORT}, so the config file itself is the same in every project.
set -euo pipefail

endpoint="${LOG_ENDPOINT:-}"
if [[ ! "$endpoint" =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]]; then
  echo "log_shipping: LOG_ENDPOINT must be host:port, got '$endpoint'" >&2
  exit 1
fi
host="${endpoint%:*}"
port="${endpoint##*:}"

dnf install -y fluent-bit

install -d -m 0755 /etc/fluent-bit /etc/systemd/system/fluent-bit.service.d
install -d -m 0750 /var/lib/fluent-bit /var/lib/fluent-bit/storage

# Rewritten whole every time: idempotent.
cat >/etc/sysconfig/fluent-bit-amibake <<CONF
# Written by the amibake recipe log_shipping.
LOG_HOST=$host
LOG_PORT=$port
CONF

cat >/etc/systemd/system/fluent-bit.service.d/10-amibake.conf <<'CONF'
# Written by the amibake recipe log_shipping.
[Service]
EnvironmentFile=/etc/sysconfig/fluent-bit-amibake
CONF
systemctl daemon-reload

echo "log_shipping: shipping to $host:$port"
