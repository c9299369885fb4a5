package inventory_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	inv "github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/inventory/inventorytest"
	"github.com/amibake/amibake/internal/sandbox"
)

func TestInventory(t *testing.T) {
	sb := sandbox.Start(t)
	sc := inventorytest.SeedScenario(t, sb)
	dir := channeltest.CopyProject(t)
	inventorytest.WithBucket(t, dir)
	fam := sc.Family
	ami := sc.New.Home()

	code, out, errOut := clitest.Run(t, sb, dir, "inventory", "app-web@latest")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "AMI "+ami+" (us-east-1): acme-golden layer app-web, fingerprint "+sc.New.Fingerprint+"\n")
	assert.Contains(t, out, "Inventory: s3://acme-amibake-inventory/acme-golden/inventory/"+ami+".json, collected ")
	assert.Contains(t, out, "Lineage:\n  "+ami+"  app-web  "+sc.New.Fingerprint+"\n    "+fam.Base.Home()+"  base  "+fam.Base.Fingerprint+
		"\n      "+fam.Foundation.Home()+"  foundation  "+fam.Foundation.Fingerprint+"\n        "+fam.Linux.Home()+"  linux  "+fam.Linux.Fingerprint+
		"\n          source ami-source\n")
	assert.Contains(t, out, "Recipes (1):\n  nginx_runtime  1.4.0\n")
	assert.Contains(t, out, "Packages (5):\n")
	assert.Regexp(t, `\n  jq +1\.7\.1-1\.amzn2023\.0\.1 +x86_64 +Amazon Linux\n`, out)
	assert.Regexp(t, `\n  openssl-libs +1:3\.0\.8-1\.amzn2023\.0\.14 +x86_64 +Amazon Linux\n`, out)

	code, out, errOut = clitest.Run(t, sb, dir, "inventory", ami, "--output", "json")
	require.Equal(t, 0, code, errOut)
	var res struct {
		inv.Document
		URL     string         `json:"url"`
		SHA256  string         `json:"sha256"`
		Lineage []inv.Ancestor `json:"lineage"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, ami, res.AMI)
	assert.Equal(t, "app-web", res.Layer)
	assert.Equal(t, fam.Base.Home(), res.ParentAMI)
	assert.Equal(t, []inv.Recipe{{Name: "nginx_runtime", Version: "1.4.0"}}, res.Recipes)
	require.Len(t, res.Packages, 5)
	assert.Contains(t, res.Packages, inv.Package{Name: "jq", Version: "1.7.1-1.amzn2023.0.1", Arch: "x86_64", Publisher: "Amazon Linux"})
	assert.Len(t, res.SHA256, 64)
	require.Len(t, res.Lineage, 4)
	assert.Equal(t, "linux", res.Lineage[3].Layer)

	code, same, _ := clitest.Run(t, sb, dir, "-o", "json", "inventory", ami)
	require.Equal(t, 0, code)
	assert.Equal(t, out, same, "the global flag before the command works the same")
	code, _, errOut = clitest.Run(t, sb, dir, "inventory", ami, "-o", "yaml")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `invalid --output "yaml"`)

	// A parent that is gone ends the chain, said as such.
	sb.Do(func(w *sandbox.World) {
		for _, id := range fam.Base.All() {
			delete(w.EC2.Images, id)
		}
	})
	code, out, errOut = clitest.Run(t, sb, dir, "inventory", "app-web@latest")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Lineage:\n  "+ami+"  app-web  "+sc.New.Fingerprint+"\n    "+fam.Base.Home()+" (gone)\n\nRecipes")

	// The eu-west-1 copy (seeded without a document of its own, as copies
	// were before bakes wrote theirs) is read from its source's.
	code, out, errOut = clitest.Run(t, sb, dir, "inventory", sc.New.IDs["eu-west-1"])
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "AMI "+sc.New.IDs["eu-west-1"]+" (eu-west-1)")
	assert.Contains(t, out, "Inventory: s3://acme-amibake-inventory/acme-golden/inventory/"+ami+".json, collected ")
	assert.Contains(t, out, "(a regional copy of "+ami+")")
	assert.Contains(t, out, "Packages (5):\n")

	code, _, errOut = clitest.Run(t, sb, dir, "inventory", "app-web@prod")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "channel /amibake/acme-golden/layers/app-web/prod is not set")
	code, _, errOut = clitest.Run(t, sb, dir, "inventory", "ami-0000000000000dead")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "AMI ami-0000000000000dead not found")
}
