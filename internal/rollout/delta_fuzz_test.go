package rollout

import (
	"strings"
	"testing"

	"github.com/amibake/amibake/internal/lineage"
)

// FuzzRecipeTags: any list of recipes (names and versions without the
// separators ',' and '@', as config allows) splits into tag values EC2
// accepts and joins back to the one-tag rendering, also over the tags of
// an earlier, longer list.
func FuzzRecipeTags(f *testing.F) {
	f.Add("base@1.0.0 security_agent@2.1.0", 3, 0)
	f.Add(strings.Repeat("recipe_number_xx@10.20.30 ", 30), 1, 40)
	f.Add("", 0, 0)
	f.Fuzz(func(t *testing.T, list string, repeat, earlier int) {
		var rs []lineage.RecipeVersion
		for _, e := range strings.Fields(list) {
			name, ver, _ := strings.Cut(e, "@")
			if name == "" || len(name) > 64 || len(ver) > 32 || strings.ContainsAny(name+ver, ",@") {
				return
			}
			rs = append(rs, lineage.RecipeVersion{Name: name, Version: ver})
		}
		for i := 0; i < repeat%8 && len(rs) < 200; i++ {
			rs = append(rs, rs...)
		}
		var longer []lineage.RecipeVersion
		for i := range earlier % 64 {
			longer = append(longer, lineage.RecipeVersion{Name: "earlier_recipe", Version: strings.Repeat("9", i%20+1)})
		}
		tags := map[string]string{}
		for _, set := range [][]lineage.RecipeVersion{longer, rs} {
			for _, tg := range recipeTags(set) {
				if len(*tg.Value) > maxTagValue {
					t.Fatalf("%s is %d characters, over EC2's %d", *tg.Key, len(*tg.Value), maxTagValue)
				}
				tags[*tg.Key] = *tg.Value
			}
		}
		got, ok := instanceRecipes(tags)
		if !ok {
			t.Fatal("no amibake:recipes tag read back")
		}
		if want := lineage.FormatRecipes(rs); got != want {
			t.Fatalf("joined %q, want %q", got, want)
		}
		if back := lineage.ParseRecipes(got); len(back) != len(rs) {
			t.Fatalf("%d recipes parse back from %d", len(back), len(rs))
		}
	})
}
