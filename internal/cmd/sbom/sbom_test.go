package sbom_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/inventory/inventorytest"
	"github.com/amibake/amibake/internal/sandbox"
)

// cycloneDXSchema compiles the vendored CycloneDX 1.5 JSON schema (see
// testdata/cyclonedx/README.md) with the two schemas it references, under
// the URLs its $id and $refs name, so nothing is fetched.
func cycloneDXSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	for file, id := range map[string]string{
		"bom-1.5.SNAPSHOT.schema.json":  "http://cyclonedx.org/schema/bom-1.5.schema.json",
		"spdx.SNAPSHOT.schema.json":     "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
		"jsf-0.82.SNAPSHOT.schema.json": "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
	} {
		f, err := os.Open(filepath.Join("testdata", "cyclonedx", file))
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		require.NoError(t, err)
		require.NoError(t, c.AddResource(id, doc))
	}
	c.AssertFormat()
	s, err := c.Compile("http://cyclonedx.org/schema/bom-1.5.schema.json")
	require.NoError(t, err)
	return s
}

func TestSBOMCycloneDX(t *testing.T) {
	sb := sandbox.Start(t)
	sc := inventorytest.SeedScenario(t, sb)
	dir := channeltest.CopyProject(t)
	inventorytest.WithBucket(t, dir)
	ami := sc.New.Home()

	code, out, errOut := clitest.Run(t, sb, dir, "sbom", ami, "--format", "cyclonedx")
	require.Equal(t, 0, code, errOut)

	// Valid against the CycloneDX 1.5 schema.
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	require.NoError(t, err)
	require.NoError(t, cycloneDXSchema(t).Validate(inst))

	// And it says what is inside: every package with its version and purl.
	var bom cdx.BOM
	require.NoError(t, cdx.NewBOMDecoder(strings.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom))
	assert.Equal(t, cdx.SpecVersion1_5, bom.SpecVersion)
	assert.Equal(t, "CycloneDX", bom.BOMFormat)
	assert.Regexp(t, `^urn:uuid:[0-9a-f-]{36}$`, bom.SerialNumber)
	require.NotNil(t, bom.Metadata.Component)
	assert.Equal(t, cdx.ComponentTypeOS, bom.Metadata.Component.Type)
	assert.Contains(t, bom.Metadata.Component.Name, ami)
	require.NotNil(t, bom.Components)
	got := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		got[c.Name] = c
	}
	require.Len(t, got, len(inventorytest.BasePackages)+1)
	assert.Equal(t, "1.7.1-1.amzn2023.0.1", got["jq"].Version)
	assert.Equal(t, "pkg:rpm/amazon/jq@1.7.1-1.amzn2023.0.1?arch=x86_64&distro=amazonlinux-2023", got["jq"].PackageURL)
	assert.Equal(t, "1:1.24.0-1.amzn2023.0.2", got["nginx"].Version)
	for name, ver := range inventorytest.BasePackages {
		assert.Equal(t, ver, got[name].Version, name)
	}
	require.NotNil(t, bom.Dependencies)
	assert.Len(t, *(*bom.Dependencies)[0].Dependencies, len(got))

	// The same bytes every time (serial number and timestamps are stable).
	code, again, _ := clitest.Run(t, sb, dir, "sbom", ami)
	require.Equal(t, 0, code)
	assert.Equal(t, out, again, "cyclonedx is the default format")
}

func TestSBOMSPDX(t *testing.T) {
	sb := sandbox.Start(t)
	sc := inventorytest.SeedScenario(t, sb)
	dir := channeltest.CopyProject(t)
	inventorytest.WithBucket(t, dir)

	code, out, errOut := clitest.Run(t, sb, dir, "sbom", "app-web@latest", "--format", "spdx", "--out", "app-web.spdx.json")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "Wrote spdx SBOM of "+sc.New.Home()+" (5 packages) to app-web.spdx.json.")
	data, err := os.ReadFile(filepath.Join(dir, "app-web.spdx.json"))
	require.NoError(t, err)

	// tools-golang reads it back as SPDX 2.3.
	doc, err := spdxjson.Read(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, "SPDX-2.3", doc.SPDXVersion)
	assert.Equal(t, "CC0-1.0", doc.DataLicense)
	assert.NotEmpty(t, doc.DocumentNamespace)
	assert.NotEmpty(t, doc.CreationInfo.Created)
	versions := map[string]string{}
	purls := map[string]string{}
	for _, p := range doc.Packages {
		versions[p.PackageName] = p.PackageVersion
		for _, r := range p.PackageExternalReferences {
			if r.RefType == "purl" {
				purls[p.PackageName] = r.Locator
			}
		}
	}
	assert.Equal(t, "1.7.1-1.amzn2023.0.1", versions["jq"])
	assert.Equal(t, "pkg:rpm/amazon/jq@1.7.1-1.amzn2023.0.1?arch=x86_64&distro=amazonlinux-2023", purls["jq"])
	for name, ver := range inventorytest.BasePackages {
		assert.Equal(t, ver, versions[name], name)
	}
	assert.Len(t, doc.Packages, 6, "the AMI and its five packages")
	var describes, contains int
	for _, r := range doc.Relationships {
		switch r.Relationship {
		case "DESCRIBES":
			describes++
		case "CONTAINS":
			contains++
		}
	}
	assert.Equal(t, 1, describes)
	assert.Equal(t, 5, contains)

	// Plain JSON fields SPDX 2.3 requires.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(data, &raw))
	for _, k := range []string{"spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo", "packages"} {
		assert.Contains(t, raw, k)
	}

	code, _, errOut = clitest.Run(t, sb, dir, "sbom", "app-web@latest", "--format", "swid")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `--format must be cyclonedx or spdx, not "swid"`)
	code, _, errOut = clitest.Run(t, sb, dir, "sbom", sc.Family.Base.Home())
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no inventory recorded for AMI "+sc.Family.Base.Home())
}
