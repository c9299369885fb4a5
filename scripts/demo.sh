#!/usr/bin/env bash
# make demo: the main job on the embedded sandbox, no AWS account needed.
# Grows with every capability; each step prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

amibake=./bin/amibake
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "validate the example project (amibake.hcl, layers/, recipes/, fleets/)"
$amibake validate

step "the layer graph"
$amibake graph

step "content fingerprints"
$amibake fingerprint
