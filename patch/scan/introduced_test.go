package scan

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAttribute(t *testing.T) {
	r := &Report{
		Missing: []Finding{{Package: "kernel"}, {Package: "nginx"}, {Package: "jq"}, {Package: "ghost"}},
		Failed:  []Finding{{Package: "openssl"}},
	}
	chain := []Ancestor{ // r's AMI first, the root last
		{AMI: "ami-web", Layer: "app-web", Source: SourceScan, Packages: map[string]string{"kernel": "", "nginx": "1", "jq": "1", "openssl": "3"}},
		{AMI: "ami-base", Layer: "base", Source: SourceInventory, Packages: map[string]string{"kernel": "6", "jq": "1", "openssl": "3"}},
		{AMI: "ami-gone", Layer: "foundation"}, // no package set: passed over
		{AMI: "ami-linux", Layer: "linux", Source: SourceScan, Packages: map[string]string{"kernel": "6", "openssl": "3"}},
	}
	Attribute(r, chain)
	got := map[string][2]string{}
	for _, f := range append(r.Missing, r.Failed...) {
		got[f.Package] = [2]string{f.IntroducedBy, f.IntroducedFrom}
	}
	assert.Equal(t, map[string][2]string{
		"kernel":  {"linux", SourceScan},
		"openssl": {"linux", SourceScan},
		"jq":      {"base", SourceInventory},
		"nginx":   {"app-web", SourceScan},
		"ghost":   {"", ""},
	}, got)
}
