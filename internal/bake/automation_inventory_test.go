package bake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/bake/automationtest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/inventory/inventorytest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

const invBucket = "patchy-inventory"

// inventoryFiles is the automation project recording inventory, in regions.
func inventoryFiles(regions ...string) map[string]string {
	files := automationtest.Files()
	if len(regions) > 0 {
		files = automationtest.WithRegions(files, regions...)
	}
	files["amibake.hcl"] = strings.Replace(files["amibake.hcl"], `param_prefix = "/amibake"`,
		`param_prefix = "/amibake"
  inventory_bucket = "`+invBucket+`"`, 1)
	return files
}

// newInventoryWorld seeds the project and records the seeded linux AMI's
// inventory (as its packer bake would have).
func newInventoryWorld(t *testing.T, regions ...string) *world {
	t.Helper()
	w := newWorldWith(t, inventoryFiles(regions...))
	inventorytest.CreateBucket(t, w.sb, automationtest.Region, invBucket)
	inventorytest.Record(t, w.sb, automationtest.Region, invBucket, automationtest.Project, w.amis["linux"])
	return w
}

func (w *world) loadInventory(t *testing.T, region, ami string) *inventory.Document {
	t.Helper()
	ctx := context.Background()
	imgs, err := lineage.DescribeIDs(ctx, w.clients.EC2(region), region, []string{ami})
	require.NoError(t, err)
	require.Contains(t, imgs, ami)
	require.NotEmpty(t, imgs[ami].Tags[inventory.TagSHA256], "%s carries the checksum tag", ami)
	doc, err := inventory.Load(ctx, w.clients.S3(automationtest.Region), invBucket, automationtest.Project, imgs[ami])
	require.NoError(t, err)
	return doc
}

func pkgVersion(doc *inventory.Document, name string) string {
	for _, p := range doc.Packages {
		if p.Name == name {
			return p.Version
		}
	}
	return ""
}

// An automation rebake of a project with inventory_bucket records the new
// AMI's document and checksum tag before latest moves, read on the verify
// step's scan instance: it lists the patched openssl, and `amibake diff`
// shows the upgrade from the drifted AMI.
func TestAutomationRecordsInventory(t *testing.T) {
	w := newInventoryWorld(t)
	ctx := context.Background()
	old := w.amis["linux"]
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical"})
	require.NoError(t, err)
	var fixed string
	w.sb.Do(func(wd *sandbox.World) { fixed = wd.Catalogue.Latest("openssl", w.sb.Clock().Now()) })
	oldDoc := w.loadInventory(t, automationtest.Region, old)
	require.NotEmpty(t, pkgVersion(oldDoc, "openssl"))
	require.NotEqual(t, fixed, pkgVersion(oldDoc, "openssl"), "the drifted AMI lacks the fix")

	b, p := w.baker(t, "b-inv-auto")
	results, err := b.Run(ctx, p)
	require.NoError(t, err)
	r := results[0]
	require.Equal(t, bake.StatusBuilt, r.Status, "%v", r.Err)
	ami := r.AMI[automationtest.Region]
	assert.Equal(t, inventory.URL(invBucket, automationtest.Project, ami), r.Inventory)
	assert.Equal(t, ami, w.latest(t, "linux"))

	doc := w.loadInventory(t, automationtest.Region, ami)
	assert.Equal(t, fixed, pkgVersion(doc, "openssl"), "read on an instance of the patched image")
	assert.Equal(t, r.BuildID, doc.BuildID)
	assert.Equal(t, "linux", doc.Layer)
	assert.Empty(t, doc.CopyOf)
	assert.True(t, r.Verified)
	// Read on the verify step's scan instance (no extra instance), whose
	// gather association did not outlive it; the staging object is gone.
	out, err := w.clients.EC2("").DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{doc.InstanceID}})
	require.NoError(t, err)
	require.Len(t, out.Reservations, 1)
	inst := out.Reservations[0].Instances[0]
	assert.Contains(t, inst.Tags, ec2types.Tag{Key: aws.String(lineage.TagRole), Value: aws.String(lineage.RoleScan)})
	assert.Equal(t, ami, aws.ToString(inst.ImageId))
	assert.Equal(t, "terminated", string(inst.State.Name))
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "CreateAssociation"))
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "DeleteAssociation"))
	w.sb.Do(func(wd *sandbox.World) {
		assert.Empty(t, wd.Associations(sandbox.DefaultAccount, automationtest.Region))
	})

	code, stdout, errOut := clitest.Run(t, w.sb, w.dir, "inventory", ami)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `openssl\s+`+regexp.QuoteMeta(fixed), stdout)

	code, stdout, errOut = clitest.Run(t, w.sb, w.dir, "diff", old, ami)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, stdout, "openssl")
	assert.Contains(t, stdout, pkgVersion(oldDoc, "openssl"))
	assert.Contains(t, stdout, fixed)
	assert.Contains(t, stdout, "upgraded")
}

