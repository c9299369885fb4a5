package inventory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/inventory/inventorytest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

const (
	region = "us-east-1"
	bucket = "acme-amibake-inventory"
)

var basePkgs = map[string]string{
	"amazon-ssm-agent": "3.3.1142.0-1.amzn2023",
	"bash":             "5.2.15-1.amzn2023.0.2",
	"openssl-libs":     "1:3.0.8-1.amzn2023.0.14",
	"nginx":            "1:1.24.0-1.amzn2023.0.2",
}

func describe(t *testing.T, sb *sandbox.Sandbox, ami string) lineage.Image {
	t.Helper()
	found, err := lineage.DescribeIDs(context.Background(), awsapi.NewClients(sb.Config).EC2(region), region, []string{ami})
	require.NoError(t, err)
	require.Contains(t, found, ami)
	return found[ami]
}

func TestCollectStoreLoad(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	ami := fam.AppWeb.Home()
	inventorytest.SetContent(t, sb, []string{ami}, basePkgs, []lineage.RecipeVersion{{Name: "nginx_runtime", Version: "1.3.0"}})
	inventorytest.CreateBucket(t, sb, region, bucket)

	doc, stored := inventorytest.Record(t, sb, region, bucket, channeltest.Project, ami)
	assert.Equal(t, "s3://"+bucket+"/acme-golden/inventory/"+ami+".json", stored.URL)
	assert.Equal(t, []inventory.Package{
		{Name: "amazon-ssm-agent", Version: "3.3.1142.0-1.amzn2023", Arch: "x86_64", Publisher: "Amazon Linux"},
		{Name: "bash", Version: "5.2.15-1.amzn2023.0.2", Arch: "x86_64", Publisher: "Amazon Linux"},
		{Name: "nginx", Version: "1:1.24.0-1.amzn2023.0.2", Arch: "x86_64", Publisher: doc.Packages[2].Publisher},
		{Name: "openssl-libs", Version: "1:3.0.8-1.amzn2023.0.14", Arch: "x86_64", Publisher: "Amazon Linux"},
	}, doc.Packages)
	assert.Equal(t, []inventory.Recipe{{Name: "nginx_runtime", Version: "1.3.0"}}, doc.Recipes)
	assert.Equal(t, fam.Base.Home(), doc.ParentAMI)
	assert.Equal(t, "app-web", doc.Layer)
	assert.Equal(t, fam.AppWeb.Fingerprint, doc.Fingerprint)
	assert.NotEmpty(t, doc.InstanceID)

	// The AMI carries the checksum; Load verifies it and round-trips.
	img := describe(t, sb, ami)
	assert.Equal(t, stored.SHA256, img.Tags[inventory.TagSHA256])
	s3c := awsapi.NewClients(sb.Config).S3(region)
	got, err := inventory.Load(ctx, s3c, bucket, channeltest.Project, img)
	require.NoError(t, err)
	assert.Equal(t, doc, got)

	// The stored bytes are the document's encoding, with its sha in metadata.
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(inventory.Key(channeltest.Project, ami))})
	require.NoError(t, err)
	defer obj.Body.Close()
	assert.Equal(t, stored.SHA256, obj.Metadata["sha256"])
	assert.Equal(t, "application/json", aws.ToString(obj.ContentType))

	// Someone edits the document: the checksum no longer matches.
	doc.Packages = doc.Packages[1:]
	data, err := doc.Encode()
	require.NoError(t, err)
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(inventory.Key(channeltest.Project, ami)), Body: bytes.NewReader(data)})
	require.NoError(t, err)
	_, err = inventory.Load(ctx, s3c, bucket, channeltest.Project, img)
	var ce *inventory.ChecksumError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, stored.SHA256, ce.Want)
	assert.Equal(t, inventory.Checksum(data), ce.Got)
	assert.Contains(t, err.Error(), "does not match the AMI's amibake:inventory-sha256 tag")

	// No tag at all: cannot be verified.
	delete(img.Tags, inventory.TagSHA256)
	_, err = inventory.Load(ctx, s3c, bucket, channeltest.Project, img)
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), "cannot be verified")

	// An AMI baked before inventory collection has no document.
	_, err = inventory.Load(ctx, s3c, bucket, channeltest.Project, describe(t, sb, fam.Base.Home()))
	var nr *inventory.NotRecordedError
	require.ErrorAs(t, err, &nr)
	assert.Equal(t, "no inventory recorded for AMI "+fam.Base.Home()+" (s3://"+bucket+"/acme-golden/inventory/"+fam.Base.Home()+".json does not exist): it was baked before inventory collection, rebake it to record one", err.Error())

	// A missing bucket says so.
	_, err = inventory.Load(ctx, s3c, "no-such-bucket", channeltest.Project, img)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bucket no-such-bucket does not exist")
}

