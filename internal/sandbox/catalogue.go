package sandbox

import "time"

// Catalogue is the simulated package and patch universe: packages with
// their versions over (virtual) time and the patches (advisories) that
// ship them, with classification and severity.
type Catalogue struct{}

func newCatalogue(start time.Time) *Catalogue { return &Catalogue{} }

// JeOSPackages is the package set of a fresh Amazon Linux 2023 image of the
// given release (e.g. "2023.6.20241010").
func (c *Catalogue) JeOSPackages(release string) map[string]string {
	return map[string]string{
		"bash":             "5.2.15-1.amzn2023.0.2",
		"glibc":            "2.34-52.amzn2023.0.11",
		"openssl":          "3.0.8-1.amzn2023.0.14",
		"kernel":           "6.1.112-122.189.amzn2023",
		"systemd":          "252.23-2.amzn2023",
		"dnf":              "4.14.0-1.amzn2023.0.5",
		"curl":             "8.5.0-1.amzn2023.0.4",
		"openssh":          "8.7p1-8.amzn2023.0.11",
		"sudo":             "1.9.15-1.p5.amzn2023.0.1",
		"amazon-ssm-agent": "3.3.987.0-1.amzn2023",
	}
}
