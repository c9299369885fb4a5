// Package lineage owns the names amibake writes to AWS: the amibake:* tags
// on AMIs, snapshots and instances, and the Parameter Store paths of
// channels and the lock (DESIGN.md, "What amibake writes to AWS").
package lineage

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Tags written on AMIs and their snapshots.
const (
	TagProject           = "amibake:project"
	TagLayer             = "amibake:layer"
	TagFingerprint       = "amibake:fingerprint"
	TagParentAMI         = "amibake:parent-ami"
	TagParentFingerprint = "amibake:parent-fingerprint"
	TagSource            = "amibake:source"
	TagRecipes           = "amibake:recipes"
	// TagRecipeDigests holds a short content digest per recipe, aligned
	// with TagRecipes, and TagSettingsDigest one over the image settings
	// (and a root's source selector): plan tells "recipe-changed" from
	// "settings-changed" with them when the fingerprint moved.
	TagRecipeDigests  = "amibake:recipe-digests"
	TagSettingsDigest = "amibake:settings-digest"
	TagBuildID        = "amibake:build-id"
	TagPatchLevel     = "amibake:patch-level"
	TagRevoked        = "amibake:revoked"
	// TagRole marks build, scan, canary and baseline instances: anything with
	// it and no live owner is an orphan a re-run may clean.
	TagRole = "amibake:role"
)

// Instance roles.
const (
	RoleBuild    = "build"
	RoleScan     = "scan"
	RoleCanary   = "canary"
	RoleBaseline = "baseline"
)

// Channels every layer has; more can be named (promote --to).
const (
	ChannelLatest = "latest"
	ChannelStable = "stable"
)

var channelRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// ValidChannel reports whether name can be a channel.
func ValidChannel(name string) error {
	if !channelRE.MatchString(name) {
		return fmt.Errorf("invalid channel %q: use lowercase letters, digits and dashes, starting with a letter", name)
	}
	return nil
}

// Paths builds the Parameter Store names of one project.
type Paths struct {
	Prefix  string // e.g. "/amibake"
	Project string
}

// Root is <prefix>/<project>.
func (p Paths) Root() string { return strings.TrimRight(p.Prefix, "/") + "/" + p.Project }

// LayersRoot is <prefix>/<project>/layers, the path under which every
// channel lives (one GetParametersByPath reads them all).
func (p Paths) LayersRoot() string { return p.Root() + "/layers" }

// Channel is <prefix>/<project>/layers/<layer>/<channel>.
func (p Paths) Channel(layer, channel string) string {
	return p.LayersRoot() + "/" + layer + "/" + channel
}

// Lock is <prefix>/<project>/lock.
func (p Paths) Lock() string { return p.Root() + "/lock" }

// Secret is where a build's sensitive input lives for the build's duration
// (a SecureString, deleted when the build ends).
func (p Paths) Secret(buildID, name string) string {
	return p.Root() + "/builds/" + buildID + "/secrets/" + name
}

// ParseChannel splits a channel parameter name back into layer and channel.
func (p Paths) ParseChannel(name string) (layer, channel string, ok bool) {
	rest, found := strings.CutPrefix(name, p.LayersRoot()+"/")
	if !found {
		return "", "", false
	}
	layer, channel, ok = strings.Cut(rest, "/")
	if !ok || layer == "" || channel == "" || strings.Contains(channel, "/") {
		return "", "", false
	}
	return layer, channel, true
}

// RecipeVersion is one entry of the amibake:recipes tag.
type RecipeVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// FormatRecipes renders the amibake:recipes tag: name@version,… in layer order.
func FormatRecipes(rs []RecipeVersion) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Name + "@" + r.Version
	}
	return strings.Join(parts, ",")
}

// ParseRecipes reads the amibake:recipes tag.
func ParseRecipes(s string) []RecipeVersion {
	if s == "" {
		return nil
	}
	var out []RecipeVersion
	for _, p := range strings.Split(s, ",") {
		name, ver, _ := strings.Cut(p, "@")
		out = append(out, RecipeVersion{Name: name, Version: ver})
	}
	return out
}

// FormatDigests renders the amibake:recipe-digests tag: digest,… in layer order.
func FormatDigests(ds []string) string { return strings.Join(ds, ",") }

// ParseDigests reads the amibake:recipe-digests tag; nil when absent.
func ParseDigests(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Image is what the tags of one AMI say about it.
type Image struct {
	ID                string            `json:"id"`
	Region            string            `json:"region"`
	Name              string            `json:"name,omitempty"`
	State             string            `json:"state,omitempty"`
	CreationDate      string            `json:"creation_date,omitempty"`
	Project           string            `json:"project,omitempty"`
	Layer             string            `json:"layer,omitempty"`
	Fingerprint       string            `json:"fingerprint,omitempty"`
	ParentAMI         string            `json:"parent_ami,omitempty"`
	ParentFingerprint string            `json:"parent_fingerprint,omitempty"`
	Source            string            `json:"source,omitempty"`
	Recipes           []RecipeVersion   `json:"recipes,omitempty"`
	RecipeDigests     []string          `json:"recipe_digests,omitempty"` // aligned with Recipes; nil on AMIs baked before the tag
	SettingsDigest    string            `json:"settings_digest,omitempty"`
	BuildID           string            `json:"build_id,omitempty"`
	PatchLevel        string            `json:"patch_level,omitempty"`
	Revoked           string            `json:"revoked,omitempty"` // reason; empty when not revoked
	DeprecationTime   string            `json:"deprecation_time,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
}

// FromTags fills the lineage fields from a tag map.
func FromTags(id, region string, tags map[string]string) Image {
	return Image{
		ID:                id,
		Region:            region,
		Project:           tags[TagProject],
		Layer:             tags[TagLayer],
		Fingerprint:       tags[TagFingerprint],
		ParentAMI:         tags[TagParentAMI],
		ParentFingerprint: tags[TagParentFingerprint],
		Source:            tags[TagSource],
		Recipes:           ParseRecipes(tags[TagRecipes]),
		RecipeDigests:     ParseDigests(tags[TagRecipeDigests]),
		SettingsDigest:    tags[TagSettingsDigest],
		BuildID:           tags[TagBuildID],
		PatchLevel:        tags[TagPatchLevel],
		Revoked:           tags[TagRevoked],
		Tags:              tags,
	}
}

// BuildTags is the lineage tag set of a new AMI (and its snapshots).
type BuildTags struct {
	Project           string
	Layer             string
	Fingerprint       string
	ParentAMI         string
	ParentFingerprint string
	Source            string
	Recipes           []RecipeVersion
	RecipeDigests     []string // aligned with Recipes
	SettingsDigest    string
	BuildID           string
	PatchLevel        string
}

// Map returns the tags, omitting empty values (root layers have no parent).
func (b BuildTags) Map() map[string]string {
	m := map[string]string{
		TagProject:     b.Project,
		TagLayer:       b.Layer,
		TagFingerprint: b.Fingerprint,
		TagBuildID:     b.BuildID,
		TagRecipes:     FormatRecipes(b.Recipes),
	}
	for k, v := range map[string]string{
		TagParentAMI: b.ParentAMI, TagParentFingerprint: b.ParentFingerprint,
		TagSource: b.Source, TagPatchLevel: b.PatchLevel,
		TagRecipeDigests: FormatDigests(b.RecipeDigests), TagSettingsDigest: b.SettingsDigest,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// SortedKeys returns a tag map's keys in order, for stable rendering.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
