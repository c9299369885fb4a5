package reliability

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// secretExempt are the commands no secret test runs, and why.
var secretExempt = map[string]string{
	// Prints a shell script fixed at build time: reads no project, no variable.
	"completion": "static shell script",
	// The sandbox itself: every secret test runs against one it started.
	"sandbox serve": "is the test's own AWS",
}

// secretFlowWeb is the example's web fleet with a metric-math canary
// metric, so that canary runs build expressions with the secret set.
const secretFlowWeb = `fleet "web" {
  layer    = layer.app-web
  channel  = "stable"
  strategy = "replace"
  asg      = ["web-prod-a", "web-prod-b"]

  rollout {
    checkpoints         = [25, 50, 100]
    checkpoint_wait     = "1h" # longer than --wait: the rollout pauses
    min_healthy_percent = 50
    abort_on_alarms     = ["web-5xx-high"]
  }

  canary {
    instances = 1
    window    = "10m"

    metric "error_rate" {
      expression = "100 * errors / requests"
      statistic  = "Sum"
      direction  = "lower-is-better"
      tolerance  = "50%" # the sandbox's noise never reaches it: the canary passes
      query "errors" {
        namespace = "Web"
        name      = "Errors"
      }
      query "requests" {
        namespace = "Web"
        name      = "Requests"
      }
    }
  }

  retire {
    keep  = 2
    grace = "168h"
  }
}
`

// secretFlowWorld: the seeded family; app-web/stable on a newer build than
// web's groups run; app-worker/stable on a build whose base has the
// security_agent recipe (sensitive token) while the role=worker instances
// run one without it, so that the in-place rollout runs the recipe delta.
func secretFlowWorld(t *testing.T) (w *world, oldWeb, newWeb string) {
	t.Helper()
	w = servedWorld(t, func(sb *sandbox.Sandbox) {
		fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
		web2 := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", "b3", &fam.Base, "")
		base2 := channeltest.SeedBuild(t, sb, channeltest.Project, "base", "b3", &fam.Foundation, "")
		worker2 := channeltest.SeedBuild(t, sb, channeltest.Project, "app-worker", "b3", &base2, "")
		oldWeb, newWeb = fam.AppWeb.Home(), web2.Home()
		sb.Do(func(sw *sandbox.World) {
			for _, id := range fam.AppWeb.All() {
				sw.EC2.Images[id].CreationDate = sw.EC2.Images[id].CreationDate.Add(-48 * time.Hour)
			}
			old := sw.EC2.Images[fam.AppWorker.Home()]
			old.Tags[lineage.TagRecipes] = "python_runtime@1.0.0,worker_runtime@1.0.0"
			old.Content.Packages = map[string]string{"amazon-ssm-agent": "3.3.1142.0-1.amzn2023"}
			sw.EC2.Images[base2.Home()].Tags[lineage.TagRecipes] = "security_agent@3.1.0"
			sw.EC2.Images[worker2.Home()].Tags[lineage.TagRecipes] = "python_runtime@1.0.0,worker_runtime@1.1.0"
		})
		channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/base/latest", fam.Base.Home())
		channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/app-web/stable", web2.Home())
		channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/app-worker/stable", worker2.Home())
		_, err := sb.SeedFleets(context.Background(), sandbox.FleetSeed{
			LaunchTemplates: []sandbox.LaunchTemplateSeed{{Name: "web", ImageID: fam.AppWeb.Home()}},
			Groups:          []sandbox.GroupSeed{{Name: "web-prod-a", LaunchTemplate: "web", Size: 4}, {Name: "web-prod-b", LaunchTemplate: "web", Size: 4}},
			Alarms:          []sandbox.AlarmSeed{{Name: "web-5xx-high"}},
		})
		require.NoError(t, err)
		_, err = ec2.NewFromConfig(sb.Config).RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(fam.AppWorker.Home()),
			InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(3), MaxCount: aws.Int32(3),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String("worker")}}}}})
		require.NoError(t, err)
	}, func(dir string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "fleets", "web.hcl"), []byte(secretFlowWeb), 0o644))
	})
	return w, oldWeb, newWeb
}

