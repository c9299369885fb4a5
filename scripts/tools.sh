#!/usr/bin/env bash
# Builds the external binaries the tests need (packer and its amazon plugin)
# into a per-version cache outside the clone, so every clone on a machine
# shares one build and a new machine builds them once.
#
#   scripts/tools.sh          build if missing, print the tools directory
#   scripts/tools.sh --print  print the tools directory only
set -euo pipefail

PACKER_VERSION=1.11.2
AMAZON_PLUGIN_VERSION=1.3.6
GO_CTY_REPLACE=github.com/nywilken/go-cty@v1.13.3

key="packer-${PACKER_VERSION}_amazon-${AMAZON_PLUGIN_VERSION}"
root="${AMIBAKE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/amibake/tools}"
dir="$root/$key"

if [[ "${1:-}" == "--print" ]]; then
  echo "$dir"
  exit 0
fi

if [[ -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi

mkdir -p "$root"
# One builder at a time per machine; others wait and then reuse the result.
exec 9>"$root/.$key.lock"
flock 9
if [[ -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi

work="$(mktemp -d "$root/.build-$key.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log() { echo "tools: $*" >&2; }

build_module() { # name importpath version output [extra env]
  local name=$1 pkg=$2 ver=$3 out=$4
  local d="$work/$name"
  mkdir -p "$d"
  (
    cd "$d"
    printf 'module %s\n\ngo 1.26\n' "$name" >go.mod
    printf '//go:build tools\n\npackage %s\n\nimport _ "%s"\n' "$name" "$pkg" >tools.go
    go get "$pkg@v$ver"
    go mod edit -replace "github.com/zclconf/go-cty=$GO_CTY_REPLACE"
    go mod tidy
    CGO_ENABLED=0 go build -trimpath -o "$out" "$pkg"
  )
}

log "building packer v$PACKER_VERSION (a few minutes on a cold module cache)"
build_module pk github.com/hashicorp/packer "$PACKER_VERSION" "$work/out/packer"

log "building packer-plugin-amazon v$AMAZON_PLUGIN_VERSION"
GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/hashicorp/packer-plugin-amazon" \
  build_module pa github.com/hashicorp/packer-plugin-amazon "$AMAZON_PLUGIN_VERSION" "$work/out/packer-plugin-amazon"

log "installing the amazon plugin"
mkdir -p "$work/out/plugins"
PACKER_PLUGIN_PATH="$work/out/plugins" CHECKPOINT_DISABLE=1 \
  "$work/out/packer" plugins install --path "$work/out/packer-plugin-amazon" github.com/hashicorp/amazon >&2

rm -f "$work/out/packer-plugin-amazon"
"$work/out/packer" version >&2
touch "$work/out/.complete"
rm -rf "$dir"
mv "$work/out" "$dir"
echo "$dir"
