#!/usr/bin/env bash
# log_shipping: check the config now and enable Fluent Bit at boot.
set -euo pipefail

# The config refers to ${LOG_HOST} and ${LOG_PORT}; load them as the unit will.
set -a
# shellcheck source=/dev/null
. /etc/sysconfig/fluent-bit-amibake
set +a

# A broken config fails the bake, not the first boot of every instance.
/opt/fluent-bit/bin/fluent-bit --dry-run -c /etc/fluent-bit/fluent-bit.conf

# Enabled, not started: the build instance's own logs are of no interest,
# and instances launched from the image start it at boot.
systemctl enable fluent-bit
