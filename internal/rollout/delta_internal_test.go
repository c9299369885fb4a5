package rollout

import (
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
