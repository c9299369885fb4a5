package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/amibake/amibake/internal/sandbox"
)

func TestSleepFor(t *testing.T) {
	tests := []struct {
		spec, layer string
		want        time.Duration
	}{
		{"", "base", 100 * time.Millisecond},
		{"base=200ms,app-web=1s", "base", 200 * time.Millisecond},
		{"base=200ms,app-web=1s", "app-web", time.Second},
		{"base=200ms,app-web=1s", "db", 100 * time.Millisecond},
		{"base=200ms,50ms", "db", 50 * time.Millisecond},
		{"*=3s,base=1s", "db", 3 * time.Second},
		{"base=1s,*=3s", "base", time.Second},
		{"base=junk", "base", 100 * time.Millisecond},
		{"base=-1s", "base", 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := sleepFor(tt.spec, tt.layer); got != tt.want {
			t.Errorf("sleepFor(%q, %q) = %v, want %v", tt.spec, tt.layer, got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-machine-readable", "-color=false", "-var", "a=b=c", "-var=x=y", "t.pkr.hcl"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.machine || o.template != "t.pkr.hcl" || o.vars["a"] != "b=c" || o.vars["x"] != "y" {
		t.Errorf("parsed %+v", o)
	}
	for _, args := range [][]string{{}, {"-var"}, {"-var", "novalue", "t"}, {"a", "b"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestReadTemplate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	li, err := readTemplate(write("x.pkr.hcl", "# Rendered by amibake 0.1 for layer \"app-web\" of project \"p\".\n"+
		"data \"amazon-parameterstore\" \"s\" {\n  region = \"eu-west-1\"\n}\n  ami_regions = [\"us-east-1\", \"eu-west-1\"]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if li.name != "app-web" || li.region != "eu-west-1" || len(li.regions) != 2 || li.regions[1] != "us-east-1" {
		t.Errorf("got %+v", li)
	}
	li, _ = readTemplate(write("tagged.pkr.hcl", `tags = { "amibake:layer" = "db" }`), nil)
	if li.name != "db" || li.region != "us-east-1" {
		t.Errorf("got %+v", li)
	}
	li, _ = readTemplate(write("cache.pkr.hcl", ``), nil)
	if li.name != "cache" {
		t.Errorf("got %+v", li)
	}
	a, _ := readTemplate(write("v.pkr.hcl", ``), map[string]string{"k": "1"})
	b, _ := readTemplate(write("v.pkr.hcl", ``), map[string]string{"k": "2"})
	if a.digest == b.digest {
		t.Error("vars do not change the AMI ids")
	}
	if _, err := readTemplate(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("missing template accepted")
	}
}

const sandboxTemplate = `# Rendered by amibake test for layer "web" of project "p".
variable "aws_endpoint" {
  type    = string
  default = ""
}
data "amazon-parameterstore" "source" {
  name   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  region = "us-east-1"
}
source "amazon-ebs" "layer" {
  region          = "us-east-1"
  instance_type   = "t3.small"
  ami_name        = "p-web-1"
  ami_description = "amibake p/web"
  source_ami      = data.amazon-parameterstore.source.value
  ami_regions     = ["eu-west-1"]
  encrypt_boot    = false
  tags            = { "amibake:layer" = "web", "amibake:source" = "{{ .SourceAMI }}" }
  run_tags        = { "amibake:project" = "p", "amibake:role" = "build" }
  custom_endpoint_ec2 = var.aws_endpoint
}
build {
  name    = "web"
  sources = ["source.amazon-ebs.layer"]
  post-processor "amibake-lineage" {
    region   = "us-east-1"
    channels = ["/amibake/p/layers/web/latest"]
  }
}
`

// FAKEPACKER_AWS builds through the sandbox: the source from its
// parameter, an instance with the run tags (terminated at the end), the AMI
// and its copy tagged (snapshots too), the channel moved to the home AMI,
// and the artifact naming both.
func TestSandboxBuild(t *testing.T) {
	sb := sandbox.Start(t)
	for _, kv := range sb.Env(sandbox.DefaultAccount, "us-east-1") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("FAKEPACKER_AWS", "1")
	t.Setenv("FAKEPACKER_SLEEP", "10ms")
	path := filepath.Join(t.TempDir(), "web.pkr.hcl")
	if err := os.WriteFile(path, []byte(sandboxTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	code := run([]string{"build", "-machine-readable", "-var", "aws_endpoint=" + sb.URL(), path})
	w.Close()
	os.Stdout = stdout
	out, _ := io.ReadAll(r)
	if code != 0 {
		t.Fatalf("build exited %d:\n%s", code, out)
	}
	ctx := context.Background()
	src, err := ssm.NewFromConfig(sb.Config).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
	if err != nil {
		t.Fatal(err)
	}
	amis := map[string]string{}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		c := ec2.NewFromConfig(sb.ConfigFor(sandbox.DefaultAccount, region))
		imgs, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs.Images) != 1 {
			t.Fatalf("%s: %d own images, want 1", region, len(imgs.Images))
		}
		img := imgs.Images[0]
		amis[region] = aws.ToString(img.ImageId)
		tags := map[string]string{}
		for _, tag := range img.Tags {
			tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		if tags["amibake:layer"] != "web" || tags["amibake:source"] != aws.ToString(src.Parameter.Value) || img.State != ec2types.ImageStateAvailable {
			t.Errorf("%s: image %s is %s with tags %v", region, amis[region], img.State, tags)
		}
		snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps.Snapshots {
			if len(s.Tags) == 0 {
				t.Errorf("%s: snapshot %s untagged", region, aws.ToString(s.SnapshotId))
			}
		}
		live, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:amibake:role"), Values: []string{"build"}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(live.Reservations) != 0 {
			t.Errorf("%s: build instance left: %+v", region, live.Reservations)
		}
	}
	ch, err := ssm.NewFromConfig(sb.Config).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/amibake/p/layers/web/latest")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(ch.Parameter.Value); got != amis["us-east-1"] {
		t.Errorf("channel = %s, want %s", got, amis["us-east-1"])
	}
	want := "artifact,0,id,eu-west-1:" + amis["eu-west-1"] + "%!(PACKER_COMMA)us-east-1:" + amis["us-east-1"]
	if !strings.Contains(string(out), want) {
		t.Errorf("no %q in:\n%s", want, out)
	}
}
