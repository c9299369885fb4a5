package rollout_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

// The example project's worker fleet, launched from an app-worker AMI of
// worker_runtime@1.0.0 on a base without security_agent, rolls in place
// to one of worker_runtime@1.1.0 on a base with it: the delta is rendered
// from the project's HCL and the agent's sensitive token never shows.
func TestInPlaceRecipeDeltaThroughCLI(t *testing.T) {
	const token = "edr-token-5e4d3c2b1a-secret"
	t.Setenv("AMIBAKE_VAR_security_agent_token", token)
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	base2 := channeltest.SeedBuild(t, sb, channeltest.Project, "base", "b3", &fam.Foundation, "")
	worker2 := channeltest.SeedBuild(t, sb, channeltest.Project, "app-worker", "b3", &base2, "")
	sb.Do(func(sw *sandbox.World) {
		old := sw.EC2.Images[fam.AppWorker.Home()]
		old.Tags[lineage.TagRecipes] = "python_runtime@1.0.0,worker_runtime@1.0.0"
		// The SSM agent keeps them managed once the delta installs packages.
		old.Content.Packages = map[string]string{"amazon-ssm-agent": "3.3.1142.0-1.amzn2023"}
		sw.EC2.Images[base2.Home()].Tags[lineage.TagRecipes] = "security_agent@3.1.0"
		sw.EC2.Images[worker2.Home()].Tags[lineage.TagRecipes] = "python_runtime@1.0.0,worker_runtime@1.1.0"
	})
	ctx := context.Background()
	_, err := ssm.NewFromConfig(sb.Config).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paths.Channel("app-worker", "stable")),
		Value: aws.String(worker2.Home()), Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)
	out, err := ec2.NewFromConfig(sb.Config).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(fam.AppWorker.Home()),
		InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(4), MaxCount: aws.Int32(4),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String("worker")}}}}})
	require.NoError(t, err)
	var workers []string
	for _, i := range out.Instances {
		workers = append(workers, aws.ToString(i.InstanceId))
	}

	code, text, errOut := clitest.Run(t, sb, dir, "rollout", "worker")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, text, "need security_agent@3.1.0,worker_runtime@1.1.0 (steps security_agent/repo, security_agent/install, worker_runtime/install, worker_runtime/unit, worker_runtime/enable)")
	assert.Contains(t, text, "ssm:PutParameter Type=SecureString Name=/amibake/acme-golden/builds/rollout-worker-")
	assert.NotContains(t, text+errOut, token)

	code, js, errOut := clitest.Run(t, sb, dir, "--output", "json", "rollout", "worker", "--apply", "--ignore-window", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", js, errOut)
	assert.NotContains(t, js+errOut, token)
	var rep rollout.Report
	require.NoError(t, json.Unmarshal([]byte(js), &rep))
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.ElementsMatch(t, workers, rep.InPlace.Delta.Succeeded)
	sb.Do(func(sw *sandbox.World) {
		for _, c := range commands(sw) {
			assert.NotContains(t, strings.Join(c.Parameters["commands"], "\n"), token)
		}
		for _, id := range workers {
			inst := sw.EC2.Instances[id]
			assert.Equal(t, "security_agent@3.1.0,python_runtime@1.0.0,worker_runtime@1.1.0", inst.Tags[lineage.TagRecipes], id)
			assert.Equal(t, worker2.Fingerprint, inst.Tags[lineage.TagFingerprint], id)
			require.NotEmpty(t, inst.Content.Steps, id)
			assert.Equal(t, "security_agent/repo", inst.Content.Steps[0].Name, id)
		}
		for name := range sw.SSM.Scopes {
			for p := range sw.SSM.Scopes[name].Parameters {
				assert.NotContains(t, p, "/builds/", "the rollout's secrets are deleted")
			}
		}
	})
}

func commands(sw *sandbox.World) []*sandbox.Command {
	var out []*sandbox.Command
	for _, sc := range sw.SSM.Scopes {
		for _, c := range sc.Commands {
			out = append(out, c)
		}
	}
	return out
}
