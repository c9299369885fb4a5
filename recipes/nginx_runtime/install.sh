#!/usr/bin/env bash
# nginx_runtime: install nginx from the AL2023 repository.
set -euo pipefail

dnf install -y nginx

install -d -m 0755 /etc/nginx/conf.d
