package rollout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

const deltaSecret = "tok-9f8e7d6c5b4a-never-logged"

// writeProject writes a project whose layer app-worker runs recipe
// app_worker at version (install.sh installs pkgs) and recipe agent,
// whose sensitive token comes from a sensitive variable.
func writeProject(t *testing.T, version string, pkgs ...string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"amibake.hcl": `project "acme-golden" {
  regions      = ["us-east-1"]
  param_prefix = "/amibake"
  provisioner  = "ssm"
}

variable "agent_token" {
  type      = string
  sensitive = true
  default   = ""
}
`,
		"layers/app-worker.hcl": `layer "app-worker" {
  source {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }
  recipes = [recipe.agent, recipe.app_worker]
  inputs = {
    agent = {
      token = var.agent_token
    }
  }
}
`,
		"recipes/agent/recipe.hcl": `recipe "agent" {
  version = "1.0.0"
  input "token" {
    type      = string
    sensitive = true
  }
  step "script" {
    name = "install"
    path = "install.sh"
    env  = { AGENT_TOKEN = input.token }
  }
}
`,
		"recipes/agent/install.sh": "#!/usr/bin/env bash\ndnf install -y acme-agent\n",
		"recipes/app_worker/recipe.hcl": `recipe "app_worker" {
  version = "` + version + `"
  input "queue" {
    type    = string
    default = "jobs"
  }
  step "script" {
    name = "install"
    path = "install.sh"
    env  = { QUEUE = input.queue }
  }
}
`,
		"recipes/app_worker/install.sh": "#!/usr/bin/env bash\nset -euo pipefail\ndnf install -y " + strings.Join(pkgs, " ") + "\necho worker ready\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	cfg, diags := config.Load(dir, config.LoadOptions{Env: []string{"AMIBAKE_VAR_agent_token=" + deltaSecret},
		Now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
	require.False(t, diags.HasErrors(), diags.Error())
	return cfg
}

// deltaWorld: 10 workers (and 3 web instances no worker rollout may
// touch) launched from app-worker's AMI of recipes from, while the stable
// channel holds an AMI of recipes to.
type deltaWorld struct {
	sb             *sandbox.Sandbox
	old, target    string
	workers, other []string
}

func setupDelta(t *testing.T, from, to string) *deltaWorld {
	t.Helper()
	sb := sandbox.Start(t, func(o *sandbox.Options) {
		o.Mode = sandbox.ClockManual
		o.Start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	})
	w := &deltaWorld{sb: sb}
	sb.Do(func(sw *sandbox.World) {
		now := sb.Clock().Now()
		image := func(recipes, fp string, pkgs map[string]string) string {
			id := sw.NewID("ami")
			bt := lineage.BuildTags{Project: paths.Project, Layer: "app-worker", Fingerprint: fp, BuildID: "b-" + fp,
				PatchLevel: "pb-123:abcdef", Recipes: lineage.ParseRecipes(recipes)}
			tags := sandbox.Tags(bt.Map())
			if recipes == "foreign" { // not baked by amibake
				tags = sandbox.Tags(map[string]string{"Name": "golden-by-hand"})
			}
			sw.EC2.Images[id] = &sandbox.Image{ID: id, Account: sandbox.DefaultAccount, Region: "us-east-1", Name: "acme-golden-app-worker-" + fp,
				State: "available", StateSince: now, CreationDate: now, AvailableAt: now, Architecture: "x86_64", RootDeviceName: "/dev/xvda",
				Tags: tags, Content: sandbox.Content{Packages: pkgs}}
			return id
		}
		agent := "3.3.1142.0-1.amzn2023" // a managed instance runs the SSM agent
		w.old = image(from, "fp1", map[string]string{"amazon-ssm-agent": agent, "jq": "1.7.1-1.amzn2023"})
		w.target = image(to, "fp2", map[string]string{"amazon-ssm-agent": agent, "jq": "1.7.1-1.amzn2023", "acme-agent": "1.0-1.amzn2023", "htop": "3.2.2-1.amzn2023"})
	})
	_, err := ssm.NewFromConfig(sb.Config).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(paths.Channel("app-worker", "stable")), Value: aws.String(w.target), Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)
	w.workers = launch(t, sb, w.old, "worker", 10)
	w.other = launch(t, sb, w.old, "web", 3)
	sb.AdvanceClock(time.Minute)
	return w
}

