# amibake — every target works on a fresh machine with only Go installed.
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/amibake/amibake/internal/cmd/root.Version=$(VERSION)
# Packer and the amazon plugin live in a per-version cache outside the clone.
TOOLS_DIR = $(shell scripts/tools.sh --print)

.PHONY: all build tools test demo bench reliability lint generate clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/amibake ./cmd/amibake

# Builds packer and the amazon plugin once per machine (~6 minutes cold).
tools:
	@scripts/tools.sh >/dev/null

test: tools lint
	$(GO) test -timeout 20m ./...

# The main job, end to end, on the embedded sandbox: no AWS account needed.
demo: build tools
	@scripts/demo.sh

# Scale and speed figures (issue 8; bench/README.md): one line per figure
# with its target, its ratio to a baseline and PASS/FAIL; fails if one does.
# The harness also runs the testing.B benchmarks of internal/config and
# internal/graph (go test -run '^$$' -bench . -benchmem).
bench:
	$(GO) run ./bench

reliability: tools
	AMIBAKE_RELIABILITY=long $(GO) test -timeout 60m ./...

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# docs/reference/commands.md, docs/reference/hcl.md and the diagram in
# docs/concepts.md; internal/docgen's test fails in CI when they are stale.
generate:
	$(GO) generate ./...
	$(GO) run ./internal/docgen
	$(GO) run ./cmd/amibake --chdir . deploy render --out deploy/amibake.cfn.yaml

clean:
	rm -rf $(BIN)
