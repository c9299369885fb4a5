package diff_test

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
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/inventory/inventorytest"
	"github.com/amibake/amibake/internal/sandbox"
)

func TestDiffNamesTheChangedPackageAndRecipe(t *testing.T) {
	sb := sandbox.Start(t)
	sc := inventorytest.SeedScenario(t, sb)
	dir := channeltest.CopyProject(t)
	inventorytest.WithBucket(t, dir)
	oldAMI, newAMI := sc.Old.Home(), sc.New.Home()

	code, out, errOut := clitest.Run(t, sb, dir, "diff", "app-web@stable", "app-web@latest")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "### "+oldAMI+" → "+newAMI+" (app-web)\n\n"+
		"+1 package, recipe nginx_runtime 1.3.0→1.4.0\n\n"+
		"| package | arch | change | "+oldAMI+" | "+newAMI+" |\n|---|---|---|---|---|\n"+
		"| jq | x86_64 | added | — | 1.7.1-1.amzn2023.0.1 |\n\n"+
		"| recipe | "+oldAMI+" | "+newAMI+" |\n|---|---|---|\n"+
		"| nginx_runtime | 1.3.0 | 1.4.0 |\n", out)

	// JSON, with AMI ids on both sides, names exactly the same change.
	code, out, errOut = clitest.Run(t, sb, dir, "diff", oldAMI, newAMI, "--output", "json")
	require.Equal(t, 0, code, errOut)
	var d inventory.Diff
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	assert.Equal(t, []inventory.PackageChange{{Name: "jq", Arch: "x86_64", To: "1.7.1-1.amzn2023.0.1"}}, d.Added)
	assert.Empty(t, d.Removed)
	assert.Empty(t, d.Upgraded)
	assert.Empty(t, d.Downgraded)
	assert.Equal(t, []inventory.RecipeChange{{Name: "nginx_runtime", From: "1.3.0", To: "1.4.0"}}, d.Recipes)
	assert.False(t, d.ParentChanged)
	assert.Equal(t, "+1 package, recipe nginx_runtime 1.3.0→1.4.0", d.Summary)
	assert.Equal(t, 4, d.A.Packages)
	assert.Equal(t, 5, d.B.Packages)

	// The other way round, against a different parent.
	code, out, errOut = clitest.Run(t, sb, dir, "diff", newAMI, oldAMI, "--bucket", inventorytest.Bucket)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "\n-1 package, recipe nginx_runtime 1.4.0→1.3.0\n")
	assert.Contains(t, out, "| jq | x86_64 | removed | 1.7.1-1.amzn2023.0.1 | — |\n")

	code, out, errOut = clitest.Run(t, sb, dir, "diff", oldAMI, oldAMI)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "### "+oldAMI+" → "+oldAMI+" (app-web)\n\nno changes\n", out)
}

func TestDiffRefusesWhatItCannotTrust(t *testing.T) {
	sb := sandbox.Start(t)
	sc := inventorytest.SeedScenario(t, sb)
	dir := channeltest.CopyProject(t)

	// No bucket configured and none given.
	code, _, errOut := clitest.Run(t, sb, dir, "diff", "app-web@stable", "app-web@latest")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no inventory bucket: set inventory_bucket in the project block, or pass --bucket")

	// An AMI baked before inventory collection: said plainly, nothing invented.
	code, out, errOut := clitest.Run(t, sb, dir, "diff", sc.Family.Base.Home(), "app-web@latest", "--bucket", inventorytest.Bucket)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "no inventory recorded for AMI "+sc.Family.Base.Home())

	// A document changed after it was recorded.
	ctx := context.Background()
	_, err := awsapi.NewClients(sb.Config).S3("us-east-1").PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(inventorytest.Bucket), Key: aws.String(inventory.Key(channeltest.Project, sc.New.Home())),
		Body: bytes.NewReader([]byte(`{"schema_version":1,"ami":"` + sc.New.Home() + `","packages":[]}`)),
	})
	require.NoError(t, err)
	code, out, errOut = clitest.Run(t, sb, dir, "diff", "app-web@stable", "app-web@latest", "--bucket", inventorytest.Bucket)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "inventory of "+sc.New.Home()+" at s3://"+inventorytest.Bucket+"/acme-golden/inventory/"+sc.New.Home()+".json does not match the AMI's amibake:inventory-sha256 tag")

	code, _, errOut = clitest.Run(t, sb, dir, "diff", "app-web@stable")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "diff takes two arguments")
	code, _, errOut = clitest.Run(t, sb, dir, "diff", "app-web@stable", "nginx", "--bucket", "b-b-b")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `"nginx" is neither an AMI id`)
}
