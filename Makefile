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

bench: build tools
	$(GO) test -run '^$$' -bench . -benchmem ./...

reliability: tools
	AMIBAKE_RELIABILITY=long $(GO) test -timeout 60m ./...

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate:
	$(GO) generate ./...

clean:
	rm -rf $(BIN)
