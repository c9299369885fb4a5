package lock_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

func run(t *testing.T, sb *sandbox.Sandbox, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	dir, err := filepath.Abs("../../..")
	require.NoError(t, err)
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", dir}, args...), f)
	return code, out.String(), errOut.String()
}

func TestLockStatusAndForceRelease(t *testing.T) {
	sb := sandbox.Start(t)
	code, out, errOut := run(t, sb, "lock", "status")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Unlocked: no run holds /amibake/acme-golden/lock.\n", out)

	l := &lock.Locker{SSM: ssm.NewFromConfig(sb.Config), Name: "/amibake/acme-golden/lock", Holder: "ci:job-42", Command: "bake", TTL: time.Hour}
	_, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)

	code, out, errOut = run(t, sb, "lock", "status")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Locked by ci:job-42")
	assert.Contains(t, out, "command:  bake")

	code, out, _ = run(t, sb, "-o", "json", "lock", "status")
	require.Equal(t, 0, code)
	var st struct {
		Locked bool `json:"locked"`
		Lease  struct {
			Holder string `json:"holder"`
		} `json:"lease"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.True(t, st.Locked)
	assert.Equal(t, "ci:job-42", st.Lease.Holder)

	code, _, errOut = run(t, sb, "lock", "release")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "needs --force")

	code, out, errOut = run(t, sb, "lock", "release", "--force")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Released /amibake/acme-golden/lock, held by ci:job-42")

	code, out, _ = run(t, sb, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked")
}
