package rollout

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amibake/amibake/internal/lineage"
)

func TestRecipeDiff(t *testing.T) {
	from := lineage.ParseRecipes("agent@1.0.0,app@1.0.0,legacy@0.9.0")
	target := lineage.ParseRecipes("agent@1.0.0,metrics@2.0.0,app@1.1.0")
	missing, removed := recipeDiff(from, target)
	assert.Equal(t, "metrics@2.0.0,app@1.1.0", lineage.FormatRecipes(missing), "new and moved recipes, in the target's order")
	assert.Equal(t, []string{"legacy@0.9.0"}, removed)

	missing, removed = recipeDiff(target, target)
	assert.Empty(t, missing)
	assert.Empty(t, removed)
}

func TestErrorBudget(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		total int
		want  int
	}{{"2", 9, 2}, {"0", 50, 0}, {"10%", 9, 0}, {"10%", 50, 5}, {"100%", 7, 7}} {
		assert.Equal(t, tc.want, errorBudget(tc.spec, tc.total), "%s of %d", tc.spec, tc.total)
	}
}

func TestTruncBytes(t *testing.T) {
	assert.Equal(t, "a → b", truncBytes("a → b", 100))
	got := truncBytes("ab→cd", 4)
	assert.Equal(t, "ab", got, "never half a rune")
	assert.LessOrEqual(t, len(truncBytes(string(make([]byte, 300)), 100)), 100)
}

func TestRecipeTagsSplitAndJoin(t *testing.T) {
	var long []lineage.RecipeVersion
	for i := range 30 {
		long = append(long, lineage.RecipeVersion{Name: fmt.Sprintf("recipe_number_%02d", i), Version: "10.20.30"})
	}
	tags := map[string]string{}
	write := func(rs []lineage.RecipeVersion) {
		for _, tg := range recipeTags(rs) {
			assert.LessOrEqual(t, len(*tg.Value), maxTagValue, *tg.Key)
			tags[*tg.Key] = *tg.Value
		}
	}
	write(long)
	assert.NotEmpty(t, tags["amibake:recipes-3"], "a long list spans several tags")
	got, ok := instanceRecipes(tags)
	assert.True(t, ok)
	assert.Equal(t, lineage.FormatRecipes(long), got)

	// A shorter list later: the longer one's extra parts are not read on.
	short := long[:2]
	write(short)
	got, _ = instanceRecipes(tags)
	assert.Equal(t, lineage.FormatRecipes(short), got)

	_, ok = instanceRecipes(map[string]string{"role": "worker"})
	assert.False(t, ok)
	got, ok = instanceRecipes(map[string]string{"amibake:recipes": "", "amibake:recipes-2": "stale@1"})
	assert.True(t, ok)
	assert.Empty(t, got, "an instance that carries no recipes")
}
