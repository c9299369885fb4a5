package inventory

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/rpmver"
)

// Side is one AMI of a diff.
type Side struct {
	AMI         string `json:"ami"`
	Region      string `json:"region"`
	Layer       string `json:"layer,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	ParentAMI   string `json:"parent_ami,omitempty"`
	Packages    int    `json:"packages"`
}

// PackageChange is one package that differs. From is empty for an added
// package, To for a removed one.
type PackageChange struct {
	Name string `json:"name"`
	Arch string `json:"arch,omitempty"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// RecipeChange is one recipe that differs (from the amibake:recipes tags).
// From is empty for an added recipe, To for a removed one.
type RecipeChange struct {
	Name string `json:"name"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Diff is what changed from AMI A to AMI B.
type Diff struct {
	A          Side            `json:"a"`
	B          Side            `json:"b"`
	Added      []PackageChange `json:"added"`
	Removed    []PackageChange `json:"removed"`
	Upgraded   []PackageChange `json:"upgraded"`
	Downgraded []PackageChange `json:"downgraded"`
	Recipes    []RecipeChange  `json:"recipes"`
	// ParentChanged says the two AMIs were built on different parents (or
	// sources, for roots).
	ParentChanged bool   `json:"parent_changed"`
	Summary       string `json:"summary"`
}

// Empty reports whether nothing differs.
func (d *Diff) Empty() bool {
	return len(d.Added)+len(d.Removed)+len(d.Upgraded)+len(d.Downgraded)+len(d.Recipes) == 0 && !d.ParentChanged
}

// Compare diffs two inventories. Recipes come from the AMIs' amibake:recipes
// tags (the documents' recipes when an AMI has no tag); the parent from
// amibake:parent-ami (amibake:source for roots).
func Compare(a, b *Document, ia, ib lineage.Image) *Diff {
	d := &Diff{
		A:     Side{AMI: ia.ID, Region: ia.Region, Layer: ia.Layer, Fingerprint: ia.Fingerprint, ParentAMI: ia.ParentAMI, Packages: len(a.Packages)},
		B:     Side{AMI: ib.ID, Region: ib.Region, Layer: ib.Layer, Fingerprint: ib.Fingerprint, ParentAMI: ib.ParentAMI, Packages: len(b.Packages)},
		Added: []PackageChange{}, Removed: []PackageChange{}, Upgraded: []PackageChange{}, Downgraded: []PackageChange{},
		Recipes: []RecipeChange{},
	}
	d.comparePackages(a.Packages, b.Packages)
	d.Recipes = compareRecipes(recipesOf(ia, a), recipesOf(ib, b))
	d.ParentChanged = ia.ParentAMI != ib.ParentAMI || (ia.ParentAMI == "" && ia.Source != ib.Source)
	d.Summary = d.summary()
	return d
}

func recipesOf(img lineage.Image, doc *Document) []Recipe {
	if _, ok := img.Tags[lineage.TagRecipes]; ok || doc == nil {
		out := make([]Recipe, len(img.Recipes))
		for i, r := range img.Recipes {
			out[i] = Recipe{Name: r.Name, Version: r.Version}
		}
		return out
	}
	return doc.Recipes
}

func byName(pkgs []Package) map[string][]Package {
	m := map[string][]Package{}
	for _, p := range pkgs {
		m[p.Name] = append(m[p.Name], p)
	}
	return m
}

// comparePackages matches packages by name; a name installed for several
// architectures on either side is matched per architecture.
func (d *Diff) comparePackages(a, b []Package) {
	ma, mb := byName(a), byName(b)
	names := map[string]bool{}
	for n := range ma {
		names[n] = true
	}
	for n := range mb {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		pa, pb := ma[n], mb[n]
		if len(pa) == 1 && len(pb) == 1 {
			d.pair(&pa[0], &pb[0])
			continue
		}
		arches := map[string]bool{}
		for _, p := range pa {
			arches[p.Arch] = true
		}
		for _, p := range pb {
			arches[p.Arch] = true
		}
		archList := make([]string, 0, len(arches))
		for x := range arches {
			archList = append(archList, x)
		}
		sort.Strings(archList)
		for _, arch := range archList {
			d.pair(findArch(pa, arch), findArch(pb, arch))
		}
	}
}

func findArch(ps []Package, arch string) *Package {
	for i := range ps {
		if ps[i].Arch == arch {
			return &ps[i]
		}
	}
	return nil
}

func (d *Diff) pair(a, b *Package) {
	switch {
	case a == nil && b != nil:
		d.Added = append(d.Added, PackageChange{Name: b.Name, Arch: b.Arch, To: b.Version})
	case a != nil && b == nil:
		d.Removed = append(d.Removed, PackageChange{Name: a.Name, Arch: a.Arch, From: a.Version})
	case a != nil && b != nil:
		switch c := rpmver.CompareVersions(a.Version, b.Version); {
		case c < 0:
			d.Upgraded = append(d.Upgraded, PackageChange{Name: b.Name, Arch: b.Arch, From: a.Version, To: b.Version})
		case c > 0:
			d.Downgraded = append(d.Downgraded, PackageChange{Name: b.Name, Arch: b.Arch, From: a.Version, To: b.Version})
		}
	}
}

func compareRecipes(a, b []Recipe) []RecipeChange {
	out := []RecipeChange{}
	va := map[string]string{}
	for _, r := range a {
		va[r.Name] = r.Version
	}
	vb := map[string]string{}
	for _, r := range b {
		vb[r.Name] = r.Version
	}
	// B's order (layer order), then the recipes only A had.
	for _, r := range b {
		from, ok := va[r.Name]
		switch {
		case !ok:
			out = append(out, RecipeChange{Name: r.Name, To: r.Version})
		case from != r.Version:
			out = append(out, RecipeChange{Name: r.Name, From: from, To: r.Version})
		}
	}
	for _, r := range a {
		if _, ok := vb[r.Name]; !ok {
			out = append(out, RecipeChange{Name: r.Name, From: r.Version})
		}
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// summary is the one-line account: "+1 package, 2 upgraded, recipe
// nginx_runtime 1.3.0→1.4.0".
func (d *Diff) summary() string {
	var parts []string
	if n := len(d.Added); n > 0 {
		parts = append(parts, "+"+plural(n, "package"))
	}
	if n := len(d.Removed); n > 0 {
		parts = append(parts, "-"+plural(n, "package"))
	}
	if n := len(d.Upgraded); n > 0 {
		parts = append(parts, fmt.Sprintf("%d upgraded", n))
	}
	if n := len(d.Downgraded); n > 0 {
		parts = append(parts, fmt.Sprintf("%d downgraded", n))
	}
	for _, r := range d.Recipes {
		switch {
		case r.From == "":
			parts = append(parts, fmt.Sprintf("recipe %s added (%s)", r.Name, r.To))
		case r.To == "":
			parts = append(parts, fmt.Sprintf("recipe %s removed", r.Name))
		default:
			parts = append(parts, fmt.Sprintf("recipe %s %s→%s", r.Name, r.From, r.To))
		}
	}
	if d.ParentChanged {
		parts = append(parts, "parent changed")
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// WriteMarkdown renders the diff as Markdown that reads well in a terminal
// and in a pull-request comment.
func (d *Diff) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	title := d.A.AMI + " → " + d.B.AMI
	if d.A.Layer != "" && d.A.Layer == d.B.Layer {
		title += " (" + d.A.Layer + ")"
	}
	fmt.Fprintf(&b, "### %s\n\n%s\n", title, d.Summary)
	type row struct{ change, name, arch, from, to string }
	var rows []row
	for _, group := range []struct {
		label string
		list  []PackageChange
	}{{"added", d.Added}, {"removed", d.Removed}, {"upgraded", d.Upgraded}, {"downgraded", d.Downgraded}} {
		for _, c := range group.list {
			rows = append(rows, row{group.label, c.Name, c.Arch, c.From, c.To})
		}
	}
	if len(rows) > 0 {
		fmt.Fprintf(&b, "\n| package | arch | change | %s | %s |\n|---|---|---|---|---|\n", d.A.AMI, d.B.AMI)
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.name, orDash(r.arch), r.change, orDash(r.from), orDash(r.to))
		}
	}
	if len(d.Recipes) > 0 {
		fmt.Fprintf(&b, "\n| recipe | %s | %s |\n|---|---|---|\n", d.A.AMI, d.B.AMI)
		for _, r := range d.Recipes {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Name, orDash(r.From), orDash(r.To))
		}
	}
	if d.ParentChanged {
		fmt.Fprintf(&b, "\nParent: %s → %s\n", orDash(d.A.ParentAMI), orDash(d.B.ParentAMI))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
