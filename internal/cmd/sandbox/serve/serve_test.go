package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

func newFactory(output string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Output: output, WorkDir: "."}, out, errOut
}

// run parses args as `amibake serve ARGS` with the command NewCmdServe builds.
func run(ctx context.Context, f *cmdutil.Factory, runF func(*ServeOptions) error, args ...string) error {
	app := &cli.App{
		Name:           "amibake",
		Writer:         f.IOStreams.Out,
		ErrWriter:      f.IOStreams.ErrOut,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{NewCmdServe(f, runF)},
	}
	return app.RunContext(ctx, append([]string{"amibake", "serve"}, args...))
}

func TestNewCmdServe(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    ServeOptions
		wantErr string
	}{
		{name: "defaults", want: ServeOptions{Addr: "127.0.0.1:0", Seed: 1, Clock: sandbox.ClockInstant, Scale: 60, Account: sandbox.DefaultAccount, Region: "us-east-1"}},
		{name: "everything", args: []string{"--addr", "127.0.0.1:4566", "--state", "w.json", "--seed", "7", "--clock", "scaled", "--scale", "120", "--account", "111122223333", "--region", "eu-west-1"},
			want: ServeOptions{Addr: "127.0.0.1:4566", StateFile: "w.json", Seed: 7, Clock: sandbox.ClockScaled, Scale: 120, Account: "111122223333", Region: "eu-west-1"}},
		{name: "manual clock", args: []string{"--clock", "manual"}, want: ServeOptions{Addr: "127.0.0.1:0", Seed: 1, Clock: sandbox.ClockManual, Scale: 60, Account: sandbox.DefaultAccount, Region: "us-east-1"}},
		{name: "bad clock", args: []string{"--clock", "fast"}, wantErr: `invalid --clock "fast": want instant, scaled or manual`},
		{name: "scale without scaled clock", args: []string{"--scale", "10"}, wantErr: "--scale needs --clock scaled"},
		{name: "non-positive scale", args: []string{"--clock", "scaled", "--scale", "0"}, wantErr: "invalid --scale 0: must be positive"},
		{name: "bad account", args: []string{"--account", "42"}, wantErr: `invalid --account "42": want 12 digits`},
		{name: "no arguments", args: []string{"extra"}, wantErr: `sandbox serve takes no arguments, got "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := newFactory(cmdutil.OutputText)
			var got *ServeOptions
			err := run(context.Background(), f, func(o *ServeOptions) error { got = o; return nil }, tt.args...)
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				require.ErrorAs(t, err, &fe)
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, got)
			assert.NotNil(t, got.Context)
			got.IO, got.Context = nil, nil
			assert.Equal(t, tt.want, *got)
		})
	}
}

// serveInBackground runs the real serveRun until the returned cancel is
// called, and hands back the running sandbox once the endpoint is printed.
func serveInBackground(t *testing.T, f *cmdutil.Factory, args ...string) (*sandbox.Sandbox, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *sandbox.Sandbox, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, f, func(o *ServeOptions) error {
			o.Started = func(sb *sandbox.Sandbox) { started <- sb }
			return serveRun(o)
		}, args...)
	}()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(10 * time.Second):
				stopErr = context.DeadlineExceeded
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() }) //nolint:errcheck
	select {
	case sb := <-started:
		return sb, stop
	case err := <-done:
		t.Fatalf("serve ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	return nil, nil
}

// envConfig builds an SDK config from printed KEY=VALUE pairs, as a
// process that exported them would see it.
func envConfig(env map[string]string) aws.Config {
	return aws.Config{
		Region:       env["AWS_REGION"],
		Credentials:  credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""),
		BaseEndpoint: aws.String(env["AWS_ENDPOINT_URL"]),
	}
}

func TestServeTextPrintsExportsAndServes(t *testing.T) {
	f, out, errOut := newFactory(cmdutil.OutputText)
	sb, stop := serveInBackground(t, f, "--region", "eu-west-1", "--account", "111122223333")

	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		kv, ok := strings.CutPrefix(line, "export ")
		require.True(t, ok, "line %q", line)
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	assert.Equal(t, sb.URL(), env["AWS_ENDPOINT_URL"])
	assert.Equal(t, "eu-west-1", env["AWS_REGION"])
	assert.Equal(t, "sandbox-111122223333", env["AWS_ACCESS_KEY_ID"])
	assert.Contains(t, errOut.String(), "Sandbox listening on "+sb.URL())

	cfg := envConfig(env)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, "111122223333", aws.ToString(id.Account))
	imgs, err := ec2.NewFromConfig(cfg).DescribeImages(context.Background(), &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	require.NoError(t, err)
	assert.NotEmpty(t, imgs.Images, "the seeded AL2023 images of eu-west-1")

	require.NoError(t, stop())
	assert.Contains(t, errOut.String(), "Sandbox stopped.")
}

func TestServeJSONAndStatePersistsAcrossRuns(t *testing.T) {
	state := filepath.Join(t.TempDir(), "world.json")
	f, out, _ := newFactory(cmdutil.OutputJSON)
	_, stop := serveInBackground(t, f, "--state", state, "--seed", "3")
	var info struct {
		Endpoint string            `json:"endpoint"`
		Env      map[string]string `json:"env"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &info))
	require.NotEmpty(t, info.Endpoint)
	assert.Equal(t, info.Endpoint, info.Env["AWS_ENDPOINT_URL"])
	c := ec2.NewFromConfig(envConfig(info.Env))
	kp, err := c.CreateKeyPair(context.Background(), &ec2.CreateKeyPairInput{KeyName: aws.String("persisted")})
	require.NoError(t, err)
	require.NoError(t, stop())
	_, err = os.Stat(state)
	require.NoError(t, err, "state written on exit")

	// A second run on the same file sees the key pair.
	f2, out2, _ := newFactory(cmdutil.OutputJSON)
	_, stop2 := serveInBackground(t, f2, "--state", state)
	require.NoError(t, json.Unmarshal(out2.Bytes(), &info))
	keys, err := ec2.NewFromConfig(envConfig(info.Env)).DescribeKeyPairs(context.Background(), &ec2.DescribeKeyPairsInput{KeyNames: []string{"persisted"}})
	require.NoError(t, err)
	require.Len(t, keys.KeyPairs, 1)
	assert.Equal(t, aws.ToString(kp.KeyPairId), aws.ToString(keys.KeyPairs[0].KeyPairId))
	require.NoError(t, stop2())
}

func TestServeRejectsUnknownRegion(t *testing.T) {
	f, _, _ := newFactory(cmdutil.OutputText)
	err := run(context.Background(), f, nil, "--region", "mars-north-1")
	var fe *cmdutil.FlagError
	require.ErrorAs(t, err, &fe)
	assert.Contains(t, err.Error(), `invalid --region "mars-north-1"`)
}

func TestServeAddressInUse(t *testing.T) {
	f, _, _ := newFactory(cmdutil.OutputText)
	sb, _ := serveInBackground(t, f)
	f2, _, _ := newFactory(cmdutil.OutputText)
	err := run(context.Background(), f2, nil, "--addr", strings.TrimPrefix(sb.URL(), "http://"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen")
}
