package reliability

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// badCLIDir is the catalogue of bad command lines and AWS failures: one
// file per case,
//
//	# comment
//	env: NAME=VALUE          (optional, repeatable)
//	seed: family             (optional: seed the example's AMI family and base's latest channel)
//	channel: NAME AMI        (optional, repeatable, with seed: put a channel parameter in us-east-1)
//	fleets: {FleetSeed JSON} (optional, with seed: groups, instances, alarms made before the run)
//	fault: {FaultRule JSON}  (optional, repeatable: sandbox faults during the run)
//	bug: WHY                 (optional: a known bug; the case is skipped with WHY)
//	aws: production          (optional: the production AWS loader, so that --profile,
//	                          --region and --endpoint-url count; env sets its files)
//	write: PATH: "TEXT"      (optional, repeatable: write the Go-quoted TEXT to PATH in
//	                          the project before the run)
//	args: ARGS…              (split on spaces; '' is an empty argument)
//	exit: CODE
//	stderr: LINE             (repeatable: each is one whole line of stderr, in order;
//	                          {*} matches any text, e.g. a request id)
//
// {project} stands for the copy of the example project the case runs in
// (also in env values),
// {file} for a regular file, {ami:LAYER} for the seeded AMI of LAYER in
// us-east-1. Cases run in-process through root.Main against an in-process
// sandbox whose client retries like production (root.RetryMaxAttempts)
// with the backoff capped at 1 ms.
const badCLIDir = "../../testdata/bad-cli"

type badCLICase struct {
	env, args, stderr []string
	faults            []sandbox.FaultRule
	seed, bug, aws    string
	channels, fleets  []string
	writes            map[string]string
	exit              int
}

func parseBadCLI(t *testing.T, path string) badCLICase {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var c badCLICase
	c.exit = -1
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ": ")
		if !ok {
			key, val = strings.TrimSuffix(line, ":"), ""
		}
		switch key {
		case "env":
			c.env = append(c.env, val)
		case "seed":
			c.seed = val
		case "bug":
			c.bug = val
		case "fleets":
			c.fleets = append(c.fleets, val)
		case "channel":
			c.channels = append(c.channels, val)
		case "aws":
			require.Equal(t, "production", val, "%s:%d", path, i+1)
			c.aws = val
		case "write":
			name, text, ok := strings.Cut(val, ": ")
			require.True(t, ok, "%s:%d: write: PATH: \"TEXT\"", path, i+1)
			text, err := strconv.Unquote(text)
			require.NoError(t, err, "%s:%d", path, i+1)
			if c.writes == nil {
				c.writes = map[string]string{}
			}
			c.writes[name] = text
		case "fault":
			var r sandbox.FaultRule
			require.NoError(t, json.Unmarshal([]byte(val), &r), "%s:%d", path, i+1)
			c.faults = append(c.faults, r)
		case "args":
			for _, a := range strings.Fields(val) {
				if a == "''" {
					a = ""
				}
				c.args = append(c.args, a)
			}
		case "exit":
			c.exit, err = strconv.Atoi(val)
			require.NoError(t, err, "%s:%d", path, i+1)
		case "stderr":
			c.stderr = append(c.stderr, val)
		default:
			t.Fatalf("%s:%d: unknown key %q", path, i+1, key)
		}
	}
	require.NotEmpty(t, c.args, "%s: no args", path)
	require.NotEqual(t, -1, c.exit, "%s: no exit", path)
	require.NotEmpty(t, c.stderr, "%s: no stderr line", path)
	return c
}

// fastRetryConfig is sb's configuration with production's retry bound and
// a 1 ms backoff cap, so that permanent failures end at once.
func fastRetryConfig(sb *sandbox.Sandbox) aws.Config {
	cfg := sb.Config.Copy()
	cfg.RetryMaxAttempts = root.RetryMaxAttempts
	cfg.RetryMode = aws.RetryModeStandard
	cfg.Retryer = func() aws.Retryer {
		return retry.AddWithMaxBackoffDelay(retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = root.RetryMaxAttempts
		}), time.Millisecond)
	}
	return cfg
}

func TestBadCLICatalogue(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(badCLIDir, "*.txt"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(files), 70, "the catalogue lost cases")
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			c := parseBadCLI(t, path)
			if c.bug != "" {
				t.Skip("known bug: " + c.bug)
			}
			sb := sandbox.Start(t)
			dir := channeltest.CopyProject(t)
			file := filepath.Join(t.TempDir(), "not-a-dir.txt")
			require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
			repl := []string{"{project}", dir, "{file}", file}
			for _, kv := range c.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, strings.NewReplacer(repl...).Replace(v))
			}
			for name, text := range c.writes {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
			}
			if c.seed == "family" {
				fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
				channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/base/latest", fam.Base.Home())
				for _, b := range []channeltest.Build{fam.Linux, fam.Foundation, fam.Base, fam.AppWeb, fam.AppWorker} {
					repl = append(repl, "{ami:"+b.Layer+"}", b.Home())
				}
			}
			r := strings.NewReplacer(repl...)
			for _, js := range c.fleets {
				var spec sandbox.FleetSeed
				require.NoError(t, json.Unmarshal([]byte(r.Replace(js)), &spec), "fleets: %s", js)
				_, err := sb.SeedFleets(context.Background(), spec)
				require.NoError(t, err)
			}
			for _, ch := range c.channels {
				name, ami, _ := strings.Cut(r.Replace(ch), " ")
				channeltest.PutChannel(t, sb, "us-east-1", name, ami)
			}
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = r.Replace(a)
			}
			sb.SetFaults(c.faults...)
			var res result
			if c.aws == "production" {
				res = runInProduction(t, dir, args...)
			} else {
				res = runIn(t, fastRetryConfig(sb), dir, args...)
			}
			assert.Equal(t, c.exit, res.Code, "%s", res)
			lines := strings.Split(res.Err, "\n")
			at := 0
			for _, want := range c.stderr {
				want = r.Replace(want)
				re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(want), `\{\*\}`, ".*") + "$")
				found := false
				for at < len(lines) {
					at++
					if re.MatchString(lines[at-1]) {
						found = true
						break
					}
				}
				if !assert.True(t, found, "stderr lacks the line (in order)\n  %s\n%s", want, res) {
					break
				}
			}
		})
	}
}

// runInProduction is runIn with main's own AWS loader (the case's env
// decides what it finds).
func runInProduction(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	all := append([]string{"amibake", "--chdir", dir}, args...)
	start := time.Now()
	code := root.Main(context.Background(), all, root.NewFactory(ios))
	return result{Code: code, Out: out.String(), Err: errOut.String(), Elapsed: time.Since(start), Args: all[1:]}
}