func (w *deltaWorld) rollout(cfg *config.Config, out *bytes.Buffer, sleep func(context.Context, time.Duration) error) *rollout.Rollout {
	iw := &inPlaceWorld{sb: w.sb}
	r := iw.rollout(sleep)
	r.Config, r.Out = cfg, out
	return r
}

func (w *deltaWorld) sleep(hook func(sw *sandbox.World, now time.Time)) func(context.Context, time.Duration) error {
	return (&inPlaceWorld{sb: w.sb}).virtualSleep(hook)
}

func instanceTag(t *testing.T, sb *sandbox.Sandbox, id, key string) string {
	t.Helper()
	out, err := ec2.NewFromConfig(sb.Config).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	for _, tag := range out.Reservations[0].Instances[0].Tags {
		if aws.ToString(tag.Key) == key {
			return aws.ToString(tag.Value)
		}
	}
	return ""
}

func commandsOf(sw *sandbox.World, doc string) []*sandbox.Command {
	var out []*sandbox.Command
	for _, c := range commands(sw) {
		if c.DocumentName == doc {
			out = append(out, c)
		}
	}
	return out
}

func TestInPlaceDeltaRollsARecipeChange(t *testing.T) {
	w := setupDelta(t, "agent@1.0.0,app_worker@1.0.0", "agent@1.0.0,app_worker@2.0.0")
	cfg := writeProject(t, "2.0.0", "jq", "htop")
	var out bytes.Buffer
	rep, err := w.rollout(cfg, &out, w.sleep(nil)).InPlace(context.Background())
	require.NoError(t, err, out.String())
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)

	ip := rep.InPlace
	require.NotNil(t, ip.Delta)
	require.Len(t, ip.Delta.Groups, 1)
	g := ip.Delta.Groups[0]
	assert.Equal(t, "agent@1.0.0,app_worker@1.0.0", g.From)
	assert.Equal(t, w.workers, g.Instances)
	assert.Equal(t, "app_worker@2.0.0", lineage.FormatRecipes(g.Recipes), "only the recipe whose version moved")
	assert.Equal(t, []string{"app_worker/install"}, g.Steps)
	require.Len(t, ip.Delta.Commands, 2)
	assert.Equal(t, "delta-canary", ip.Delta.Commands[0].Batch)
	assert.Equal(t, w.workers, ip.Delta.Succeeded)
	assert.Equal(t, w.workers, ip.Succeeded)

	w.sb.Do(func(sw *sandbox.World) {
		deltas := commandsOf(sw, rollout.DeltaDocument)
		patches := commandsOf(sw, rollout.PatchDocument)
		require.Len(t, deltas, 2)
		require.Len(t, patches, 2)
		canary, rest := deltas[0], deltas[1]
		if canary.RequestedAt.After(rest.RequestedAt) {
			canary, rest = rest, canary
		}
		assert.Equal(t, []string{w.workers[0]}, canary.InstanceIDs, "the canary batch: the first 10%% by id")
		assert.Equal(t, w.workers[1:], rest.InstanceIDs)
		assert.False(t, rest.RequestedAt.Before(canary.FinishedAt), "the rest only after the canary batch finished")
		for _, p := range patches {
			assert.False(t, p.RequestedAt.Before(rest.FinishedAt), "the patch after the delta")
		}
		script := strings.Join(canary.Parameters["commands"], "\n")
		assert.Equal(t, []string{"1800"}, canary.Parameters["executionTimeout"], "the bake's step timeout per step")
		assert.Contains(t, script, "# amibake-step: app_worker/install")
		assert.Contains(t, script, "export QUEUE='jobs'", "recipe inputs rendered as the bake renders them")
		assert.Contains(t, script, "dnf install -y jq htop")
		assert.NotContains(t, script, "acme-agent", "recipes already carried are not run again")
		for _, id := range w.workers {
			inst := sw.EC2.Instances[id]
			assert.Contains(t, inst.Content.Packages, "htop", id)
			var steps []string
			for _, s := range inst.Content.Steps {
				steps = append(steps, s.Name)
			}
			// The delta once, then the patch (twice on the canary: the
			// fleet batch by tag includes it).
			require.NotEmpty(t, steps, id)
			assert.Equal(t, "app_worker/install", steps[0], id)
			assert.NotContains(t, steps[1:], "app_worker/install", id)
			assert.Contains(t, steps[1:], "patch-baseline/install", id)
		}
		for _, id := range w.other {
			assert.NotContains(t, sw.EC2.Instances[id].Content.Packages, "htop", "an instance outside the fleet is not touched")
		}
	})
	for _, id := range w.workers {
		assert.Equal(t, "agent@1.0.0,app_worker@2.0.0", instanceTag(t, w.sb, id, lineage.TagRecipes), id)
		assert.Equal(t, "fp2", instanceTag(t, w.sb, id, lineage.TagFingerprint), id)
		assert.Equal(t, "pb-123:abcdef", instanceTag(t, w.sb, id, lineage.TagPatchLevel), id)
	}
	for _, id := range w.other {
		assert.Empty(t, instanceTag(t, w.sb, id, lineage.TagRecipes), id)
	}

	// A second rollout finds every instance on the target: no command.
	sent := w.sb.CountFirstAttempts("ssm", "SendCommand")
	out.Reset()
	rep, err = w.rollout(cfg, &out, w.sleep(nil)).InPlace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeNothing, rep.Outcome, out.String())
	assert.Empty(t, rep.InPlace.Delta.Groups)
	assert.Equal(t, sent, w.sb.CountFirstAttempts("ssm", "SendCommand"), "nothing sent the second time")

	st, err := w.rollout(cfg, &out, nil).Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, st.Outcome)
}

