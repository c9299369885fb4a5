#!/usr/bin/env bash
# time_sync: chrony installed, the clock in the requested time zone.
set -euo pipefail

tz="${TIMEZONE:-UTC}"
if [[ ! -e "/usr/share/zoneinfo/$tz" ]]; then
  echo "time_sync: unknown time zone '$tz'" >&2
  exit 1
fi

dnf install -y chrony

# Idempotent: setting the zone it already has changes nothing.
timedatectl set-timezone "$tz"

# Other NTP daemons would fight chrony for the clock.
if systemctl is-enabled --quiet systemd-timesyncd 2>/dev/null; then
  systemctl disable --now systemd-timesyncd
fi
