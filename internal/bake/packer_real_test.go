//go:build unix

package bake

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/testutil"
)

// The null builder and shell-local provisioner are built into packer core:
// no AWS, no plugin needed.
const realNullTemplate = `
variable "greeting" {
  type    = string
  default = "hi"
}

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]
  provisioner "shell-local" {
    inline = [
      "echo ${var.greeting}, with a comma",
      "echo token=$AMIBAKE_TEST_TOKEN",
      "printf 'two\\nlines\\n'",
      "echo to-stderr 1>&2",
      "%s",
    ]
  }
}
`

func writeReal(t *testing.T, name, last string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".pkr.hcl")
	require.NoError(t, os.WriteFile(p, []byte(strings.Replace(realNullTemplate, "%s", last, 1)), 0o600))
	return p
}

// TestRealPacker runs the genuine packer binary: the parser, the runner,
// redaction, interrupt forwarding through packer's panicwrap parent, and
// Validate all hold against real output.
func TestRealPacker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real packer binary")
	}
	bin, plugins := testutil.Packer(t)
	newRunner := func() *Runner {
		return &Runner{
			Bin:       bin,
			PluginDir: plugins,
			Env:       []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()},
			LogDir:    t.TempDir(),
		}
	}
	const token = "tok-3b9f,secret"

	t.Run("success", func(t *testing.T) {
		r := newRunner()
		var evs eventLog
		res, err := r.Build(context.Background(), BuildRequest{
			Layer:        "null",
			TemplatePath: writeReal(t, "ok", "true"),
			Vars:         map[string]string{"greeting": "hello"},
			ExtraEnv:     map[string]string{"AMIBAKE_TEST_TOKEN": token},
			OnEvent:      evs.add,
		})
		require.NoError(t, err)
		require.Len(t, res.RawArtifacts, 1)
		assert.Equal(t, "fnoeding.null", res.RawArtifacts[0].BuilderID)
		assert.Equal(t, "Null", res.RawArtifacts[0].ID)
		assert.True(t, res.RawArtifacts[0].Complete)
		assert.Empty(t, res.Artifacts, "no AMI from the null builder")
		texts := evs.texts()
		assert.Contains(t, texts, "    null.x: hello, with a comma")
		assert.Contains(t, texts, "    null.x: token=(sensitive)")
		assert.Contains(t, texts, "==> null.x: to-stderr")
		log := readLog(t, res.LogPath)
		assert.Contains(t, log, ",,ui,message,    null.x: hello%!(PACKER_COMMA) with a comma\n")
		assert.NotContains(t, log, "tok-3b9f")
		assert.NotContains(t, strings.Join(texts, "\n"), "tok-3b9f")
	})

	t.Run("failure", func(t *testing.T) {
		r := newRunner()
		res, err := r.Build(context.Background(), BuildRequest{Layer: "null", TemplatePath: writeReal(t, "fail", "exit 3")})
		require.Error(t, err)
		assert.Equal(t, 1, res.ExitCode)
		assert.Contains(t, err.Error(), "layer null: packer build failed (exit 1): null.x: Script exited with non-zero exit status: 3")
		assert.Contains(t, err.Error(), "(log: "+res.LogPath+")")
	})

	t.Run("template error on stderr", func(t *testing.T) {
		r := newRunner()
		p := filepath.Join(t.TempDir(), "bad.pkr.hcl")
		require.NoError(t, os.WriteFile(p, []byte(`source "null" "x" { communicator = "none" }`), 0o600))
		_, err := r.Build(context.Background(), BuildRequest{Layer: "null", TemplatePath: p})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Missing build block")
		assert.ErrorContains(t, r.Validate(context.Background(), p, nil), "Missing build block")
	})

	t.Run("interrupt", func(t *testing.T) {
		r := newRunner()
		r.Grace = time.Minute
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var evs eventLog
		start := time.Now()
		res, err := r.Build(ctx, BuildRequest{Layer: "null", TemplatePath: writeReal(t, "slow", "echo sleeping; sleep 60"),
			OnEvent: cancelOn(cancel, "sleeping", &evs)})
		require.Error(t, err)
		assert.Less(t, time.Since(start), 30*time.Second, "packer honoured the interrupt")
		assert.True(t, res.Interrupted)
		assert.False(t, res.Killed, "packer exited by itself")
		assert.ErrorIs(t, err, context.Canceled)
		log := readLog(t, res.LogPath)
		assert.Contains(t, log, "Cancelling build after receiving interrupt")
		assert.Contains(t, log, "Cleanly cancelled builds after being interrupted.")
	})

	t.Run("validate", func(t *testing.T) {
		r := newRunner()
		require.NoError(t, r.Validate(context.Background(), writeReal(t, "ok", "true"), map[string]string{"greeting": "x"}))
		err := r.Validate(context.Background(), writeReal(t, "ok", "true"), map[string]string{"nope": "x"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "packer validate ")
	})
}
