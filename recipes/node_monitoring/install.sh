#!/usr/bin/env bash
# node_monitoring: node_exporter from the internal repository, run by its
# own system user. LISTEN_ADDRESS comes from the recipe input.
set -euo pipefail

listen="${LISTEN_ADDRESS:-:9100}"
# host:port, :port or [ipv6]:port (a variable: brackets in a literal =~
# pattern are too easy to get wrong).
listen_re='^([A-Za-z0-9.-]*|\[[0-9A-Fa-f:]+\]):[0-9]+$'
if [[ ! "$listen" =~ $listen_re ]]; then
  echo "node_monitoring: LISTEN_ADDRESS must be [host]:port, got '$listen'" >&2
  exit 1
fi

dnf install -y node_exporter

if ! id -u node_exporter >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /sbin/nologin node_exporter
fi

# Other recipes and apps drop *.prom files here to publish local metrics.
install -d -m 0755 -o root -g root /var/lib/node_exporter
install -d -m 0775 -o root -g node_exporter /var/lib/node_exporter/textfile

cat >/etc/sysconfig/node_exporter <<CONF
# Written by the amibake recipe node_monitoring.
NODE_EXPORTER_ARGS="--web.listen-address=$listen --collector.systemd --collector.textfile.directory=/var/lib/node_exporter/textfile"
CONF
