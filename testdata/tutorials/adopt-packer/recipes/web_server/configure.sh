#!/bin/bash
# Runs as root over SSM Run Command (the template used ssh + sudo).
set -euo pipefail
sed -i "s|@APP_PORT@|${APP_PORT}|; s|@HEALTH_PATH@|${HEALTH_PATH}|" /etc/nginx/nginx.conf
systemctl enable nginx
