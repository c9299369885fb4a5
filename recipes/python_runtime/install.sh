#!/usr/bin/env bash
# python_runtime: Python 3.11 for apps. The system python3 stays as it is:
# dnf and other system tools depend on it, so never repoint it.
#
# PIP_INDEX_URL_INPUT comes from the recipe input "index_url" (named so that
# pip itself does not pick it up during the build).
set -euo pipefail

dnf install -y python3.11 python3.11-pip python3.11-devel gcc

index="${PIP_INDEX_URL_INPUT:-}"
marker="# Written by the amibake recipe python_runtime."
if [[ -n "$index" ]]; then
  if [[ ! "$index" =~ ^https:// ]]; then
    echo "python_runtime: index_url must be an https:// URL, got '$index'" >&2
    exit 1
  fi
  printf '%s\n[global]\nindex-url = %s\n' "$marker" "$index" >/etc/pip.conf
elif [[ -f /etc/pip.conf ]] && IFS= read -r first </etc/pip.conf && [[ "$first" == "$marker" ]]; then
  # The input was cleared: remove our file, never someone else's.
  rm -f /etc/pip.conf
fi

python3.11 --version
python3.11 -m pip --version
