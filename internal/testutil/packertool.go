// Package testutil holds helpers shared by tests across packages.
package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	packerOnce sync.Once
	packerDir  string
	packerErr  error
)

// Packer returns the packer v1.11.2 binary and the plugin directory (use
// it as PACKER_PLUGIN_PATH) holding the amazon plugin v1.3.6, built by
// scripts/tools.sh. The script runs once per test process; on a cold
// machine it builds both, which takes minutes.
func Packer(t testing.TB) (bin, pluginDir string) {
	t.Helper()
	packerOnce.Do(func() { packerDir, packerErr = buildTools() })
	if packerErr != nil {
		t.Fatalf("packer tools: %v", packerErr)
	}
	return filepath.Join(packerDir, "packer"), filepath.Join(packerDir, "plugins")
}

func buildTools() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "tools.sh"))
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/tools.sh: %w\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	for _, want := range []string{"packer", "plugins"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			return "", fmt.Errorf("scripts/tools.sh printed %q, which lacks %s: %w", dir, want, err)
		}
	}
	return dir, nil
}

// RepoRoot is the directory holding go.mod, found from the working
// directory upwards (tests run in their package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