// secretFlowCommands are the commands that change the world, in the order
// TestSecretShowsNowhereInFlows runs them once each; "release:" entries
// publish a patch advisory in the sandbox instead.
func secretFlowCommands(oldWeb, newWeb, junitIn string) [][]string {
	return [][]string{
		{"drift", "--fleet", "worker"},
		{"drift", "--fleet", "web"},
		{"rollout", "worker"},
		{"rollout", "worker", "--apply", "--ignore-window", "--poll", "20ms"},
		{"rollout", "status", "worker"},
		{"rollout", "resume", "worker", "--ignore-window", "--poll", "20ms"},
		{"rollout", "abort", "worker", "--poll", "20ms"},
		{"canary", "web", "--ami", newWeb, "--baseline-ami", oldWeb},
		{"canary", "web", "--ami", newWeb, "--baseline-ami", oldWeb, "--apply", "--no-wait", "--poll", "20ms"},
		{"rollout", "web", "--apply", "--canary-no-wait", "--wait", "300ms", "--poll", "20ms"},
		{"rollout", "status", "web"},
		{"rollout", "resume", "web", "--canary-no-wait", "--wait", "300ms", "--poll", "20ms"},
		{"rollout", "abort", "web", "--poll", "20ms"},
		{"rollout", "resume", "web", "--canary-no-wait", "--poll", "20ms"},
		{"patch", "apply", "--apply"},
		{"patch", "associate", "--apply"},
		{"patch", "window", "apply", "--apply"},
		{"ci", "lease", "acquire", "--batch", "secrets-batch"},
		{"bake", "--lock-batch", "secrets-batch"},
		{"ci", "lease", "release", "--batch", "secrets-batch"},
		{"lock", "status"},
		{"lock", "release", "--force"},
		{"patch", "scan", "--poll", "20ms"},
		{"release:", `{"package":"kernel","severity":"Critical","classification":"Security","cves":["CVE-2026-4242"]}`},
		{"patch", "plan", "--poll", "20ms"},
		{"patch", "run", "--apply", "--engine", "automation", "--poll", "20ms"},
		{"release:", `{"package":"openssl","severity":"Critical","classification":"Security","cves":["CVE-2026-4343"]}`},
		{"patch", "run", "--apply", "--rollout", "--ignore-window", "--poll", "20ms"},
		{"ci", "junit", "--in", junitIn},
		{"sandbox", "admin", "GET", "/_sandbox/log/counts"},
	}
}

// secretFlowExits are the non-zero exits of secretFlowCommands: web's
// rollout pauses at each checkpoint (checkpoint_wait outlasts --wait),
// the abort rolls it back, a resume after that is refused, and worker's
// in-place rollout has nothing left to abort.
var secretFlowExits = map[string]int{
	"rollout abort worker --poll 20ms":                              1,
	"rollout web --apply --canary-no-wait --wait 300ms --poll 20ms": 5,
	"rollout resume web --canary-no-wait --wait 300ms --poll 20ms":  5,
	"rollout resume web --canary-no-wait --poll 20ms":               1,
}

