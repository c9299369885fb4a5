package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// AmibakePluginSource is the source address of packer-plugin-amibake in
// rendered templates' required_plugins.
const AmibakePluginSource = "github.com/amibake/amibake"

var (
	pluginDirOnce sync.Once
	pluginDirPath string
	pluginDirErr  error
)

// PluginDir returns the packer binary and a plugin directory (use it as
// PACKER_PLUGIN_PATH) holding the amazon plugin from the tools cache and
// packer-plugin-amibake built from this tree and installed with
// `packer plugins install --path`. It is made once per test process in a
// temporary directory that CleanupPluginDir (call it from TestMain)
// removes; tests must not write into it.
func PluginDir(t testing.TB) (bin, pluginDir string) {
	t.Helper()
	bin, toolsPlugins := Packer(t)
	pluginDirOnce.Do(func() {
		var dir string
		dir, pluginDirErr = buildPluginDir(bin, toolsPlugins)
		if dir != "" {
			pluginDirPath = dir
		}
	})
	if pluginDirErr != nil {
		t.Fatalf("packer plugin directory: %v", pluginDirErr)
	}
	return bin, pluginDirPath
}

func buildPluginDir(bin, toolsPlugins string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	// One directory per test process: concurrent test binaries (go test
	// ./...) never share a half-installed plugin.
	removeStalePluginDirs()
	dir, err := os.MkdirTemp("", pluginDirPattern)
	if err != nil {
		return "", fmt.Errorf("plugin directory: %w", err)
	}
	pluginDirPath = dir // removed by CleanupPluginDir even when a later step fails
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", err
	}
	amazon := filepath.Join("github.com", "hashicorp", "amazon")
	src := filepath.Join(toolsPlugins, amazon)
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", fmt.Errorf("amazon plugin in the tools cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, amazon), 0o755); err != nil {
		return "", err
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, amazon, e.Name())); err != nil {
			return "", fmt.Errorf("link amazon plugin: %w", err)
		}
	}

	buildDir, err := os.MkdirTemp("", "amibake-plugin-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(buildDir)
	binary := filepath.Join(buildDir, "packer-plugin-amibake")
	build := exec.Command("go", "build", "-o", binary, "./cmd/packer-plugin-amibake")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build packer-plugin-amibake: %w\n%s", err, out)
	}

	home, err := os.MkdirTemp("", "amibake-packer-home-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	install := exec.Command(bin, "plugins", "install", "--path", binary, AmibakePluginSource)
	install.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"CHECKPOINT_DISABLE=1",
		"PACKER_PLUGIN_PATH=" + dir,
		"PACKER_NO_COLOR=1",
	}
	var out bytes.Buffer
	install.Stdout, install.Stderr = &out, &out
	if err := install.Run(); err != nil {
		return "", fmt.Errorf("packer plugins install: %w\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "packer-plugin-amibake") {
		// Older packers print nothing; check the file landed instead.
		matches, _ := filepath.Glob(filepath.Join(dir, "github.com", "amibake", "amibake", "packer-plugin-amibake_v*"))
		if len(matches) == 0 {
			return "", fmt.Errorf("packer plugins install: no packer-plugin-amibake in %s\n%s", dir, out.String())
		}
	}
	return dir, nil
}

// CleanupPluginDir removes the directory PluginDir made, if any. Call it
// from TestMain after m.Run.
func CleanupPluginDir() {
	if pluginDirPath != "" {
		_ = os.RemoveAll(pluginDirPath)
	}
}

const (
	pluginDirPattern = "amibake-plugins-"
	// ownerFile holds the pid of the test process that made a plugin
	// directory.
	ownerFile = ".owner-pid"
)

// removeStalePluginDirs removes the plugin directories of test processes
// that are gone without calling CleanupPluginDir (a package without it in
// TestMain, a killed run).
func removeStalePluginDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), pluginDirPattern+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // being made, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}
