#!/usr/bin/env bash
# Runs packer-sdc (the plugin SDK's code generator) for `go generate`.
#
# packer-sdc's own dependencies (mitchellh/cli, fatih/structtag, …) are not
# in amibake's module graph, and `go run pkg@version` is refused by this
# machine's proxy for SDK modules, so the tool is built once in a throwaway
# module, pinned to the SDK version in go.mod, and cached outside the clone:
#
#   //go:generate ../sdc.sh mapstructure-to-hcl2 -type Config
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sdk_version="$(cd "$here" && go list -m -f '{{.Version}}' github.com/hashicorp/packer-plugin-sdk)"
root="${AMIBAKE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/amibake/tools}"
bin="$root/packer-sdc-$sdk_version/packer-sdc"

if [[ ! -x "$bin" ]]; then
  mkdir -p "$root"
  work="$(mktemp -d "$root/.build-sdc.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    printf 'module sdc\n\ngo 1.26\n' >go.mod
    printf '//go:build tools\n\npackage sdc\n\nimport _ "github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc"\n' >tools.go
    go get "github.com/hashicorp/packer-plugin-sdk@$sdk_version" >&2
    go mod edit -replace github.com/zclconf/go-cty=github.com/nywilken/go-cty@v1.13.3
    # The x/tools the SDK pins does not compile with current Go.
    go get golang.org/x/tools@v0.38.0 >&2
    go mod tidy >&2
    mkdir -p "$(dirname "$bin")"
    go build -o "$bin.tmp" github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc
    mv "$bin.tmp" "$bin"
  )
fi
exec "$bin" "$@"
