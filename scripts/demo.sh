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

tools="$(scripts/tools.sh)"

# The demo works on a copy of the example project that records every AMI's
# software inventory (inventory_bucket); the bucket is created in the sandbox below.
project="$work/project"
mkdir -p "$project"
cp ./*.hcl "$project/"
cp -R layers recipes fleets "$project/"
sed -i 's/^\(  provisioner = "ssm"\)$/\1\n  inventory_bucket = "acme-amibake-inventory"/' "$project/amibake.hcl"
grep -q 'inventory_bucket' "$project/amibake.hcl"
amibake="$PWD/bin/amibake --chdir $project"

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
# S3 CreateBucket, signed like any SDK call (the sandbox serves S3 path-style).
curl -fsS -o /dev/null -X PUT --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  "$AWS_ENDPOINT_URL/acme-amibake-inventory"
echo "created the inventory bucket s3://acme-amibake-inventory"

step "plan: what must be baked, and why"
$amibake plan || true

step "render the Packer templates amibake will run (secrets are never written)"
$amibake render --out "$work/rendered" --sandbox
ls -1 "$work/rendered"

step "install packer-plugin-amibake next to the amazon plugin (SSM provisioner, channel data source, lineage post-processor)"
plugins="$work/plugins"
mkdir -p "$plugins/github.com/hashicorp"
cp -R "$tools/plugins/github.com/hashicorp/amazon" "$plugins/github.com/hashicorp/"
go build -o "$work/packer-plugin-amibake" ./cmd/packer-plugin-amibake
CHECKPOINT_DISABLE=1 PACKER_PLUGIN_PATH="$plugins" "$tools/packer" plugins install --path "$work/packer-plugin-amibake" github.com/amibake/amibake >/dev/null
export AMIBAKE_PACKER="$tools/packer" PACKER_PLUGIN_PATH="$plugins" CHECKPOINT_DISABLE=1

step "patch baselines as code: create the SSM baseline and register its patch groups"
# --yes: at a terminal, --apply would first ask "Apply N changes to …? [y/N]".
$amibake --yes patch apply --apply

step "bake every layer through real packer, parents first, siblings in parallel"
$amibake bake

step "bake again: nothing changed, so nothing is built"
$amibake bake

step "lineage of the app-web AMI: ancestors up to the JeOS source"
ami="$($amibake -o json plan app-web | sed -n 's/.*"us-east-1": "\(ami-[0-9a-f]*\)".*/\1/p' | head -n1)"
if [[ -n "$ami" ]]; then $amibake lineage "$ami"; fi

step "inventory of the app-web AMI: packages, recipes, lineage (recorded by the bake)"
# (sed, not head: the command writes its whole output, so pipefail holds)
$amibake inventory app-web@latest | sed -n '1,30p'

step "promote base from latest to stable, and its channel history"
$amibake promote base --to stable
$amibake history base --channel stable

step "a critical openssl fix is released upstream (sandbox admin API)"
$amibake sandbox admin POST patches/release '{"package":"openssl","severity":"Critical","classification":"Security","cves":["CVE-2026-4242"]}' >/dev/null
echo "released: openssl (Critical, CVE-2026-4242)"

step "patch run: scan every image, rebake the lowest affected layer and everything above it, verify, publish"
$amibake patch run --apply

step "what the patch rebake changed in app-web (inventory diff)"
if [[ -n "$ami" ]]; then $amibake diff "$ami" app-web@latest; fi

step "patch run again: nothing new released, nothing to do"
$amibake patch run --apply

step "status: every layer's channels, every fleet, the lock"
$amibake status
