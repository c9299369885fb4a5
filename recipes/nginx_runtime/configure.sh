#!/usr/bin/env bash
# nginx_runtime: fill the recipe inputs into the config, check it, and run
# nginx. WORKER_CONNECTIONS, HEALTH_PATH and UPSTREAM_PORT come from the
# recipe inputs of the same names.
set -euo pipefail

conns="${WORKER_CONNECTIONS:-1024}"
health="${HEALTH_PATH:-/healthz}"
upstream="${UPSTREAM_PORT:-8080}"

if [[ ! "$conns" =~ ^[0-9]+$ ]] || ((conns < 64)); then
  echo "nginx_runtime: worker_connections must be a number >= 64, got '$conns'" >&2
  exit 1
fi
if [[ ! "$health" =~ ^/[A-Za-z0-9._/-]*$ ]]; then
  echo "nginx_runtime: health_path must be a plain absolute path, got '$health'" >&2
  exit 1
fi
if [[ ! "$upstream" =~ ^[0-9]+$ ]] || ((upstream < 1 || upstream > 65535)); then
  echo "nginx_runtime: upstream_port must be 1-65535, got '$upstream'" >&2
  exit 1
fi

# nginx.conf (from the file step) carries a placeholder value; replacing the
# number in place is idempotent.
sed -i -E "s/^([[:space:]]*worker_connections[[:space:]]+)[0-9]+;/\\1${conns};/" /etc/nginx/nginx.conf

# Rewritten whole every time: idempotent. nginx variables are escaped (\$)
# so the shell leaves them alone.
cat >/etc/nginx/conf.d/app.conf <<CONF
# Written by the amibake recipe nginx_runtime.
upstream app {
    server 127.0.0.1:${upstream};
    keepalive 32;
}

server {
    listen 80 default_server;
    listen [::]:80 default_server;
    server_name _;

    location = ${health} {
        access_log off;
        default_type text/plain;
        return 200 "ok\n";
    }

    location / {
        proxy_pass http://app;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$scheme;
        proxy_set_header X-Request-Id \$request_id;
    }
}
CONF

nginx -t
systemctl enable nginx
# Picks up the new config whether or not nginx was already running.
systemctl reload-or-restart nginx
