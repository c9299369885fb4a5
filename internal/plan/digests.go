package plan

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/amibake/amibake/internal/graph"
)

// Digest lengths in hex digits. Tag values are limited to 256 characters,
// so recipe digests are short: 8 digits plus a comma each leave room for
// 28 recipes. They only ever compare one recipe with its own previous
// digest, where a 32-bit collision is not a concern.
const (
	recipeDigestLen   = 8
	settingsDigestLen = 12
)

// settingsDigestVersion starts the settings digest, so that a change of
// what it covers can never compare equal by accident.
const settingsDigestVersion = "amibake-settings-v1"

// RecipeDigests returns a short digest of each recipe of a fingerprint (its
// version, inputs, steps and files), in layer order: the
// amibake:recipe-digests tag, aligned with amibake:recipes.
func RecipeDigests(fp *graph.Fingerprint) []string {
	if fp == nil {
		return nil
	}
	var out []string
	for _, c := range fp.Components {
		if c.Kind == graph.KindRecipe {
			out = append(out, short(c.Digest, recipeDigestLen))
		}
	}
	return out
}

// SettingsDigest returns a short digest of a fingerprint's image settings
// and, for a root layer, its source selector: the amibake:settings-digest
// tag. Parent and recipes are left out; they have reasons of their own.
func SettingsDigest(fp *graph.Fingerprint) string {
	if fp == nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(settingsDigestVersion))
	for _, c := range fp.Components {
		if c.Kind != graph.KindSetting && c.Kind != graph.KindSource {
			continue
		}
		for _, s := range []string{c.Kind, c.Name, c.Digest} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:settingsDigestLen]
}

func short(d string, n int) string {
	if len(d) > n {
		return d[:n]
	}
	return d
}
