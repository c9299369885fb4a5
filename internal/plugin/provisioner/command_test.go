package provisioner

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/plugin/stepcmd"
)

// TestStepConvertsEveryField fails when a field is added to the HCL Step
// (or to stepcmd.Step) without being carried across by cmd().
func TestStepConvertsEveryField(t *testing.T) {
	s := Step{
		Name: "r/s", Script: "s.sh", Inline: []string{"a", "b"},
		FileSource: "src", FileDestination: "/dst", FileMode: "0600",
		Env: map[string]string{"A": "1"}, SecretEnv: map[string]string{"S": "/p"},
		Timeout: time.Minute, Patch: &PatchStep{Operation: "Scan", Reboot: "RebootIfNeeded"},
	}
	from, to := reflect.ValueOf(s), reflect.ValueOf(s.cmd())
	require.Equal(t, from.NumField(), to.NumField(), "provisioner.Step and stepcmd.Step have the same fields")
	for i := 0; i < from.NumField(); i++ {
		name := from.Type().Field(i).Name
		require.False(t, from.Field(i).IsZero(), "the fixture sets %s", name)
		got := to.FieldByName(name)
		require.True(t, got.IsValid(), "stepcmd.Step has no field %s", name)
		if name == "Patch" {
			continue
		}
		assert.Equal(t, from.Field(i).Interface(), got.Interface(), name)
	}
	assert.Equal(t, &stepcmd.Patch{Operation: "Scan", Reboot: "RebootIfNeeded"}, s.cmd().Patch)

	pt := reflect.TypeOf(PatchStep{})
	require.Equal(t, pt.NumField(), reflect.TypeOf(stepcmd.Patch{}).NumField(), "PatchStep and stepcmd.Patch have the same fields")
	assert.Nil(t, (&Step{Name: "x"}).cmd().Patch, "no patch block, no patch step")
}

// TestBuildCommandsThroughTheProvisionerStep pins the adapter to the
// renderer: the provisioner sends exactly what stepcmd renders.
func TestBuildCommandsThroughTheProvisionerStep(t *testing.T) {
	s := Step{Name: "base/motd", Inline: []string{"echo hi"}, Env: map[string]string{"A": "it's"},
		SecretEnv: map[string]string{"S": "/p/s"}}
	got, err := BuildCommands(s, nil, "eu-west-1")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"# amibake-step: base/motd",
		"set -euo pipefail",
		`export A='it'\''s'`,
		`S="$(aws ssm get-parameter --name '/p/s' --with-decryption --query Parameter.Value --output text --region 'eu-west-1')"`,
		"export S",
		"echo hi",
	}, got)
}
