package iampolicy

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iam"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func newFactory(output string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{
		IOStreams: ios, Output: output, WorkDir: "../../..",
		Now: func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) },
	}, out, errOut
}

func run(f *cmdutil.Factory, runF func(*IAMPolicyOptions) error, args ...string) error {
	app := &cli.App{
		Name: "amibake", Writer: f.IOStreams.Out, ErrWriter: f.IOStreams.ErrOut,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{NewCmdIAMPolicy(f, runF)},
	}
	return app.Run(append([]string{"amibake", "iam-policy"}, args...))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name), got, *update)
}

func TestNewCmdIAMPolicy(t *testing.T) {
	tests := []struct {
		name    string
		output  string
		args    []string
		want    IAMPolicyOptions
		wantErr string
	}{
		{name: "defaults", want: IAMPolicyOptions{For: iam.All, Account: "*", Partition: "aws"}},
		{name: "for bake", args: []string{"--for", "bake", "--account", "123456789012", "--partition", "aws-cn", "--explain"},
			want: IAMPolicyOptions{For: iam.Bake, Account: "123456789012", Partition: "aws-cn", Explain: true}},
		{name: "bad family", args: []string{"--for", "deploy"}, wantErr: `invalid --for: unknown command family "deploy": want one of bake, patch, rollout, retire, all`},
		{name: "bad account", args: []string{"--account", "12"}, wantErr: `invalid --account "12": want a 12-digit account ID or *`},
		{name: "bad partition", args: []string{"--partition", "mars"}, wantErr: `invalid --partition "mars": want aws, aws-cn or aws-us-gov`},
		{name: "explain json", output: cmdutil.OutputJSON, args: []string{"--explain"}, wantErr: "--explain prints text; it cannot be combined with --output json"},
		{name: "args", args: []string{"bake"}, wantErr: "iam-policy takes no arguments; use --for FAMILY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			output := tt.output
			if output == "" {
				output = cmdutil.OutputText
			}
			f, _, _ := newFactory(output)
			var got *IAMPolicyOptions
			err := run(f, func(o *IAMPolicyOptions) error { got = o; return nil }, tt.args...)
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				require.ErrorAs(t, err, &fe)
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want.For, got.For)
			assert.Equal(t, tt.want.Account, got.Account)
			assert.Equal(t, tt.want.Partition, got.Partition)
			assert.Equal(t, tt.want.Explain, got.Explain)
			assert.NotNil(t, got.LoadProject)
		})
	}
}

func TestIAMPolicyGolden(t *testing.T) {
	for _, fam := range iam.Families {
		t.Run(string(fam), func(t *testing.T) {
			f, out, errOut := newFactory(cmdutil.OutputText)
			require.NoError(t, run(f, nil, "--for", string(fam), "--account", "123456789012"), errOut.String())
			var doc iam.Document
			require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
			assert.Equal(t, "2012-10-17", doc.Version)
			golden(t, "policy_"+string(fam)+".golden.json", out.Bytes())
		})
	}
	f, out, errOut := newFactory(cmdutil.OutputText)
	require.NoError(t, run(f, nil, "--for", "bake", "--explain"), errOut.String())
	golden(t, "explain_bake.golden", out.Bytes())
}

func TestIAMPolicyBadProject(t *testing.T) {
	f, _, errOut := newFactory(cmdutil.OutputText)
	f.WorkDir = t.TempDir()
	require.ErrorIs(t, run(f, nil), cmdutil.ErrSilent)
	assert.NotEmpty(t, errOut.String())
}
