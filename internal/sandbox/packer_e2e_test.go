package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/testutil"
)

// packerSource is an amazon-ebs source pointed at the sandbox.
const ec2PackerTemplate = `
packer {
  required_plugins {
    amazon = {
      version = "= 1.3.6"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

source "amazon-ebs" "sandbox" {
  access_key                 = %[2]q
  secret_key                 = %[3]q
  region                     = "us-east-1"
  custom_endpoint_ec2        = %[1]q
  skip_credential_validation = true
  skip_metadata_api_check    = true
  skip_region_validation     = true
  communicator               = "none"
  instance_type              = "t3.small"
  ami_name                   = %[4]q
  ami_description            = "amibake e2e image"

  source_ami_filter {
    owners      = ["amazon"]
    most_recent = true
    filters = {
      name         = %[5]q
      architecture = "x86_64"
    }
  }

  aws_polling {
    delay_seconds = 1
    max_attempts  = 60
  }
%[6]s
}

build {
  sources = ["source.amazon-ebs.sandbox"]
}
`

// ec2PackerRun is the outcome of one packer build.
type ec2PackerRun struct {
	exit   int
	stdout string
	log    string
}

// ec2RunPacker writes the template and runs `packer build -machine-readable`
// against the sandbox with a clean environment: nothing from the
// machine's AWS configuration leaks in.
func ec2RunPacker(t *testing.T, sb *Sandbox, amiName, nameFilter, extra string) ec2PackerRun {
	t.Helper()
	bin, plugins := testutil.Packer(t)
	dir := t.TempDir()
	tmpl := fmt.Sprintf(ec2PackerTemplate, sb.URL(), AccessKeyID, SecretAccessKey, amiName, nameFilter, extra)
	path := filepath.Join(dir, "build.pkr.hcl")
	require.NoError(t, os.WriteFile(path, []byte(tmpl), 0o600))
	logPath := filepath.Join(dir, "packer.log")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "build", "-machine-readable", "-color=false", path)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TMPDIR=" + t.TempDir(),
		"CHECKPOINT_DISABLE=1",
		"PACKER_PLUGIN_PATH=" + plugins,
		"PACKER_LOG=1",
		"PACKER_LOG_PATH=" + logPath,
		"PACKER_NO_COLOR=1",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := ec2PackerRun{stdout: stdout.String() + stderr.String()}
	if b, rerr := os.ReadFile(logPath); rerr == nil {
		run.log = string(b)
	}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "packer did not run: %v\n%s", err, run.stdout)
		run.exit = ee.ExitCode()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("packer output:\n%s", run.stdout)
			t.Logf("packer log (tail):\n%s", ec2Tail(run.log, 150))
		}
	})
	return run
}

func ec2Tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ec2MachineLines returns the machine-readable lines of one type
// ("timestamp,target,type,data...").
func ec2MachineLines(out, typ string) [][]string {
	var res [][]string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ",")
		if len(parts) >= 3 && parts[2] == typ {
			res = append(res, parts)
		}
	}
	return res
}

// ec2AssertNothingLeaked checks packer cleaned up after itself: no instance
// that is not terminated, and no key pair or security group it created.
func ec2AssertNothingLeaked(t *testing.T, sb *Sandbox) {
	t.Helper()
	sb.Do(func(w *World) {
		for _, inst := range w.EC2.Instances {
			assert.Equal(t, StateTerminated, inst.State, "instance %s left %s", inst.ID, inst.State)
		}
		for _, kp := range w.EC2.KeyPairs {
			t.Errorf("key pair %s (%s) left behind", kp.ID, kp.Name)
		}
		for _, sg := range w.EC2.SecurityGroups {
			if sg.Name != "default" {
				t.Errorf("security group %s (%s) left behind", sg.ID, sg.Name)
			}
		}
		for _, v := range w.EC2.Volumes {
			t.Errorf("volume %s (%s) left behind", v.ID, v.State)
		}
	})
}

func TestPackerAmazonEBSBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("real packer build")
	}
	sb := Start(t)
	var deprecateAt time.Time
	sb.Do(func(w *World) { deprecateAt = sb.Clock().Now().Add(90 * 24 * time.Hour).Truncate(time.Minute) })
	extra := fmt.Sprintf(`
  tags = {
    Name              = "amibake-e2e"
    "amibake:project" = "e2e"
    "amibake:layer"   = "linux"
  }
  snapshot_tags = {
    "amibake:project" = "e2e"
    "amibake:kind"    = "snapshot"
  }
  run_tags = {
    "amibake:role" = "build"
  }
  ami_regions  = ["eu-west-1"]
  ami_users    = [%[2]q]
  encrypt_boot = true
  kms_key_id   = "arn:aws:kms:us-east-1:%[1]s:key/11111111-2222-3333-4444-555555555555"
  region_kms_key_ids = {
    "eu-west-1" = "arn:aws:kms:eu-west-1:%[1]s:key/66666666-7777-8888-9999-000000000000"
  }
  imds_support = "v2.0"
  deprecate_at = %[3]q
`, DefaultAccount, ec2OtherAccount, deprecateAt.Format(time.RFC3339))

	started := time.Now()
	run := ec2RunPacker(t, sb, "amibake-e2e-linux", "al2023-ami-2023.*-kernel-6.1-x86_64", extra)
	elapsed := time.Since(started)
	counts := sb.CallCounts()
	var calls []string
	for k, n := range counts {
		calls = append(calls, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(calls)
	t.Logf("packer build took %s; calls: %s", elapsed.Round(time.Millisecond), strings.Join(calls, " "))
	for _, e := range sb.Log() {
		if e.Error != "" {
			t.Logf("call %s %s → %d %s", e.Region, e.Action, e.Status, e.Error)
		}
	}
	require.Equal(t, 0, run.exit, "packer build failed")

	// The artifact line names one AMI per region.
	var artifact string
	for _, l := range ec2MachineLines(run.stdout, "artifact") {
		if len(l) >= 6 && l[3] == "0" && l[4] == "id" {
			// Machine-readable output escapes commas inside a field.
			artifact = strings.ReplaceAll(strings.Join(l[5:], ","), "%!(PACKER_COMMA)", ",")
		}
	}
	require.NotEmpty(t, artifact, "no artifact id line in:\n%s", run.stdout)
	m := regexp.MustCompile(`^(?:(us-east-1|eu-west-1):(ami-[0-9a-f]+),?)+$`).FindStringSubmatch(artifact)
	require.NotNil(t, m, "artifact %q\n%s", artifact, run.stdout)
	amis := map[string]string{}
	for _, part := range strings.Split(artifact, ",") {
		region, id, _ := strings.Cut(part, ":")
		amis[region] = id
	}
	require.Len(t, amis, 2, "artifact %q", artifact)

	wantTags := map[string]string{"Name": "amibake-e2e", "amibake:project": "e2e", "amibake:layer": "linux"}
	for region, id := range amis {
		c := ec2ClientFor(sb, DefaultAccount, region)
		out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		require.NoError(t, err, region)
		require.Len(t, out.Images, 1)
		img := out.Images[0]
		assert.Equal(t, types.ImageStateAvailable, img.State, region)
		assert.Equal(t, "amibake-e2e-linux", aws.ToString(img.Name), region)
		assert.Equal(t, "v2.0", string(img.ImdsSupport), region)
		assert.Equal(t, deprecateAt.UTC().Format(ec2TimeFormat), aws.ToString(img.DeprecationTime), region)
		got := map[string]string{}
		for _, tg := range img.Tags {
			got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		for k, v := range wantTags {
			assert.Equal(t, v, got[k], "%s tag %s", region, k)
		}
		require.NotEmpty(t, img.BlockDeviceMappings)
		root := img.BlockDeviceMappings[0].Ebs
		assert.True(t, aws.ToBool(root.Encrypted), "%s root snapshot encrypted", region)
		snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(root.SnapshotId)}})
		require.NoError(t, err, region)
		require.Len(t, snaps.Snapshots, 1)
		assert.Equal(t, types.SnapshotStateCompleted, snaps.Snapshots[0].State)
		stags := map[string]string{}
		for _, tg := range snaps.Snapshots[0].Tags {
			stags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		assert.Equal(t, "snapshot", stags["amibake:kind"], "%s snapshot tags %v", region, stags)

		// Shared with ami_users: the other account sees and may launch it.
		shared, err := ec2ClientFor(sb, ec2OtherAccount, region).DescribeImages(ctx, &ec2.DescribeImagesInput{ExecutableUsers: []string{"self"}})
		require.NoError(t, err)
		require.Len(t, shared.Images, 1, region)
		assert.Equal(t, id, aws.ToString(shared.Images[0].ImageId))
	}

	// The intermediary unencrypted image is gone, its name free again.
	c := ec2Client(sb)
	mine, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	require.NoError(t, err)
	require.Len(t, mine.Images, 1, "only the final encrypted image remains in us-east-1")

	// The build instance carried the run tags and was terminated.
	insts, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:amibake:role"), Values: []string{"build"}},
	}})
	require.NoError(t, err)
	require.Len(t, insts.Reservations, 1)
	assert.Equal(t, types.InstanceStateNameTerminated, insts.Reservations[0].Instances[0].State.Name)
	ec2AssertNothingLeaked(t, sb)
	assert.Less(t, elapsed, 60*time.Second, "the instant clock should make a build fast")
}

func TestPackerBuildFromMissingSourceFailsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("real packer build")
	}
	sb := Start(t)
	run := ec2RunPacker(t, sb, "amibake-e2e-nosource", "no-such-image-*", "")
	assert.NotEqual(t, 0, run.exit)
	assert.Contains(t, run.stdout, "No AMI was found matching filters")
	assert.Zero(t, sb.CountCalls("ec2", "RunInstances"))
	ec2AssertNothingLeaked(t, sb)
}