func TestInPlaceDeltaKeepsSecretsOut(t *testing.T) {
	// The agent recipe is new in the target: its sensitive token travels
	// as a SecureString the instance reads, never in the command.
	w := setupDelta(t, "app_worker@2.0.0", "agent@1.0.0,app_worker@2.0.0")
	cfg := writeProject(t, "2.0.0", "jq", "htop")
	var out bytes.Buffer
	rep, err := w.rollout(cfg, &out, w.sleep(nil)).InPlace(context.Background())
	require.NoError(t, err, out.String())
	require.Len(t, rep.InPlace.Delta.Groups, 1)
	assert.Equal(t, "agent@1.0.0", lineage.FormatRecipes(rep.InPlace.Delta.Groups[0].Recipes))

	js, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.NotContains(t, string(js), deltaSecret)
	assert.NotContains(t, out.String(), deltaSecret)
	assert.NotContains(t, fmt.Sprintf("%+v %#v", *rep.InPlace.Delta, *rep.InPlace.Delta), deltaSecret, "not even a debug print")
	var param string
	w.sb.Do(func(sw *sandbox.World) {
		for _, c := range commandsOf(sw, rollout.DeltaDocument) {
			script := strings.Join(c.Parameters["commands"], "\n")
			assert.NotContains(t, script, deltaSecret)
			assert.Contains(t, script, "AGENT_TOKEN=\"$(aws ssm get-parameter --name '/amibake/acme-golden/builds/rollout-worker-")
			i := strings.Index(script, "--name '")
			param = strings.SplitN(script[i+len("--name '"):], "'", 2)[0]
		}
		for _, id := range w.workers {
			steps := sw.EC2.Instances[id].Content.Steps
			require.NotEmpty(t, steps)
			assert.Equal(t, "agent/install", steps[0].Name, id)
		}
	})
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "PutParameter")-1, "one SecureString (besides the channel)")
	_, err = ssm.NewFromConfig(w.sb.Config).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(param)})
	var nf *ssmtypes.ParameterNotFound
	assert.ErrorAs(t, err, &nf, "the SecureString %s is deleted when the rollout ends", param)
}

