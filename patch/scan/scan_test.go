package scan_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/patch/scan"
)

// publicAMI is a seeded Amazon Linux image of the region.
func publicAMI(t *testing.T, sb *sandbox.Sandbox) string {
	t.Helper()
	var id string
	sb.Do(func(w *sandbox.World) {
		for _, img := range w.EC2.Images {
			if img.Region == "us-east-1" && img.OwnerAlias == "amazon" && img.State == "available" && len(img.Content.Packages) > 0 &&
				img.Content.Packages["amazon-ssm-agent"] != "" && (id == "" || img.ID < id) {
				id = img.ID
			}
		}
	})
	require.NotEmpty(t, id)
	return id
}

func scanInstances(t *testing.T, c awsapi.EC2) []ec2types.Instance {
	t.Helper()
	out, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + lineage.TagRole), Values: []string{lineage.RoleScan}}}})
	require.NoError(t, err)
	var all []ec2types.Instance
	for _, r := range out.Reservations {
		all = append(all, r.Instances...)
	}
	return all
}

func TestScanImageReportsAndTerminates(t *testing.T) {
	sb := sandbox.Start(t)
	clients := awsapi.NewClients(sb.Config)
	ami := publicAMI(t, sb)
	_, err := sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical", CVEs: []string{"CVE-2026-0001"}})
	require.NoError(t, err)

	s := &scan.Scanner{SSM: clients.SSM(""), EC2: clients.EC2(""), Project: "p", Poll: time.Millisecond, Now: sb.Clock().Now}
	rep, err := s.ScanImage(context.Background(), scan.Image{Layer: "linux", AMI: ami, PatchGroup: "golden-linux"})
	require.NoError(t, err)
	assert.Equal(t, scan.KindImage, rep.Kind)
	assert.Equal(t, 1, rep.Scanned)
	var pkgs []string
	for _, f := range rep.Missing {
		pkgs = append(pkgs, f.Package)
	}
	assert.Contains(t, pkgs, "openssl")
	assert.Contains(t, pkgs, "openssl-libs")
	assert.Equal(t, 1, rep.Targets)
	assert.NotEmpty(t, rep.Packages["bash"])

	insts := scanInstances(t, clients.EC2(""))
	require.Len(t, insts, 1)
	tags := map[string]string{}
	for _, tg := range insts[0].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	assert.Equal(t, map[string]string{"Name": "amibake-scan-linux", lineage.TagProject: "p", lineage.TagRole: lineage.RoleScan,
		lineage.TagLayer: "linux", scan.PatchGroupTag: "golden-linux"}, tags)
	assert.Equal(t, ec2types.HttpTokensStateRequired, insts[0].MetadataOptions.HttpTokens)
	assert.Contains(t, []ec2types.InstanceStateName{"shutting-down", "terminated"}, insts[0].State.Name)
}

// A scan interrupted while its command runs still terminates its instance.
func TestScanImageTerminatesOnCancel(t *testing.T) {
	timing := sandbox.ZeroTiming()
	timing.PatchScan = time.Hour // never ends: the clock is manual
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode, o.Timing = sandbox.ClockManual, &timing })
	clients := awsapi.NewClients(sb.Config)
	ami := publicAMI(t, sb)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for sb.CountCalls("ssm", "ListCommands") < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	s := &scan.Scanner{SSM: clients.SSM(""), EC2: clients.EC2(""), Project: "p", Poll: time.Millisecond}
	_, err := s.ScanImage(ctx, scan.Image{Layer: "linux", AMI: ami})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), err)
	assert.Equal(t, 1, sb.CountCalls("ssm", "SendCommand"), "cancelled mid-scan, after the command was sent")

	insts := scanInstances(t, clients.EC2(""))
	require.Len(t, insts, 1)
	assert.Contains(t, []ec2types.InstanceStateName{"shutting-down", "terminated"}, insts[0].State.Name)
}

func TestScanImageTerminatesWhenTheCommandFails(t *testing.T) {
	sb := sandbox.Start(t)
	clients := awsapi.NewClients(sb.Config)
	ami := publicAMI(t, sb)
	sb.SetFaults(sandbox.FaultRule{Service: "ssm", Action: "SendCommand", ErrorRate: 1, ErrorStatus: 400})
	s := &scan.Scanner{SSM: clients.SSM(""), EC2: clients.EC2(""), Project: "p", Poll: time.Millisecond}
	_, err := s.ScanImage(context.Background(), scan.Image{Layer: "linux", AMI: ami})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "send AWS-RunPatchBaseline Scan")
	insts := scanInstances(t, clients.EC2(""))
	require.Len(t, insts, 1)
	assert.Contains(t, []ec2types.InstanceStateName{"shutting-down", "terminated"}, insts[0].State.Name)
}
