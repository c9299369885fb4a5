#!/usr/bin/env bash
# worker_runtime: user, directories, virtualenv and settings for the worker
# service. WORKER_CONCURRENCY and WORKER_MODULE come from the recipe inputs.
set -euo pipefail

concurrency="${WORKER_CONCURRENCY:-4}"
module="${WORKER_MODULE:-acme_worker}"
if [[ ! "$concurrency" =~ ^[0-9]+$ ]] || ((concurrency < 1)); then
  echo "worker_runtime: concurrency must be a positive number, got '$concurrency'" >&2
  exit 1
fi
if [[ ! "$module" =~ ^[A-Za-z_][A-Za-z0-9_.]*$ ]]; then
  echo "worker_runtime: module must be a Python module name, got '$module'" >&2
  exit 1
fi
if ! command -v python3.11 >/dev/null; then
  echo "worker_runtime: python3.11 not found; put recipe.python_runtime before recipe.worker_runtime" >&2
  exit 1
fi

if ! getent group worker >/dev/null; then
  groupadd --system worker
fi
if ! id -u worker >/dev/null 2>&1; then
  useradd --system --gid worker --home-dir /var/lib/acme-worker --no-create-home --shell /sbin/nologin worker
fi

# Code and virtualenv belong to root (the worker cannot rewrite itself);
# state belongs to the worker.
install -d -m 0755 -o root -g root /opt/acme-worker
install -d -m 0750 -o worker -g worker /var/lib/acme-worker
if [[ ! -x /opt/acme-worker/venv/bin/python ]]; then
  python3.11 -m venv /opt/acme-worker/venv
fi

cat >/etc/sysconfig/acme-worker <<CONF
# Written by the amibake recipe worker_runtime.
WORKER_MODULE=$module
WORKER_CONCURRENCY=$concurrency
PYTHONUNBUFFERED=1
CONF