func TestInPlaceDeltaStopsAtErrorThreshold(t *testing.T) {
	w := setupDelta(t, "agent@1.0.0,app_worker@1.0.0", "agent@1.0.0,app_worker@2.0.0")
	cfg := writeProject(t, "2.0.0", "jq", "htop")
	// Three instances after the canary stop while their delta runs;
	// max_errors is 2: the third error ends it.
	bad := map[string]bool{w.workers[2]: true, w.workers[4]: true, w.workers[6]: true}
	stopped := map[string]bool{}
	hook := func(sw *sandbox.World, now time.Time) {
		for _, c := range commandsOf(sw, rollout.DeltaDocument) {
			for _, inv := range c.Invocations {
				if bad[inv.InstanceID] && !stopped[inv.InstanceID] && inv.Status == "InProgress" {
					inst := sw.EC2.Instances[inv.InstanceID]
					inst.State, inst.StateSince = sandbox.StateStopped, now
					stopped[inv.InstanceID] = true
				}
			}
		}
	}
	var out bytes.Buffer
	rep, err := w.rollout(cfg, &out, w.sleep(hook)).InPlace(context.Background())
	var failed *rollout.FailedError
	require.ErrorAs(t, err, &failed, "%v", err)
	assert.Contains(t, err.Error(), "recipe delta")
	assert.Equal(t, rollout.OutcomeStopped, rep.Outcome)
	d := rep.InPlace.Delta
	assert.True(t, d.Stopped)
	assert.Equal(t, []string{w.workers[2], w.workers[4], w.workers[6]}, d.Failed)
	// 10% of 9 is one at a time: the instances after the third error never ran.
	assert.Equal(t, []string{w.workers[7], w.workers[8], w.workers[9]}, d.NotRun)
	assert.Equal(t, []string{w.workers[0], w.workers[1], w.workers[3], w.workers[5]}, d.Succeeded)
	assert.Equal(t, d.Failed, rep.InPlace.Failed)
	assert.Equal(t, 0, w.sb.CountFirstAttempts("ssm", "SendCommand")-2, "two delta commands and no patch")
	for _, id := range d.Succeeded {
		assert.Equal(t, "agent@1.0.0,app_worker@2.0.0", instanceTag(t, w.sb, id, lineage.TagRecipes), id)
	}
	for _, id := range append(d.Failed, d.NotRun...) {
		assert.Empty(t, instanceTag(t, w.sb, id, lineage.TagRecipes), id)
	}
	w.sb.Do(func(sw *sandbox.World) {
		assert.Empty(t, commandsOf(sw, rollout.PatchDocument))
		assert.NotContains(t, sw.EC2.Instances[w.workers[8]].Content.Packages, "htop")
	})

	// Status shows who is behind in recipes (of the running instances:
	// the failed three were stopped).
	out.Reset()
	st, err := w.rollout(cfg, &out, nil).Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeStopped, st.Outcome, "the last command, the delta's, failed")
	assert.Equal(t, "delta", st.InPlace.Last.Batch)
	assert.Contains(t, st.Reason, "3 of 7 instances behind the recipes agent@1.0.0,app_worker@2.0.0")
	require.Len(t, st.InPlace.Delta.Groups, 1)
	assert.Equal(t, d.NotRun, st.InPlace.Delta.Groups[0].Instances)
	assert.Contains(t, out.String(), "recipes behind: 3 instances on agent@1.0.0,app_worker@1.0.0 need app_worker@2.0.0")

	// Resume runs the delta on the running instances behind, canary
	// first, then patches every running instance behind.
	out.Reset()
	res, err := w.rollout(cfg, &out, w.sleep(nil)).Resume(context.Background())
	require.NoError(t, err, out.String())
	assert.Equal(t, rollout.OutcomeSucceeded, res.Outcome)
	assert.Equal(t, []string{w.workers[7]}, res.InPlace.Delta.Canary)
	assert.Equal(t, d.NotRun, res.InPlace.Delta.Succeeded)
	assert.ElementsMatch(t, append(d.Succeeded, d.NotRun...), res.InPlace.Succeeded, "every running worker patched")
	for _, id := range d.NotRun {
		assert.Equal(t, "agent@1.0.0,app_worker@2.0.0", instanceTag(t, w.sb, id, lineage.TagRecipes), id)
		assert.Equal(t, "pb-123:abcdef", instanceTag(t, w.sb, id, lineage.TagPatchLevel), id)
	}
	w.sb.Do(func(sw *sandbox.World) {
		for _, id := range d.Succeeded {
			n := 0
			for _, s := range sw.EC2.Instances[id].Content.Steps {
				if s.Name == "app_worker/install" {
					n++
				}
			}
			assert.Equal(t, 1, n, "%s: resume does not run the delta again where it ran", id)
		}
	})
}

