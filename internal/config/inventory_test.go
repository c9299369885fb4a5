package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestInventorySSHWithoutProfileWarns(t *testing.T) {
	load := func(project string) []string {
		dir := writeProject(t, map[string]string{"amibake.hcl": project, "layers/linux.hcl": minimalLayer})
		_, diags := Load(dir, LoadOptions{Now: testNow})
		return render(diags)
	}
	assert.Equal(t, []string{"warning amibake.hcl:4:22: Inventory needs an SSM-managed build instance"}, load(`project "p" {
  regions          = ["us-east-1"]
  provisioner      = "ssh"
  inventory_bucket = "p-inventory"
}
`))
	for _, ok := range []string{
		`project "p" {
  regions          = ["us-east-1"]
  provisioner      = "ssh"
  inventory_bucket = "p-inventory"
  iam_instance_profile = "amibake-build"
}
`, `project "p" {
  regions          = ["us-east-1"]
  inventory_bucket = "p-inventory"
}
`, `project "p" {
  regions     = ["us-east-1"]
  provisioner = "ssh"
}
`} {
		assert.Empty(t, load(ok), ok)
	}
}
