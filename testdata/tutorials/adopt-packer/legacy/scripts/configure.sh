#!/bin/bash
set -euo pipefail
sudo install -m 0644 /tmp/nginx.conf /etc/nginx/nginx.conf
sudo sed -i "s|@APP_PORT@|${APP_PORT}|; s|@HEALTH_PATH@|${HEALTH_PATH}|" /etc/nginx/nginx.conf
sudo systemctl enable nginx
