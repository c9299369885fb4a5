#!/usr/bin/env bash
# make demo: the main job on the embedded sandbox, no AWS account needed.
# Grows with every capability; each step prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

amibake=./bin/amibake
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/amibake-demo.XXXXXX")"
sandbox_pid=""
cleanup() {
  if [[ -n "$sandbox_pid" ]]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step "validate the example project (amibake.hcl, layers/, recipes/, fleets/)"
$amibake validate

step "the layer graph"
$amibake graph

step "content fingerprints"
$amibake fingerprint

step "start the embedded AWS sandbox (EC2, SSM, Auto Scaling, STS on loopback)"
$amibake sandbox serve --addr 127.0.0.1:0 --state "$work/sandbox.json" >"$work/sandbox.out" 2>&1 &
sandbox_pid=$!
for _ in $(seq 1 100); do
  grep -q '^Sandbox listening' "$work/sandbox.out" 2>/dev/null && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.out"; exit 1; }
  sleep 0.1
done
grep '^export ' "$work/sandbox.out"
eval "$(grep '^export ' "$work/sandbox.out")"
unset AWS_CA_BUNDLE AWS_PROFILE

step "plan: what must be baked, and why"
$amibake plan || true

step "render the Packer templates amibake will run (secrets are never written)"
$amibake render --out "$work/rendered" --sandbox
ls -1 "$work/rendered"

step "the project lock (held by every command that changes AWS)"
$amibake lock status