func TestDocumentFormat(t *testing.T) {
	d := &inventory.Document{SchemaVersion: 1, AMI: "ami-1", Region: "us-east-1", Project: "p", Layer: "l", Fingerprint: "f",
		Packages: []inventory.Package{{Name: "b", Version: "1-1"}, {Name: "a", Version: "2-1", Arch: "noarch"}}}
	d.Normalize()
	data, err := d.Encode()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	for _, k := range []string{"schema_version", "ami", "region", "project", "layer", "fingerprint", "recipes", "packages", "collected_at"} {
		assert.Contains(t, m, k)
	}
	assert.Equal(t, "a", d.Packages[0].Name)
	back, err := inventory.Decode(data)
	require.NoError(t, err)
	assert.Equal(t, d, back)
	_, err = inventory.Decode([]byte(`{"schema_version": 9, "ami": "ami-1"}`))
	assert.ErrorContains(t, err, "schema version 9")
}

func TestCompare(t *testing.T) {
	a := &inventory.Document{Packages: []inventory.Package{
		{Name: "bash", Version: "5.2.15-1", Arch: "x86_64"},
		{Name: "curl", Version: "8.0.1-1", Arch: "x86_64"},
		{Name: "glibc", Version: "2.34-1", Arch: "x86_64"},
		{Name: "glibc", Version: "2.34-1", Arch: "i686"},
		{Name: "nginx", Version: "1:1.24.0-1", Arch: "x86_64"},
		{Name: "old", Version: "1.0-1", Arch: "noarch"},
	}}
	b := &inventory.Document{Packages: []inventory.Package{
		{Name: "bash", Version: "5.2.15-1", Arch: "x86_64"},
		{Name: "curl", Version: "8.0.1-2", Arch: "x86_64"},
		{Name: "glibc", Version: "2.34-2", Arch: "x86_64"},
		{Name: "jq", Version: "1.7.1-1", Arch: "x86_64"},
		{Name: "nginx", Version: "1.26.0-1", Arch: "x86_64"},
	}}
	ia := lineage.FromTags("ami-a", "us-east-1", map[string]string{lineage.TagLayer: "app-web", lineage.TagParentAMI: "ami-p1",
		lineage.TagRecipes: "nginx_runtime@1.3.0,gone@1.0.0"})
	ib := lineage.FromTags("ami-b", "us-east-1", map[string]string{lineage.TagLayer: "app-web", lineage.TagParentAMI: "ami-p1",
		lineage.TagRecipes: "nginx_runtime@1.4.0,jq_tools@0.1.0"})
	d := inventory.Compare(a, b, ia, ib)
	assert.Equal(t, []inventory.PackageChange{{Name: "jq", Arch: "x86_64", To: "1.7.1-1"}}, d.Added)
	assert.Equal(t, []inventory.PackageChange{{Name: "glibc", Arch: "i686", From: "2.34-1"}, {Name: "old", Arch: "noarch", From: "1.0-1"}}, d.Removed)
	assert.Equal(t, []inventory.PackageChange{{Name: "curl", Arch: "x86_64", From: "8.0.1-1", To: "8.0.1-2"}, {Name: "glibc", Arch: "x86_64", From: "2.34-1", To: "2.34-2"}}, d.Upgraded)
	assert.Equal(t, []inventory.PackageChange{{Name: "nginx", Arch: "x86_64", From: "1:1.24.0-1", To: "1.26.0-1"}}, d.Downgraded, "the epoch wins")
	assert.Equal(t, []inventory.RecipeChange{{Name: "nginx_runtime", From: "1.3.0", To: "1.4.0"}, {Name: "jq_tools", To: "0.1.0"}, {Name: "gone", From: "1.0.0"}}, d.Recipes)
	assert.False(t, d.ParentChanged)
	assert.Equal(t, "+1 package, -2 packages, 2 upgraded, 1 downgraded, recipe nginx_runtime 1.3.0→1.4.0, recipe jq_tools added (0.1.0), recipe gone removed", d.Summary)

	same := inventory.Compare(a, a, ia, ia)
	assert.True(t, same.Empty())
	assert.Equal(t, "no changes", same.Summary)

	ib.ParentAMI = "ami-p2"
	assert.True(t, inventory.Compare(a, a, ia, ib).ParentChanged)
}

func TestPURL(t *testing.T) {
	assert.Equal(t, "pkg:rpm/amazon/nginx@1.24.0-1.amzn2023?arch=x86_64&distro=amazonlinux-2023&epoch=1",
		inventory.PURL(inventory.Package{Name: "nginx", Version: "1:1.24.0-1.amzn2023", Arch: "x86_64"}))
	assert.Equal(t, "pkg:rpm/amazon/tzdata@2024a-1.amzn2023?distro=amazonlinux-2023",
		inventory.PURL(inventory.Package{Name: "tzdata", Version: "2024a-1.amzn2023"}))
}