// The commands that change things, run once each with the secret given as
// the sensitive variable (by -var where the command takes it, else the
// environment), alternating text and JSON at debug log level: the in-place
// rollout whose recipe delta carries the sensitive token to Run Command,
// canary with a metric-math expression, rollout status/resume/abort,
// bake under a CI batch lease, patch runs through Automation and with the
// rollout, patch windows. Nothing they print, write or leave in AWS may
// hold the secret.
func TestSecretShowsNowhereInFlows(t *testing.T) {
	t.Parallel()
	w, oldWeb, newWeb := secretFlowWorld(t)
	secret := newSecret(t)
	home, tmp := t.TempDir(), t.TempDir()
	var env []string
	for _, kv := range cleanEnv(t, w.es.Env) {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "TMPDIR="+tmp, "AMIBAKE_LOCK_HOLDER=secrets-flow")
	for _, kv := range fakePackerEnv(t, w) {
		if !strings.HasPrefix(kv, "AMIBAKE_VAR_") {
			env = append(env, kv)
		}
	}
	junitIn := filepath.Join(tmp, "patch-run.json")

	var failed []string
	for i, cmd := range secretFlowCommands(oldWeb, newWeb, junitIn) {
		if cmd[0] == "release:" {
			w.waitPackers(t)
			time.Sleep(time.Second) // a rebake's AMI name carries its second
			resp, err := http.Post(w.es.URL+"/_sandbox/patches/release", "application/json", strings.NewReader(cmd[1]))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			continue
		}
		output := []string{"text", "json"}[i%2]
		if cmd[0] == "patch" && cmd[1] == "run" {
			output = "json" // ci junit reads the last one
		}
		args := append([]string{"-o", output, "--log-level", "debug"}, cmd...)
		var r result
		if i%2 == 0 && cmd[0] != "sandbox" {
			r = runProc(t, env, w.project, append(args, "-var", "security_agent_token="+secret)...)
		}
		if i%2 == 1 || cmd[0] == "sandbox" || strings.Contains(r.Err, "flag provided but not defined: -var") {
			// A command without -var still reads AMIBAKE_VAR_NAME.
			r = runProc(t, append(env, "AMIBAKE_VAR_security_agent_token="+secret), w.project, args...)
		}
		if cmd[0] == "patch" && cmd[1] == "run" {
			require.NoError(t, os.WriteFile(junitIn, []byte(r.Out), 0o644))
		}
		if len(cmd) > 2 && strings.Join(cmd[:3], " ") == "rollout worker --apply" {
			// The delta ran security_agent, whose token is the secret.
			for id, recipes := range w.workerRecipes(t) {
				assert.Contains(t, recipes, "security_agent@3.1.0", "the recipe delta on %s", id)
			}
		}
		// Each did its work: a run that failed early would prove nothing
		// about the secret.
		want := secretFlowExits[strings.Join(cmd, " ")]
		t.Logf("amibake %s → exit %d", strings.Join(cmd, " "), r.Code)
		if !assert.Equal(t, want, r.Code, "amibake %s", strings.Join(cmd, " ")) {
			failed = append(failed, r.String())
		}
		assert.NotContains(t, r.Out, secret, "stdout of %s", r)
		assert.NotContains(t, r.Err, secret, "stderr of %s", r)
	}
	w.waitPackers(t)
	for _, f := range failed {
		t.Logf("unexpected exit: %s", f)
	}

	for _, dir := range []string{w.project, home, tmp} {
		assert.Empty(t, grepTree(t, dir, secret), "files under %s", dir)
	}
	assertSandboxClean(t, w.es.URL, secret)
}

// workerRecipes maps each running role=worker instance to its
// amibake:recipes tag.
func (w *world) workerRecipes(t testing.TB) map[string]string {
	t.Helper()
	out, err := w.ec2(channeltest.Regions[0]).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:role"), Values: []string{"worker"}},
		{Name: aws.String("instance-state-name"), Values: []string{"running"}}}})
	require.NoError(t, err)
	m := map[string]string{}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			m[aws.ToString(in.InstanceId)] = tagMap(in.Tags)[lineage.TagRecipes]
		}
	}
	require.Len(t, m, 3, "the seeded workers")
	return m
}

// commandPath is the command an argument list runs: the longest chain of
// (sub)command names from its first argument on.
func commandPath(app *cli.App, args []string) string {
	cmds, path := app.Commands, []string{}
	for _, a := range args {
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(a) {
				next = c
			}
		}
		if next == nil {
			break
		}
		path, cmds = append(path, next.Name), next.Subcommands
	}
	return strings.Join(path, " ")
}

// runnable lists every command of the tree that does something: the
// leaves, and parents with an action of their own (rollout FLEET).
func runnable(prefix string, cmds []*cli.Command) []string {
	var out []string
	for _, c := range cmds {
		if c.Hidden || c.Name == "help" {
			continue
		}
		name := strings.TrimSpace(prefix + " " + c.Name)
		if len(c.Subcommands) == 0 || c.Action != nil {
			out = append(out, name)
		}
		out = append(out, runnable(name, c.Subcommands)...)
	}
	return out
}

// Every command the CLI has is run by a secret test or exempted above: a
// command added later fails here until it is.
func TestSecretTestsCoverEveryCommand(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	app := root.NewApp(root.NewFactory(ios))
	covered := map[string]bool{}
	for _, cmd := range append(secretReadOnlyCommands("p", "r", "ami-1", "ami-2"), secretFlowCommands("ami-3", "ami-4", "j")...) {
		if p := commandPath(app, cmd); p != "" {
			covered[p] = true
		}
	}
	all := runnable("", app.Commands)
	require.Greater(t, len(all), 30, "the command tree walk found too little")
	for _, name := range all {
		if secretExempt[name] != "" {
			assert.False(t, covered[name], "%q is exempt yet run: drop the exemption", name)
			continue
		}
		assert.True(t, covered[name], "no secret test runs %q: add it to secretReadOnlyCommands or secretFlowCommands (or exempt it, saying why)", name)
	}
	for name := range secretExempt {
		assert.Contains(t, all, name, "the exemption names no command")
	}
}
