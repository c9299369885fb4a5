package admin_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

func run(args ...string) (int, string, string) {
	ios, _, out, errOut := iostreams.Test()
	code := root.Main(context.Background(), append([]string{"amibake", "sandbox", "admin"}, args...), root.NewFactory(ios))
	return code, out.String(), errOut.String()
}

func TestReleasePatchThroughAdmin(t *testing.T) {
	sb := sandbox.Start(t)
	code, out, errOut := run("--endpoint", sb.URL(), "POST", "patches/release", `{"package":"openssl","severity":"Critical","classification":"Security"}`)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "openssl")

	code, out, errOut = run("--endpoint", sb.URL(), "GET", "/_sandbox/health")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"ok": true`)

	code, _, errOut = run("--endpoint", sb.URL(), "POST", "patches/release", `{not json`)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "400 Bad Request")
}

func TestAdminRefusesNonLoopback(t *testing.T) {
	code, _, errOut := run("--endpoint", "https://ec2.us-east-1.amazonaws.com", "GET", "health")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "only talks to a sandbox on loopback")

	code, _, errOut = run("--endpoint", "http://127.0.0.1:1", "PATCH", "health")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `invalid METHOD "PATCH"`)
}
