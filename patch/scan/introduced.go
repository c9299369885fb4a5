package scan

// Sources of the package sets attribution reads, best first.
const (
	// SourceInventory is the AMI's stored inventory document: what its
	// build instance held just before the image was created (exact).
	SourceInventory = "inventory"
	// SourceScan is the package rows of the AMI's patch scan: only what
	// Patch Manager reports on, and read from a fresh scan instance.
	SourceScan = "scan"
)

// Ancestor is one AMI of a lineage chain with the package set attribution
// reads for it.
type Ancestor struct {
	AMI      string
	Layer    string
	Packages map[string]string // name → version ("" when unknown)
	Source   string            // SourceInventory or SourceScan
}

// Attribute sets IntroducedBy (and IntroducedFrom, the source of the
// package set that decided it) on each missing and failed finding of r:
// walking chain (r's AMI first, the root's last) from the root up, the
// first AMI whose package set has the package introduced it. An AMI
// without a package set (nil Packages) is passed over.
func Attribute(r *Report, chain []Ancestor) {
	find := func(pkg string) (string, string) {
		for i := len(chain) - 1; i >= 0; i-- {
			a := chain[i]
			if a.Packages == nil {
				continue
			}
			if _, ok := a.Packages[pkg]; ok {
				return a.Layer, a.Source
			}
		}
		return "", ""
	}
	for i := range r.Missing {
		r.Missing[i].IntroducedBy, r.Missing[i].IntroducedFrom = find(r.Missing[i].Package)
	}
	for i := range r.Failed {
		r.Failed[i].IntroducedBy, r.Failed[i].IntroducedFrom = find(r.Failed[i].Package)
	}
}