// When the inventory cannot be gathered, the rebake is not published and
// its AMI is not revoked (it is sound): the next run adopts it, gathers on
// its new verify scan and publishes it with its document.
func TestAutomationInventoryFailurePublishesNothing(t *testing.T) {
	w := newInventoryWorld(t)
	ctx := context.Background()
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical"})
	require.NoError(t, err)

	w.sb.SetFaults(sandbox.FaultRule{Service: "ssm", Action: "CreateAssociation", ErrorRate: 1, ErrorStatus: http.StatusBadRequest})
	b, p := w.baker(t, "b-inv-fail")
	results, err := b.Run(ctx, p)
	require.NoError(t, err)
	r := results[0]
	require.Equal(t, bake.StatusFailed, r.Status)
	assert.ErrorContains(t, r.Err, "not published")
	assert.ErrorContains(t, r.Err, "inventory of "+r.AMI[automationtest.Region])
	assert.False(t, r.Published)
	assert.Equal(t, w.amis["linux"], w.latest(t, "linux"), "latest did not move")
	ami := r.AMI[automationtest.Region]
	_, tags := w.image(t, ami)
	assert.Empty(t, tags[inventory.TagSHA256])
	assert.Empty(t, tags[lineage.TagRevoked], "a sound image whose inventory failed is not revoked")

	w.sb.SetFaults()
	b, p = w.baker(t, "b-inv-again")
	results, err = b.Run(ctx, p)
	require.NoError(t, err)
	r = results[0]
	require.Equal(t, bake.StatusBuilt, r.Status, "%v", r.Err)
	assert.Equal(t, ami, r.AMI[automationtest.Region], "adopted")
	assert.Equal(t, ami, w.latest(t, "linux"))
	assert.NotEmpty(t, pkgVersion(w.loadInventory(t, automationtest.Region, ami), "openssl"))
}

// Without a verify scan of the new AMI there is nowhere to read its
// inventory: the layer fails rather than publishing an AMI without one.
func TestAutomationInventoryNeedsTheVerifyScan(t *testing.T) {
	w := newInventoryWorld(t)
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical"})
	require.NoError(t, err)
	b, p := w.baker(t, "b-inv-noverify")
	b.Verify = nil
	results, err := b.Run(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, bake.StatusFailed, results[0].Status)
	assert.ErrorContains(t, results[0].Err, "no such scan ran")
	assert.Equal(t, w.amis["linux"], w.latest(t, "linux"))
}

// A rebake copied to a second region gives the copy a document of its
// own (the same packages; its id, region, and the AMI it copies), so
// `amibake inventory COPY` works, also once the source AMI is retired.
func TestAutomationCopyHasItsOwnInventory(t *testing.T) {
	w := newInventoryWorld(t, automationtest.Region, automationtest.CopyRegion)
	ctx := context.Background()
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical"})
	require.NoError(t, err)
	b, p := w.baker(t, "b-inv-copy")
	results, err := b.Run(ctx, p)
	require.NoError(t, err)
	r := results[0]
	require.Equal(t, bake.StatusBuilt, r.Status, "%v", r.Err)
	home, cp := r.AMI[automationtest.Region], r.AMI[automationtest.CopyRegion]
	require.NotEmpty(t, cp)

	homeDoc := w.loadInventory(t, automationtest.Region, home)
	cpDoc := w.loadInventory(t, automationtest.CopyRegion, cp)
	assert.Equal(t, cp, cpDoc.AMI)
	assert.Equal(t, automationtest.CopyRegion, cpDoc.Region)
	assert.Equal(t, home, cpDoc.CopyOf)
	assert.Equal(t, homeDoc.Packages, cpDoc.Packages)
	assert.Equal(t, homeDoc.BuildID, cpDoc.BuildID)
	assert.Equal(t, homeDoc.Fingerprint, cpDoc.Fingerprint)

	// The source is retired; the copy outlives it with its document.
	_, err = w.clients.EC2(automationtest.Region).DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(home)})
	require.NoError(t, err)
	code, stdout, errOut := clitest.Run(t, w.sb, w.dir, "inventory", cp)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, stdout, "AMI "+cp+" ("+automationtest.CopyRegion+")")
	assert.Contains(t, stdout, "a regional copy of "+home)
	code, _, errOut = clitest.Run(t, w.sb, w.dir, "sbom", cp, "--format", "cyclonedx")
	require.Equal(t, 0, code, errOut)
}

