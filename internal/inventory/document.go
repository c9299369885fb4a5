// Package inventory records what is inside an AMI: the software inventory
// of its build instance (Systems Manager Inventory, AWS:Application) with
// the AMI's lineage, stored as one JSON document per AMI in the project's
// S3 bucket (s3://<bucket>/<project>/inventory/<ami-id>.json) and
// checksummed by the AMI tag amibake:inventory-sha256. It also compares two
// documents (diff) and renders them as SBOMs (CycloneDX, SPDX).
package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/amibake/amibake/internal/lineage"
)

// SchemaVersion is the version of the document format.
const SchemaVersion = 1

// TagSHA256 is the AMI tag holding the hex sha256 of the stored document.
const TagSHA256 = "amibake:inventory-sha256"

// Document is the inventory of one AMI.
type Document struct {
	SchemaVersion int    `json:"schema_version"`
	AMI           string `json:"ami"`
	Region        string `json:"region"`
	Project       string `json:"project"`
	Layer         string `json:"layer"`
	Fingerprint   string `json:"fingerprint"`
	ParentAMI     string `json:"parent_ami,omitempty"`
	// Source is the upstream selector of a root layer (no parent).
	Source   string    `json:"source,omitempty"`
	Recipes  []Recipe  `json:"recipes"`
	Packages []Package `json:"packages"`
	// InstanceID is the build instance the inventory was read from;
	// BuildID the build (amibake:build-id) that read it.
	InstanceID  string    `json:"instance_id,omitempty"`
	BuildID     string    `json:"build_id,omitempty"`
	CollectedAt time.Time `json:"collected_at"`
	// CopyOf is set on the document of a regional copy: the AMI (in the
	// build region) it was copied from, whose build instance the packages
	// were read on. A copy has its own document so that it still has one
	// once that AMI is retired.
	CopyOf string `json:"copy_of,omitempty"`
}

// Recipe is one recipe the layer ran, with its version.
type Recipe struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Package is one installed package. Version is the RPM
// [epoch:]version-release.
type Package struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Arch      string `json:"arch,omitempty"`
	Publisher string `json:"publisher,omitempty"`
}

// NewDocument assembles the document of an AMI from its lineage (tags) and
// the packages collected from its build instance.
func NewDocument(img lineage.Image, instanceID string, pkgs []Package, collectedAt time.Time) *Document {
	d := &Document{
		SchemaVersion: SchemaVersion, AMI: img.ID, Region: img.Region, Project: img.Project, Layer: img.Layer,
		Fingerprint: img.Fingerprint, ParentAMI: img.ParentAMI, Source: img.Source,
		Recipes: []Recipe{}, Packages: append([]Package{}, pkgs...), InstanceID: instanceID,
		CollectedAt: collectedAt.UTC().Truncate(time.Second),
	}
	for _, r := range img.Recipes {
		d.Recipes = append(d.Recipes, Recipe{Name: r.Name, Version: r.Version})
	}
	d.Normalize()
	return d
}

// Normalize sorts the packages by name and architecture, so equal
// inventories encode to equal bytes.
func (d *Document) Normalize() {
	sort.SliceStable(d.Packages, func(i, j int) bool {
		if d.Packages[i].Name != d.Packages[j].Name {
			return d.Packages[i].Name < d.Packages[j].Name
		}
		return d.Packages[i].Arch < d.Packages[j].Arch
	})
	if d.Packages == nil {
		d.Packages = []Package{}
	}
	if d.Recipes == nil {
		d.Recipes = []Recipe{}
	}
}

// Encode renders the document as stored: indented JSON with a final
// newline. The checksum tag is the sha256 of exactly these bytes.
func (d *Document) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode inventory of %s: %w", d.AMI, err)
	}
	return buf.Bytes(), nil
}

// Decode reads a stored document.
func Decode(data []byte) (*Document, error) {
	var d Document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decode inventory document: %w", err)
	}
	if d.SchemaVersion < 1 || d.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("inventory document of %s has schema version %d; this amibake reads up to %d", d.AMI, d.SchemaVersion, SchemaVersion)
	}
	d.Normalize()
	return &d, nil
}

// Key is the object key of an AMI's document: <project>/inventory/<ami>.json.
func Key(project, ami string) string { return project + "/inventory/" + ami + ".json" }

// URL is s3://<bucket>/<key>, for messages.
func URL(bucket, project, ami string) string { return "s3://" + bucket + "/" + Key(project, ami) }
