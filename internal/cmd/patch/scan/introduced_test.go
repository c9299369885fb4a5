package scan_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/inventory/inventorytest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
	pscan "github.com/amibake/amibake/patch/scan"
)

// TestIntroducedByFromInventory: attribution reads an ancestor's stored
// inventory document when it has one (exact: what its build instance
// held) and its patch scan otherwise, and says which it used. base's
// document records python3.11 — which its scan instance does not show — so
// once the document exists app-worker's missing python3.11 is attributed
// to base from inventory instead of to app-worker from the scans.
func TestIntroducedByFromInventory(t *testing.T) {
	w := setup(t)
	inventorytest.WithBucket(t, w.dir)
	inventorytest.CreateBucket(t, w.sb, "us-east-1", inventorytest.Bucket)
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "python3.11", Severity: "Important", Classification: "Security", CVEs: []string{"CVE-2026-5151"}})
	require.NoError(t, err)

	worker := func(res []*pscan.Report) *pscan.Finding {
		for _, r := range res {
			if r.Layer == "app-worker" {
				return missing(r, "python3.11")
			}
		}
		return nil
	}
	f := worker(w.scanJSON(t).Images)
	require.NotNil(t, f)
	assert.Equal(t, "app-worker", f.IntroducedBy)
	assert.Equal(t, pscan.SourceScan, f.IntroducedFrom, "no document yet: the scans decide")

	ctx := context.Background()
	clients := awsapi.NewClients(w.sb.Config)
	base := w.fam.Base.Home()
	imgs, err := lineage.DescribeIDs(ctx, clients.EC2("us-east-1"), "us-east-1", []string{base})
	require.NoError(t, err)
	var pkgs []inventory.Package
	w.sb.Do(func(wd *sandbox.World) {
		for name, v := range wd.EC2.Images[base].Content.Packages {
			pkgs = append(pkgs, inventory.Package{Name: name, Version: v, Arch: "x86_64"})
		}
		pkgs = append(pkgs, inventory.Package{Name: "python3.11", Version: wd.Catalogue.Latest("python3.11", w.sb.Clock().Now().AddDate(0, 0, -1)), Arch: "x86_64"})
	})
	doc := inventory.NewDocument(imgs[base], "i-0123456789abcdef0", pkgs, w.sb.Clock().Now())
	_, err = inventory.Store(ctx, clients.S3("us-east-1"), clients.EC2("us-east-1"), inventorytest.Bucket, "acme-golden", doc)
	require.NoError(t, err)

	res := w.scanJSON(t)
	f = worker(res.Images)
	require.NotNil(t, f)
	assert.Equal(t, "base", f.IntroducedBy)
	assert.Equal(t, pscan.SourceInventory, f.IntroducedFrom)
	code, out, errOut := w.run(t, "patch", "scan", "--layer", "app-worker")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "introduced by base (inventory)")
	for _, r := range res.Images {
		if r.Layer != "app-worker" {
			assert.Nil(t, missing(r, "python3.11"), "%s does not hold python3.11 (its scan decides what it misses)", r.Layer)
		}
	}
}