func TestInPlaceDeltaCanaryIsOfTheInstancesBehind(t *testing.T) {
	w := setupDelta(t, "agent@1.0.0,app_worker@1.0.0", "agent@1.0.0,app_worker@2.0.0")
	// The fleet's canary (workers[0]) is already on the target's recipes.
	_, err := ec2.NewFromConfig(w.sb.Config).CreateTags(context.Background(), &ec2.CreateTagsInput{Resources: w.workers[:5],
		Tags: []ec2types.Tag{{Key: aws.String(lineage.TagRecipes), Value: aws.String("agent@1.0.0,app_worker@2.0.0")}}})
	require.NoError(t, err)
	cfg := writeProject(t, "2.0.0", "jq", "htop")
	var out bytes.Buffer
	rep, err := w.rollout(cfg, &out, w.sleep(nil)).InPlace(context.Background())
	require.NoError(t, err, out.String())
	d := rep.InPlace.Delta
	assert.Equal(t, []string{w.workers[5]}, d.Canary)
	require.Len(t, d.Commands, 2)
	assert.Equal(t, "delta-canary", d.Commands[0].Batch)
	require.Len(t, d.Commands[0].Invocations, 1)
	assert.Equal(t, w.workers[5], d.Commands[0].Invocations[0].InstanceID)
	assert.Equal(t, w.workers[5:], d.Succeeded)
}

func TestInPlaceDeltaRefusals(t *testing.T) {
	cases := []struct {
		name, from, to, hclVersion string
		want                       []string
	}{
		{"removed recipe", "agent@1.0.0,app_worker@1.0.0,legacy@0.9.0", "agent@1.0.0,app_worker@2.0.0", "2.0.0",
			[]string{"no longer has recipe legacy@0.9.0 (on 10 instances)", "replace fleet"}},
		{"HCL at another version", "agent@1.0.0,app_worker@1.0.0", "agent@1.0.0,app_worker@2.0.0", "2.1.0",
			[]string{"recipe app_worker at version 2.0.0, the project config at 2.1.0", "does not describe that AMI"}},
		{"launched from an AMI amibake did not bake", "foreign", "agent@1.0.0,app_worker@2.0.0", "2.0.0",
			[]string{"what 10 instances carry is unknown", "(launch AMI ami-", "was not baked by amibake)", "tag each with amibake:recipes="}},
		{"recipe not in the HCL", "agent@1.0.0", "agent@1.0.0,metrics@1.0.0", "2.0.0",
			[]string{"recipe metrics@1.0.0, which the project config does not declare"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := setupDelta(t, tc.from, tc.to)
			cfg := writeProject(t, tc.hclVersion, "jq", "htop")
			var out bytes.Buffer
			_, err := w.rollout(cfg, &out, w.sleep(nil)).InPlace(context.Background())
			require.Error(t, err)
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
			assert.Zero(t, w.sb.CountFirstAttempts("ssm", "SendCommand"), "refused before anything is sent")
			assert.Zero(t, w.sb.CountFirstAttempts("ec2", "CreateTags"))
		})
	}
}