// `bake` filling a reused AMI's missing copy (a region the layer gained)
// gives the copy its own document from the source's before publishing;
// `amibake inventory COPY` reads it.
func TestBakeReusedCopyHasItsOwnInventory(t *testing.T) {
	sb := sandbox.Start(t)
	dir := automationtest.WriteProject(t, inventoryFiles())
	amis := automationtest.Seed(t, sb, dir)
	inventorytest.CreateBucket(t, sb, automationtest.Region, invBucket)
	for _, ami := range amis {
		inventorytest.Record(t, sb, automationtest.Region, invBucket, automationtest.Project, ami)
	}
	w := &world{sb: sb, dir: dir, amis: amis, clients: awsapi.NewClients(sb.Config)}
	two := inventoryFiles(automationtest.Region, automationtest.CopyRegion)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "amibake.hcl"), []byte(two["amibake.hcl"]), 0o644))

	code, out, errOut := clitest.Run(t, sb, dir, "-o", "json", "bake")
	require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", errOut, out)
	var rep struct{ Results []*bake.Result }
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Results, 2)
	for _, r := range rep.Results {
		require.Equal(t, []string{automationtest.CopyRegion}, r.Copied, r.Layer)
		home, cp := r.AMI[automationtest.Region], r.AMI[automationtest.CopyRegion]
		assert.Equal(t, inventory.URL(invBucket, automationtest.Project, home), r.Inventory)
		homeDoc, cpDoc := w.loadInventory(t, automationtest.Region, home), w.loadInventory(t, automationtest.CopyRegion, cp)
		assert.Equal(t, home, cpDoc.CopyOf, r.Layer)
		assert.Equal(t, homeDoc.Packages, cpDoc.Packages, r.Layer)
		assert.Equal(t, r.Layer, cpDoc.Layer)

		code, out, errOut := clitest.Run(t, sb, dir, "inventory", cp)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "a regional copy of "+home)
	}
}

// Through the CLI: `patch run --apply --engine automation` on a project
// with inventory_bucket records each rebake's document (patch run's own
// verify step carries the gather), and `inventory` / `diff` read them.
func TestPatchRunAutomationRecordsInventory(t *testing.T) {
	w := newInventoryWorld(t)
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical"})
	require.NoError(t, err)
	var fixed string
	w.sb.Do(func(wd *sandbox.World) { fixed = wd.Catalogue.Latest("openssl", w.sb.Clock().Now()) })
	oldVersion := pkgVersion(w.loadInventory(t, automationtest.Region, w.amis["linux"]), "openssl")

	code, out, errOut := clitest.Run(t, w.sb, w.dir, "-o", "json", "patch", "run", "--apply", "--engine", "automation", "--poll", "5ms")
	require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", errOut, out)
	var rep struct{ Results []*bake.Result }
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Results, 2)
	for _, r := range rep.Results {
		require.Equal(t, bake.StatusBuilt, r.Status, r.Error)
		ami := r.AMI[automationtest.Region]
		assert.Equal(t, inventory.URL(invBucket, automationtest.Project, ami), r.Inventory, r.Layer)
		assert.Equal(t, fixed, pkgVersion(w.loadInventory(t, automationtest.Region, ami), "openssl"), r.Layer)
	}

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "inventory", "linux@latest")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `openssl\s+`+regexp.QuoteMeta(fixed), out)

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "-o", "json", "diff", w.amis["linux"], "linux@latest")
	require.Equal(t, 0, code, errOut)
	var d inventory.Diff
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	assert.Contains(t, d.Upgraded, inventory.PackageChange{Name: "openssl", Arch: "x86_64", From: oldVersion, To: fixed})
	assert.Empty(t, d.Added)
	assert.Empty(t, d.Removed)
	assert.Empty(t, d.Recipes)
}

// A copy made before copies got documents of their own is read from its
// source's document while the source exists (inventory, diff); once the
// source is retired it reports no inventory.
func TestInventoryOfALegacyCopyReadsItsSource(t *testing.T) {
	sb := sandbox.Start(t)
	dir := automationtest.WriteProject(t, inventoryFiles(automationtest.Region, automationtest.CopyRegion))
	amis := automationtest.Seed(t, sb, dir) // copies in eu-west-1, no documents
	inventorytest.CreateBucket(t, sb, automationtest.Region, invBucket)
	home := amis["linux"]
	inventorytest.Record(t, sb, automationtest.Region, invBucket, automationtest.Project, home)
	clients := awsapi.NewClients(sb.Config)
	var cp string
	sb.Do(func(wd *sandbox.World) {
		for id, img := range wd.EC2.Images {
			if img.Region == automationtest.CopyRegion && img.SourceImageID == home {
				cp = id
			}
		}
	})
	require.NotEmpty(t, cp)

	code, out, errOut := clitest.Run(t, sb, dir, "inventory", cp)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "AMI "+cp+" ("+automationtest.CopyRegion+")")
	assert.Contains(t, out, inventory.URL(invBucket, automationtest.Project, home))
	assert.Contains(t, out, "a regional copy of "+home)

	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "diff", home, cp)
	require.Equal(t, 0, code, errOut)
	var d inventory.Diff
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	assert.Empty(t, d.Added)
	assert.Empty(t, d.Removed)
	assert.Empty(t, d.Upgraded)

	_, err := clients.EC2(automationtest.Region).DeregisterImage(context.Background(), &ec2.DeregisterImageInput{ImageId: aws.String(home)})
	require.NoError(t, err)
	code, _, errOut = clitest.Run(t, sb, dir, "inventory", cp)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no inventory recorded for AMI "+cp)
}
