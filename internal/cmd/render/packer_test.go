package render

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupPluginDir()
	os.Exit(code)
}

// TestRenderedTemplatesPassPackerValidate runs the real packer (with the
// amazon plugin and packer-plugin-amibake built from this tree) over every
// template render writes, in both provisioning modes.
func TestRenderedTemplatesPassPackerValidate(t *testing.T) {
	bin, plugins := testutil.PluginDir(t)
	for _, mode := range []string{"ssm", "ssh"} {
		t.Run(mode, func(t *testing.T) {
			f, _, _ := newFactory(t, cmdutil.OutputText)
			f.WorkDir = copyProject(t, f.WorkDir, func(s string) string {
				require.Contains(t, s, `provisioner = "ssm"`)
				// Packer refuses to share an AMI encrypted with the default
				// EBS key; the example shares with the prod account and so
				// names a customer-managed key (config.Load enforces it).
				require.Contains(t, s, `kms_key_id = "alias/acme-golden-ami"`)
				return strings.Replace(s, `provisioner = "ssm"`, `provisioner = "`+mode+`"`, 1)
			})
			dir := t.TempDir()
			require.NoError(t, run(f, nil, "--out", dir, "--sandbox", "-var", "security_agent_token="+secret))
			files, err := filepath.Glob(filepath.Join(dir, "*.pkr.hcl"))
			require.NoError(t, err)
			require.Len(t, files, 5)
			for _, file := range files {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				cmd := exec.CommandContext(ctx, bin, "validate", filepath.Base(file))
				cmd.Dir = dir
				cmd.Env = []string{
					"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CHECKPOINT_DISABLE=1",
					"PACKER_PLUGIN_PATH=" + plugins, "PACKER_NO_COLOR=1",
				}
				out, err := cmd.CombinedOutput()
				cancel()
				assert.NoError(t, err, "packer validate %s:\n%s", filepath.Base(file), out)
				assert.NotContains(t, string(out), secret)
			}
		})
	}
}
