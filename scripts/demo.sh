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

step "promote every layer from latest to stable, and base's channel history"
# The example fleets follow stable: web (app-web) and worker (app-worker).
for layer in linux foundation base app-web app-worker; do $amibake promote "$layer" --to stable; done
$amibake history base --channel stable

# channel_ami LAYER CHANNEL: the AMI the channel holds now (the last version).
channel_ami() { $amibake -o json history "$1" --channel "$2" | sed -n 's/.*"ami": "\(ami-[0-9a-f]*\)".*/\1/p' | tail -n1; }
web_ami="$(channel_ami app-web stable)"
worker_ami="$(channel_ami app-worker stable)"

step "the example fleets go live in the sandbox: web (replace: ASGs web-prod-a, web-prod-b) and worker (in-place: role=worker)"
# Real EC2 / Auto Scaling calls made by the sandbox's seed endpoint: one
# launch template on app-web's stable AMI, two groups of 4 on it; 3 workers
# from app-worker's stable AMI (SSM-managed: the image has the SSM agent);
# the alarm web.hcl aborts on (web-5xx-high), in state OK.
$amibake sandbox admin POST seed/fleets "$(cat <<JSON
{"launch_templates": [{"name": "web", "image_id": "$web_ami", "instance_type": "t3.medium"}],
 "groups": [{"name": "web-prod-a", "launch_template": "web", "size": 4},
            {"name": "web-prod-b", "launch_template": "web", "size": 4}],
 "instances": [{"image_id": "$worker_ami", "count": 3, "instance_type": "c6i.large",
                "tags": {"Name": "worker", "role": "worker", "Patch Group": "worker"}, "iam_instance_profile": "acme-worker"}],
 "alarms": [{"name": "web-5xx-high", "state": "OK"}]}
JSON
)" >"$work/fleets.json"
echo "web:    web-prod-a, web-prod-b (4 instances each) on app-web stable $web_ami; alarm web-5xx-high is OK"
echo "worker: 3 instances tagged role=worker on app-worker stable $worker_ami"
# The web fleet waits checkpoint_wait (15m) at each checkpoint; the demo's
# copy of fleets/web.hcl waits 5s so that you do not.
sed -i 's/checkpoint_wait     = "15m"/checkpoint_wait     = "5s"/' "$project/fleets/web.hcl"
grep -q 'checkpoint_wait     = "5s"' "$project/fleets/web.hcl"
echo "(demo only: the web fleet's checkpoint_wait is 5s instead of 15m)"

step "a critical openssl fix is released upstream (sandbox admin API)"
$amibake sandbox admin POST patches/release '{"package":"openssl","severity":"Critical","classification":"Security","cves":["CVE-2026-4242"]}' >/dev/null
echo "released: openssl (Critical, CVE-2026-4242)"

step "patch run --rollout, dry run: what would be rebaked, which channels would move, which fleets would roll out"
$amibake patch run --rollout

step "patch run --rollout --apply: scan, rebake, verify, publish, replace the drifted AMIs on stable, roll out the fleets"
# web: canary replace rollout (the canary is judged on the metrics of the
# window ending now: --canary-no-wait), then retire is asked about the AMI it replaced.
# worker: patched in place with Run Command; its maintenance window is
# sun-02:00-04:00, so the demo passes --ignore-window rather than wait for Sunday.
# --yes: at a terminal each fleet's rollout would first ask "Apply N changes …? [y/N]".
$amibake --yes patch run --rollout --apply --canary-no-wait --ignore-window --poll 200ms

step "stable's history: the patch rebake replaced the drifted AMI, and says so"
$amibake history app-web --channel stable

step "what the patch rebake changed in app-web (inventory diff)"
$amibake diff "$web_ami" app-web@stable

step "retire: what can go now, what is kept and why (keeping 1 build per layer)"
# The rollout already asked retire about the AMI web ran before; this asks
# about every AMI of the project.
$amibake --yes retire --keep 1 --apply

step "patch run again: nothing new released, nothing to do"
$amibake --yes patch run --rollout --apply

step "status: every layer's channels, every fleet on the new AMIs, the lock"
$amibake status