func TestInPlaceDeltaDryRunGroupsByStartingPoint(t *testing.T) {
	w := setupDelta(t, "agent@1.0.0,app_worker@1.0.0", "agent@1.0.0,app_worker@2.0.0")
	// Three workers already ran an earlier delta to 1.5.0.
	_, err := ec2.NewFromConfig(w.sb.Config).CreateTags(context.Background(), &ec2.CreateTagsInput{Resources: w.workers[7:],
		Tags: []ec2types.Tag{{Key: aws.String(lineage.TagRecipes), Value: aws.String("agent@1.0.0,app_worker@1.5.0")}}})
	require.NoError(t, err)
	cfg := writeProject(t, "2.0.0", "jq", "htop")
	var out bytes.Buffer
	r := w.rollout(cfg, &out, w.sleep(nil))
	r.Apply = false
	rep, err := r.InPlace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomePlanned, rep.Outcome)
	groups := rep.InPlace.Delta.Groups
	require.Len(t, groups, 2)
	assert.Equal(t, w.workers[:7], groups[0].Instances)
	assert.Equal(t, "agent@1.0.0,app_worker@1.5.0", groups[1].From)
	assert.Equal(t, w.workers[7:], groups[1].Instances)
	text := out.String()
	assert.Contains(t, text, "group 1: 7 instances on agent@1.0.0,app_worker@1.0.0 need app_worker@2.0.0 (steps app_worker/install)")
	assert.Contains(t, text, "group 2: 3 instances on agent@1.0.0,app_worker@1.5.0 need app_worker@2.0.0")
	calls := strings.Join(rep.Calls, "\n")
	assert.Contains(t, calls, "ssm:SendCommand AWS-RunShellScript InstanceIds="+w.workers[0]+" MaxConcurrency=10% MaxErrors=0 (delta-canary")
	assert.Contains(t, calls, "ssm:SendCommand AWS-RunShellScript InstanceIds="+strings.Join(w.workers[7:], ",")+" MaxConcurrency=10% MaxErrors=2 (delta")
	assert.Contains(t, calls, "ssm:SendCommand AWS-RunPatchBaseline")
	assert.Less(t, strings.Index(calls, "AWS-RunShellScript"), strings.Index(calls, "AWS-RunPatchBaseline"), "delta before patch")
	assert.Zero(t, w.sb.CountFirstAttempts("ssm", "SendCommand"))
	assert.Zero(t, w.sb.CountFirstAttempts("ssm", "PutParameter")-1, "only the channel was ever written")
}

