package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packerSDK is linked by the packer plugin only: it adds megabytes and a
// large dependency tree to the CLI for nothing (the CLI runs packer as a
// process). Packages the CLI shares with the plugin, such as stepcmd, must
// stay free of it.
const packerSDK = "github.com/hashicorp/packer-plugin-sdk"

func TestCLIDoesNotLinkThePackerPluginSDK(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	const (
		cli    = "github.com/amibake/amibake/cmd/amibake"
		plugin = "github.com/amibake/amibake/cmd/packer-plugin-amibake"
	)
	cmd := exec.Command(goBin, "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, cli, plugin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())

	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		require.NotEmpty(t, f)
		deps[f[0]] = f[1:]
	}
	sdk := func(pkg string) []string {
		var hits []string
		for _, d := range deps[pkg] {
			if d == packerSDK || strings.HasPrefix(d, packerSDK+"/") {
				hits = append(hits, d)
			}
		}
		return hits
	}
	// The plugin needs the SDK: this proves the listing sees it.
	require.NotEmpty(t, sdk(plugin), "%s links the packer plugin SDK", plugin)
	require.Contains(t, deps[cli], "github.com/amibake/amibake/internal/plugin/stepcmd", "the CLI renders recipe steps")
	assert.Empty(t, sdk(cli), "%s must not link the packer plugin SDK; keep SDK imports in internal/plugin/{provisioner,datasource,postprocessor}", cli)
}
