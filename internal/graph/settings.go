package graph

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/amibake/amibake/internal/config"
)

// This file is the one place that decides which layer settings are part of
// a fingerprint. docs/fingerprint.md explains both lists; a test checks
// that it names every entry.

// Setting is one layer or project setting and why it is, or is not, part of
// the fingerprint.
type Setting struct {
	// Name as written in HCL ("volume.size", "project.default_tags").
	Name string
	Why  string
	// value returns the canonical value for a layer; nil for the settings
	// that are hashed as their own components (source, parent, recipes) and
	// for every ignored setting.
	value func(l *config.Layer, p *config.Project) cty.Value
}

// ImageSettings change the bytes of the image, so a change forces a
// rebuild. Those with a value are hashed, in this order, as "setting"
// components; source, parent and recipes are components of their own.
var ImageSettings = []Setting{
	{Name: "source", Why: "Root layers only: the upstream selector (SSM parameter, or owners + name + architecture) decides which image the build starts from. The AMI it resolves to today is not hashed: a new upstream AMI behind the same selector is reported by plan as source-moved."},
	{Name: "parent", Why: "Every other layer: the parent's fingerprint, so a change anywhere above rebuilds everything below (a Merkle chain)."},
	{Name: "volume.size", Why: "Root volume size in GiB is recorded in the AMI's block device mapping.", value: func(l *config.Layer, _ *config.Project) cty.Value {
		size := l.Volume.SizeGiB
		if size == 0 {
			size = 8
		}
		return cty.NumberIntVal(int64(size))
	}},
	{Name: "volume.type", Why: "Volume type is recorded in the AMI's block device mapping.", value: func(l *config.Layer, _ *config.Project) cty.Value {
		t := l.Volume.Type
		if t == "" {
			t = "gp3"
		}
		return cty.StringVal(t)
	}},
	{Name: "volume.encrypted", Why: "Encrypted and unencrypted snapshots are different images.", value: func(l *config.Layer, _ *config.Project) cty.Value {
		return cty.BoolVal(l.Volume.Encrypted)
	}},
	{Name: "volume.kms_key_id", Why: "The key that encrypts the snapshot (the layer's, else project.kms_key_id; empty when the volume is not encrypted).", value: func(l *config.Layer, p *config.Project) cty.Value {
		if !l.Volume.Encrypted {
			return cty.StringVal("")
		}
		return cty.StringVal(l.KMSKey(p))
	}},
	{Name: "imdsv2_required", Why: "Recorded in the AMI (imds_support = v2.0): instances launched from it refuse IMDSv1.", value: func(l *config.Layer, _ *config.Project) cty.Value {
		return cty.BoolVal(l.IMDSv2Required)
	}},
	{Name: "provisioner", Why: "ssm and ssh builds leave different things on disk (SSH host keys and authorized keys, SSM agent state); the layer's value, else the project's, default ssm.", value: func(l *config.Layer, p *config.Project) cty.Value {
		v := l.Provisioner
		if v == "" && p != nil {
			v = p.Provisioner
		}
		if v == "" {
			v = "ssm"
		}
		return cty.StringVal(v)
	}},
	{Name: "recipes", Why: "The list in order, and for each recipe: name, version, resolved inputs (sensitive ones too, never shown), every step (kind, name, path, inline commands, source, destination, mode, resolved env) and the content of every file a step references."},
}

// IgnoredSettings do not change the bytes of the image: changing them
// never forces a rebuild. Whatever they control is applied around the
// image (copies, launch permissions, tags, names) or to the build machine.
var IgnoredSettings = []Setting{
	{Name: "instance_type", Why: "The build machine's size changes how fast the image is built, not what is in it."},
	{Name: "regions", Why: "The image is built once in the first region and copied to the others; copies are the same image."},
	{Name: "share_with", Why: "Launch permissions are attributes of the AMI, not of its content."},
	{Name: "tags", Why: "Tags are metadata on the AMI and snapshots, applied after the build."},
	{Name: "patch", Why: "Patches are the patch level, tracked beside the fingerprint (the amibake:patch-level tag): a patch rebake keeps the fingerprint."},
	{Name: "project.ami_name", Why: "The AMI name is a label and contains the fingerprint itself."},
	{Name: "project.default_tags", Why: "Tags are metadata, as for a layer's tags."},
	{Name: "project.deprecate_after", Why: "Deprecation is a lifecycle attribute of the AMI, set after the build."},
	{Name: "project.iam_instance_profile", Why: "Permissions of the build machine, not content of the image."},
	{Name: "project.subnet_id", Why: "Where the build machine runs, not what it builds."},
	{Name: "project.param_prefix", Why: "Where channel parameters are written; bookkeeping outside the image."},
	{Name: "project.inventory_bucket", Why: "Where inventories are written; bookkeeping outside the image."},
	{Name: "recipe.description", Why: "Documentation; recipe input descriptions likewise."},
	{Name: "fleet", Why: "Fleets consume images; rollout, canary, retire and fleet patch settings never change one."},
}
