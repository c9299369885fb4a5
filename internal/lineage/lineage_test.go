package lineage

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPathsRoundTrip(t *testing.T) {
	p := Paths{Prefix: "/amibake/", Project: "acme-golden"}
	assert.Equal(t, "/amibake/acme-golden/layers/app-web/stable", p.Channel("app-web", "stable"))
	assert.Equal(t, "/amibake/acme-golden/lock", p.Lock())

	layer, ch, ok := p.ParseChannel("/amibake/acme-golden/layers/app-web/stable")
	require.True(t, ok)
	assert.Equal(t, "app-web", layer)
	assert.Equal(t, "stable", ch)

	for _, bad := range []string{
		"/amibake/other/layers/app-web/stable",
		"/amibake/acme-golden/layers/app-web",
		"/amibake/acme-golden/layers/app-web/stable/extra",
		"/amibake/acme-golden/lock",
	} {
		_, _, ok := p.ParseChannel(bad)
		assert.False(t, ok, bad)
	}
}

func TestRecipesTagRoundTrip(t *testing.T) {
	rs := []RecipeVersion{{"ssm_agent", "1.0.0"}, {"cis_hardening", "1.4.0"}}
	s := FormatRecipes(rs)
	assert.Equal(t, "ssm_agent@1.0.0,cis_hardening@1.4.0", s)
	assert.Equal(t, rs, ParseRecipes(s))
	assert.Nil(t, ParseRecipes(""))
}

func TestBuildTagsOmitEmpty(t *testing.T) {
	m := BuildTags{Project: "p", Layer: "linux", Fingerprint: "f", BuildID: "b", Source: "ami-1"}.Map()
	assert.NotContains(t, m, TagParentAMI)
	assert.Equal(t, "ami-1", m[TagSource])
	img := FromTags("ami-2", "us-east-1", m)
	assert.Equal(t, "linux", img.Layer)
	assert.Equal(t, "ami-1", img.Source)
	assert.Empty(t, img.Revoked)
}

func TestValidChannel(t *testing.T) {
	assert.NoError(t, ValidChannel("stable"))
	assert.NoError(t, ValidChannel("canary-2"))
	assert.Error(t, ValidChannel("Stable"))
	assert.Error(t, ValidChannel("a/b"))
	assert.Error(t, ValidChannel(""))
}

// Every JSON amibake prints uses snake_case keys; lineage -o json
// marshals Image directly.
func TestImageJSONIsSnakeCase(t *testing.T) {
	b, err := json.Marshal(Image{ID: "ami-1", Region: "us-east-1", ParentAMI: "ami-0", Recipes: []RecipeVersion{{"a", "1.0.0"}}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"ami-1","region":"us-east-1","parent_ami":"ami-0","recipes":[{"name":"a","version":"1.0.0"}]}`, string(b))
}