func TestInPlaceDeltaAbort(t *testing.T) {
	w := setupDelta(t, "agent@1.0.0,app_worker@1.0.0", "agent@1.0.0,app_worker@2.0.0")
	cfg := writeProject(t, "2.0.0", "jq", "htop")
	running := func() (n int) {
		w.sb.Do(func(sw *sandbox.World) {
			for _, c := range commandsOf(sw, rollout.DeltaDocument) {
				if c.Comment != "" && strings.Contains(c.Comment, " delta → ") {
					for _, inv := range c.Invocations {
						if inv.Status == "Success" {
							n++
						}
					}
					if c.Status != "InProgress" && c.Status != "Pending" {
						n = -1
					}
				}
			}
		})
		return n
	}
	var abortRep *rollout.Report
	var abortErr error
	next := w.sleep(nil)
	var out bytes.Buffer
	r := w.rollout(cfg, &out, func(ctx context.Context, d time.Duration) error {
		// While the delta's rest batch runs, after 3 of its instances, an operator aborts.
		if abortRep == nil && running() >= 3 {
			abortRep, abortErr = w.rollout(cfg, &bytes.Buffer{}, w.sleep(nil)).Abort(ctx)
		}
		return next(ctx, d)
	})
	rep, err := r.InPlace(context.Background())
	var failed *rollout.FailedError
	require.ErrorAs(t, err, &failed, "the aborted delta stops the rollout: %v", err)
	require.NoError(t, abortErr)
	require.NotNil(t, abortRep)
	assert.Equal(t, rollout.OutcomeAborted, abortRep.Outcome)
	assert.Contains(t, abortRep.Reason, "a recipe cannot be undone in place")
	ad := abortRep.InPlace.Delta
	require.NotNil(t, ad)
	assert.Len(t, ad.Succeeded, 3)
	assert.Equal(t, ad.Succeeded, rep.InPlace.Delta.Succeeded[1:], "the canary, then the three before the abort")
	for _, id := range rep.InPlace.Delta.Succeeded {
		assert.Equal(t, "agent@1.0.0,app_worker@2.0.0", instanceTag(t, w.sb, id, lineage.TagRecipes), id)
	}
	w.sb.Do(func(sw *sandbox.World) {
		assert.Empty(t, commandsOf(sw, rollout.PatchDocument), "nothing patched after an abort")
	})
	st, err := w.rollout(cfg, &out, nil).Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, st.Outcome)
}

func TestInPlaceDeltaFailureWithinMaxErrorsStillPatches(t *testing.T) {
	w := setupDelta(t, "agent@1.0.0,app_worker@1.0.0", "agent@1.0.0,app_worker@2.0.0")
	cfg := writeProject(t, "2.0.0", "jq", "htop")
	// One instance stops while its delta runs and is started again once
	// its invocation failed: one error of the two allowed.
	bad := w.workers[3]
	state := "up"
	hook := func(sw *sandbox.World, now time.Time) {
		inst := sw.EC2.Instances[bad]
		for _, c := range commandsOf(sw, rollout.DeltaDocument) {
			for _, inv := range c.Invocations {
				switch {
				case inv.InstanceID == bad && inv.Status == "InProgress" && state == "up":
					inst.State, inst.StateSince, state = sandbox.StateStopped, now, "stopped"
				case inv.InstanceID == bad && inv.Status == "Failed" && state == "stopped":
					inst.State, inst.StateSince, state = sandbox.StateRunning, now, "restarted"
				}
			}
		}
	}
	var out bytes.Buffer
	rep, err := w.rollout(cfg, &out, w.sleep(hook)).InPlace(context.Background())
	var failed *rollout.FailedError
	require.ErrorAs(t, err, &failed, "%v\n%s", err, out.String())
	assert.Equal(t, "restarted", state)
	d := rep.InPlace.Delta
	assert.False(t, d.Stopped, "one error is within max_errors 2")
	assert.Equal(t, []string{bad}, d.Failed)
	assert.Equal(t, []string{bad}, rep.InPlace.Failed, "its patch succeeded, its recipes did not: failed")
	assert.Len(t, rep.InPlace.Succeeded, 9)
	assert.Equal(t, "pb-123:abcdef", instanceTag(t, w.sb, bad, lineage.TagPatchLevel))
	assert.Empty(t, instanceTag(t, w.sb, bad, lineage.TagRecipes), "a failed delta is not recorded")
	assert.Equal(t, rollout.OutcomeStopped, rep.Outcome)
}
