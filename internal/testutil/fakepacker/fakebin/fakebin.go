// Package fakebin builds the fakepacker command for tests and benchmarks
// (see internal/testutil/fakepacker): a stand-in for packer that touches
// AWS only with FAKEPACKER_AWS=1, and then only the sandbox. End-to-end
// tests use the real packer.
package fakebin

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/amibake/amibake/internal/testutil"
)

// Build compiles fakepacker into dir as "packer" and returns its path.
func Build(dir string) (string, error) {
	root, err := testutil.RepoRoot()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("fakepacker: %w", err)
	}
	bin := filepath.Join(dir, "packer")
	cmd := exec.Command("go", "build", "-o", bin, "./internal/testutil/fakepacker")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build fakepacker: %w\n%s", err, out.String())
	}
	return bin, nil
}
