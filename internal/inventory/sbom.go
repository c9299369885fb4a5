package inventory

import (
	"crypto/sha1"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/amibake/amibake/internal/rpmver"
)

// SBOM formats.
const (
	FormatCycloneDX = "cyclonedx"
	FormatSPDX      = "spdx"
)

// PURL is the package URL of an RPM of the image:
// pkg:rpm/amazon/<name>@<version-release>?arch=<arch>[&epoch=<n>]&distro=amazonlinux-2023.
func PURL(p Package) string {
	evr := rpmver.ParseEVR(p.Version)
	epoch := evr.Epoch
	evr.Epoch = 0
	q := url.Values{}
	if p.Arch != "" {
		q.Set("arch", p.Arch)
	}
	if epoch != 0 {
		q.Set("epoch", fmt.Sprint(epoch))
	}
	q.Set("distro", "amazonlinux-2023")
	return "pkg:rpm/amazon/" + url.PathEscape(p.Name) + "@" + url.PathEscape(evr.String()) + "?" + q.Encode()
}

// uuidFor derives a stable name-based UUID (version 5 layout over SHA-1)
// so the same AMI gets the same serial number every time.
func uuidFor(name string) string {
	sum := sha1.Sum([]byte("amibake-sbom:" + name))
	b := sum[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func imageName(d *Document) string {
	if d.Layer != "" {
		return d.Project + "/" + d.Layer + " " + d.AMI
	}
	return d.AMI
}

// CycloneDX renders the document as a CycloneDX 1.5 JSON BOM: the AMI is
// the metadata component (an operating-system image), every package a
// library component with its purl, and the AMI depends on each.
func CycloneDX(w io.Writer, d *Document, tool string) error {
	if tool == "" {
		tool = "dev"
	}
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuidFor(d.AMI)
	root := cdx.Component{
		BOMRef: "ami:" + d.AMI, Type: cdx.ComponentTypeOS, Name: imageName(d), Version: d.Fingerprint,
		Description: fmt.Sprintf("Amazon Machine Image %s (%s), layer %s of project %s", d.AMI, d.Region, d.Layer, d.Project),
		Properties: &[]cdx.Property{
			{Name: "amibake:ami", Value: d.AMI}, {Name: "amibake:region", Value: d.Region},
			{Name: "amibake:project", Value: d.Project}, {Name: "amibake:layer", Value: d.Layer},
			{Name: "amibake:fingerprint", Value: d.Fingerprint},
		},
	}
	if d.ParentAMI != "" {
		*root.Properties = append(*root.Properties, cdx.Property{Name: "amibake:parent-ami", Value: d.ParentAMI})
	}
	for _, r := range d.Recipes {
		*root.Properties = append(*root.Properties, cdx.Property{Name: "amibake:recipe", Value: r.Name + "@" + r.Version})
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: d.CollectedAt.UTC().Format(time.RFC3339),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "amibake", Version: tool}}},
		Component: &root,
	}
	comps := make([]cdx.Component, 0, len(d.Packages))
	refs := make([]string, 0, len(d.Packages))
	seen := map[string]bool{}
	for _, p := range d.Packages {
		purl := PURL(p)
		if seen[purl] {
			continue
		}
		seen[purl] = true
		c := cdx.Component{BOMRef: purl, Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, Publisher: p.Publisher, PackageURL: purl}
		if p.Arch != "" {
			c.Properties = &[]cdx.Property{{Name: "rpm:arch", Value: p.Arch}}
		}
		comps = append(comps, c)
		refs = append(refs, purl)
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: root.BOMRef, Dependencies: &refs}}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_5); err != nil {
		return fmt.Errorf("encode CycloneDX SBOM of %s: %w", d.AMI, err)
	}
	return nil
}

// spdxID makes an SPDX element id from free text (letters, digits, '.', '-').
func spdxID(s string) common.ElementID {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return common.ElementID(b.String())
}

// SPDX renders the document as SPDX 2.3 JSON: the AMI is the described
// package, which CONTAINS one package per installed RPM.
func SPDX(w io.Writer, d *Document, tool string) error {
	if tool == "" {
		tool = "dev"
	}
	rootID := spdxID("AMI-" + d.AMI)
	rootPkg := &spdx.Package{
		PackageName: imageName(d), PackageSPDXIdentifier: rootID, PackageVersion: d.Fingerprint,
		PackageDownloadLocation: "NOASSERTION", FilesAnalyzed: false, IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION", PackageCopyrightText: "NOASSERTION",
		PrimaryPackagePurpose: "OPERATING-SYSTEM",
		PackageComment:        fmt.Sprintf("Amazon Machine Image %s (%s), layer %s of project %s", d.AMI, d.Region, d.Layer, d.Project),
	}
	doc := &spdx.Document{
		SPDXVersion: spdx.Version, DataLicense: spdx.DataLicense, SPDXIdentifier: "DOCUMENT",
		DocumentName:      "amibake-" + d.AMI,
		DocumentNamespace: "https://amibake.dev/spdx/" + url.PathEscape(d.Project) + "/" + d.AMI + "-" + uuidFor(d.AMI),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: "amibake-" + tool}},
			Created:  d.CollectedAt.UTC().Format(time.RFC3339),
		},
		Packages: []*spdx.Package{rootPkg},
		Relationships: []*spdx.Relationship{{
			RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", string(rootID)), Relationship: "DESCRIBES",
		}},
	}
	seen := map[common.ElementID]bool{}
	for _, p := range d.Packages {
		id := spdxID("Package-" + p.Name + "-" + p.Arch)
		if seen[id] {
			continue
		}
		seen[id] = true
		pkg := &spdx.Package{
			PackageName: p.Name, PackageSPDXIdentifier: id, PackageVersion: p.Version,
			PackageDownloadLocation: "NOASSERTION", FilesAnalyzed: false, IsFilesAnalyzedTagPresent: true,
			PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION", PackageCopyrightText: "NOASSERTION",
			PackageExternalReferences: []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: PURL(p)}},
		}
		if p.Publisher != "" {
			pkg.PackageSupplier = &common.Supplier{Supplier: p.Publisher, SupplierType: "Organization"}
		}
		doc.Packages = append(doc.Packages, pkg)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(rootID)), RefB: common.MakeDocElementID("", string(id)), Relationship: "CONTAINS",
		})
	}
	if err := spdxjson.Write(doc, w, spdxjson.Indent("  ")); err != nil {
		return fmt.Errorf("encode SPDX SBOM of %s: %w", d.AMI, err)
	}
	return nil
}
