package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/amibake/amibake/internal/rpmver"
)

// Catalogue is the simulated package and patch universe: packages with
// their versions over (virtual) time and the patches (advisories) that
// ship them, with classification and severity. It stands in for the
// Amazon Linux 2023 repositories and the ALAS advisory feed.
type Catalogue struct {
	// Start anchors the seeded history: every seeded release is dated
	// relative to it, so the same start gives the same catalogue.
	Start    time.Time                  `json:"start"`
	Packages map[string]*CatalogPackage `json:"packages"`
	// Patches are the advisories, in release order.
	Patches []*Patch `json:"patches"`
	// AdvisorySeq numbers advisories per year (ALAS2023-YYYY-NNN).
	AdvisorySeq map[string]int `json:"advisory_seq"`
}

// CatalogPackage is one package with every version ever released.
type CatalogPackage struct {
	Name string `json:"name"`
	// NoArch packages report ".noarch" in patch titles.
	NoArch bool `json:"noarch,omitempty"`
	// Base is in the stock (JeOS) image; Minimal also in the minimal one.
	Base    bool `json:"base,omitempty"`
	Minimal bool `json:"minimal,omitempty"`
	// Lazy packages were unknown and added on first use (third-party
	// repositories, typos): they get one plausible version.
	Lazy     bool             `json:"lazy,omitempty"`
	Versions []PackageVersion `json:"versions"` // ascending by release time and version
}

// PackageVersion is one released version-release of a package.
type PackageVersion struct {
	Version  string    `json:"version"` // "3.0.8-1.amzn2023.0.14"
	Released time.Time `json:"released"`
	Advisory string    `json:"advisory,omitempty"` // the patch that shipped it
}

// Patch is an advisory: which package versions fix what, and how bad it is.
type Patch struct {
	ID             string         `json:"id"` // ALAS2023-2025-123
	Title          string         `json:"title"`
	Description    string         `json:"description,omitempty"`
	Classification string         `json:"classification"` // Security | Bugfix | Enhancement | Recommended | Newpackage
	Severity       string         `json:"severity"`       // Critical | Important | Medium | Low
	Released       time.Time      `json:"released"`
	CVEs           []string       `json:"cves,omitempty"`
	Packages       []PatchPackage `json:"packages"`
}

// PatchPackage is a package version an advisory ships (the fixed version).
type PatchPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Classifications and severities Patch Manager knows for Amazon Linux.
var (
	PatchClassifications = []string{"Security", "Bugfix", "Enhancement", "Recommended", "Newpackage"}
	PatchSeverities      = []string{"Critical", "Important", "Medium", "Low"}
)

// basePackages are in every stock AL2023 image (name → first version).
// minimal marks the ones the minimal image also carries.
var seedPackages = []struct {
	name, version string
	base, minimal bool
	noarch        bool
}{
	{"amazon-ssm-agent", "3.3.987.0-1.amzn2023", true, false, false},
	{"audit", "3.0.6-1.amzn2023.0.2", true, false, false},
	{"bash", "5.2.15-1.amzn2023.0.2", true, true, false},
	{"ca-certificates", "2023.2.64-1.0.amzn2023.0.1", true, true, true},
	{"chrony", "4.3-1.amzn2023.0.4", true, false, false},
	{"cloud-init", "22.2.2-1.amzn2023.1.12", true, false, true},
	{"coreutils", "8.32-30.amzn2023.0.3", true, true, false},
	{"curl", "8.5.0-1.amzn2023.0.4", true, true, false},
	{"dnf", "4.14.0-1.amzn2023.0.5", true, true, true},
	{"ec2-utils", "2.2.0-1.amzn2023.0.2", true, false, true},
	{"glibc", "2.34-52.amzn2023.0.11", true, true, false},
	{"gnupg2", "2.3.7-1.amzn2023.0.4", true, true, false},
	{"kernel", "6.1.112-122.189.amzn2023", true, true, false},
	{"krb5-libs", "1.21-3.amzn2023.0.4", true, true, false},
	{"less", "608-2.amzn2023.0.2", true, false, false},
	{"libcurl", "8.5.0-1.amzn2023.0.4", true, true, false},
	{"libxml2", "2.10.4-1.amzn2023.0.6", true, true, false},
	{"openssh", "8.7p1-8.amzn2023.0.11", true, false, false},
	{"openssh-clients", "8.7p1-8.amzn2023.0.11", true, false, false},
	{"openssh-server", "8.7p1-8.amzn2023.0.11", true, false, false},
	{"openssl", "3.0.8-1.amzn2023.0.14", true, true, false},
	{"openssl-libs", "3.0.8-1.amzn2023.0.14", true, true, false},
	{"python3", "3.9.16-1.amzn2023.0.9", true, true, false},
	{"python3-libs", "3.9.16-1.amzn2023.0.9", true, true, false},
	{"rpm", "4.16.1.3-29.amzn2023.0.6", true, true, false},
	{"sqlite-libs", "3.40.0-1.amzn2023.0.4", true, true, false},
	{"sudo", "1.9.15-1.p5.amzn2023.0.1", true, false, false},
	{"systemd", "252.23-2.amzn2023", true, true, false},
	{"tar", "1.34-1.amzn2023.0.4", true, true, false},
	{"tzdata", "2024a-1.amzn2023.0.1", true, true, true},
	{"util-linux", "2.37.4-1.amzn2023.0.4", true, true, false},
	{"vim-minimal", "9.0.2153-1.amzn2023.0.1", true, true, false},
	{"xz", "5.2.5-9.amzn2023.0.2", true, true, false},
	{"zlib", "1.2.11-33.amzn2023.0.5", true, true, false},
	// In the repositories, not in the image.
	{"amazon-cloudwatch-agent", "1.300032.2-1.amzn2023", false, false, false},
	{"docker", "25.0.3-1.amzn2023.0.1", false, false, false},
	{"fluent-bit", "3.0.4-1", false, false, false},
	{"gcc", "11.4.1-2.amzn2023.0.2", false, false, false},
	{"git", "2.40.1-1.amzn2023.0.3", false, false, false},
	{"htop", "3.2.1-1.amzn2023.0.2", false, false, false},
	{"httpd", "2.4.58-1.amzn2023", false, false, false},
	{"java-17-amazon-corretto", "17.0.10+7-1.amzn2023.1", false, false, false},
	{"jq", "1.7.1-1.amzn2023.0.1", false, false, false},
	{"nftables", "1.0.4-3.amzn2023.0.2", false, false, false},
	{"nginx", "1.24.0-1.amzn2023.0.2", false, false, false},
	{"nodejs", "18.18.2-1.amzn2023.0.1", false, false, false},
	{"postgresql15", "15.6-1.amzn2023.0.1", false, false, false},
	{"python3.11", "3.11.6-1.amzn2023.0.2", false, false, false},
	{"python3.11-devel", "3.11.6-1.amzn2023.0.2", false, false, false},
	{"python3.11-pip", "22.3.1-4.amzn2023.0.3", false, false, true},
	{"rsh", "0.17-100.amzn2023.0.2", false, false, false},
	{"telnet", "0.17-85.amzn2023.0.2", false, false, false},
	{"tftp", "5.2-37.amzn2023.0.2", false, false, false},
	{"ypbind", "2.7.2-9.amzn2023.0.2", false, false, false},
}

// seedAdvisories are released before the world starts, days before Start.
var seedAdvisories = []struct {
	daysAgo        int
	classification string
	severity       string
	packages       []string
	cves           int
}{
	{330, "Security", "Important", []string{"glibc"}, 2},
	{270, "Security", "Important", []string{"openssl", "openssl-libs"}, 1},
	{240, "Security", "Medium", []string{"curl", "libcurl"}, 1},
	{200, "Bugfix", "Low", []string{"systemd"}, 0},
	{180, "Security", "Important", []string{"kernel"}, 3},
	{150, "Security", "Important", []string{"sudo"}, 1},
	{120, "Security", "Critical", []string{"openssh", "openssh-clients", "openssh-server"}, 1},
	{100, "Enhancement", "Low", []string{"amazon-ssm-agent"}, 0},
	{90, "Security", "Important", []string{"nginx"}, 2},
	{75, "Security", "Medium", []string{"python3", "python3-libs"}, 1},
	{60, "Security", "Important", []string{"kernel"}, 2},
	{50, "Bugfix", "Low", []string{"chrony"}, 0},
	{45, "Security", "Important", []string{"curl", "libcurl"}, 1},
	{40, "Security", "Medium", []string{"libxml2"}, 1},
	{30, "Security", "Important", []string{"glibc"}, 1},
	{25, "Recommended", "Low", []string{"ca-certificates"}, 0},
	{21, "Security", "Critical", []string{"openssl", "openssl-libs"}, 2},
	{18, "Security", "Important", []string{"python3.11", "python3.11-devel"}, 1},
	{14, "Security", "Important", []string{"kernel"}, 2},
	{12, "Bugfix", "Medium", []string{"fluent-bit"}, 0},
	{10, "Security", "Medium", []string{"sudo"}, 1},
	{8, "Security", "Important", []string{"nginx"}, 1},
	{6, "Security", "Important", []string{"systemd"}, 1},
	{5, "Enhancement", "Low", []string{"amazon-cloudwatch-agent"}, 0},
	{4, "Security", "Low", []string{"vim-minimal"}, 1},
	{3, "Security", "Critical", []string{"curl", "libcurl"}, 1},
	{2, "Bugfix", "Low", []string{"amazon-ssm-agent"}, 0},
	{1, "Security", "Medium", []string{"tzdata", "jq"}, 0},
}

// catalogueEpoch is how long before Start the first versions shipped.
const catalogueEpoch = 2 * 365 * 24 * time.Hour

func newCatalogue(start time.Time) *Catalogue {
	c := &Catalogue{Start: start.UTC(), Packages: map[string]*CatalogPackage{}, AdvisorySeq: map[string]int{}}
	first := c.Start.Add(-catalogueEpoch)
	for _, p := range seedPackages {
		c.Packages[p.name] = &CatalogPackage{Name: p.name, Base: p.base, Minimal: p.minimal, NoArch: p.noarch,
			Versions: []PackageVersion{{Version: p.version, Released: first}}}
	}
	day := 24 * time.Hour
	for _, a := range seedAdvisories {
		released := c.Start.Add(-time.Duration(a.daysAgo) * day).Truncate(day).Add(18 * time.Hour)
		var cves []string
		for i := 0; i < a.cves; i++ {
			cves = append(cves, c.seededCVE(a.packages[0], a.daysAgo, i, released))
		}
		c.release(PatchRelease{Packages: a.packages, Classification: a.classification, Severity: a.severity, CVEs: cves}, released)
	}
	return c
}

func (c *Catalogue) seededCVE(pkg string, days, i int, released time.Time) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%d", pkg, days, i)))
	return fmt.Sprintf("CVE-%d-%d", released.Year(), 1000+binary.BigEndian.Uint32(h[:4])%49000)
}

// PatchRelease asks for a new advisory (admin API, tests).
type PatchRelease struct {
	// Package is the main package; Packages adds more (openssl and
	// openssl-libs ship together).
	Package        string   `json:"package,omitempty"`
	Packages       []string `json:"packages,omitempty"`
	Classification string   `json:"classification,omitempty"` // default Security
	Severity       string   `json:"severity,omitempty"`       // default Important
	CVEs           []string `json:"cves,omitempty"`
	// Version pins the fixed version; default: the latest version bumped.
	Version     string `json:"version,omitempty"`
	ID          string `json:"id,omitempty"` // default: next ALAS2023-YYYY-NNN
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// ReleasePatch publishes an advisory at now: a new version of each package
// and the patch that ships it. Unknown packages are added first.
func (c *Catalogue) ReleasePatch(r PatchRelease, now time.Time) (*Patch, error) {
	if r.Package != "" {
		r.Packages = append([]string{r.Package}, r.Packages...)
	}
	if len(r.Packages) == 0 {
		return nil, fmt.Errorf("patch release: no package")
	}
	if r.Classification == "" {
		r.Classification = "Security"
	}
	if r.Severity == "" {
		r.Severity = "Important"
	}
	if !ssmContains(PatchClassifications, r.Classification) {
		return nil, fmt.Errorf("patch release: classification %q is not one of %v", r.Classification, PatchClassifications)
	}
	if !ssmContains(PatchSeverities, r.Severity) {
		return nil, fmt.Errorf("patch release: severity %q is not one of %v", r.Severity, PatchSeverities)
	}
	if r.ID != "" && c.Patch(r.ID) != nil {
		return nil, fmt.Errorf("patch release: advisory %s exists", r.ID)
	}
	for _, name := range r.Packages {
		c.ensurePackage(name)
		if r.Version != "" && vercmp(r.Version, c.Packages[name].Versions[len(c.Packages[name].Versions)-1].Version) <= 0 {
			return nil, fmt.Errorf("patch release: version %s of %s is not newer than %s", r.Version, name, c.Packages[name].Versions[len(c.Packages[name].Versions)-1].Version)
		}
	}
	return c.release(r, now), nil
}

func (c *Catalogue) release(r PatchRelease, now time.Time) *Patch {
	now = now.UTC()
	id := r.ID
	if id == "" {
		year := strconv.Itoa(now.Year())
		if c.AdvisorySeq[year] == 0 {
			c.AdvisorySeq[year] = 100 + int(sha256.Sum256([]byte(year))[0])
		}
		c.AdvisorySeq[year]++
		id = fmt.Sprintf("ALAS2023-%s-%03d", year, c.AdvisorySeq[year])
	}
	p := &Patch{ID: id, Classification: r.Classification, Severity: r.Severity, Released: now,
		CVEs: append([]string(nil), r.CVEs...), Title: r.Title, Description: r.Description}
	for _, name := range r.Packages {
		c.ensurePackage(name)
		pkg := c.Packages[name]
		v := r.Version
		if v == "" {
			v = bumpVersion(pkg.Versions[len(pkg.Versions)-1].Version)
		}
		pkg.Versions = append(pkg.Versions, PackageVersion{Version: v, Released: now, Advisory: id})
		p.Packages = append(p.Packages, PatchPackage{Name: name, Version: v})
	}
	if p.Title == "" {
		names := make([]string, 0, len(p.Packages))
		for _, pp := range p.Packages {
			names = append(names, pp.Name)
		}
		word := map[string]string{"Security": "security update", "Bugfix": "bug fix update", "Enhancement": "enhancement update",
			"Recommended": "recommended update", "Newpackage": "new package"}[p.Classification]
		p.Title = fmt.Sprintf("Amazon Linux 2023 - %s: %s %s", id, strings.Join(names, ", "), word)
	}
	if p.Description == "" {
		p.Description = fmt.Sprintf("Package updates are available for Amazon Linux 2023 that fix %s in %s.",
			strings.ToLower(p.Classification)+" issues", p.Packages[0].Name)
	}
	c.Patches = append(c.Patches, p)
	return p
}

// Patch returns an advisory by id.
func (c *Catalogue) Patch(id string) *Patch {
	for _, p := range c.Patches {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// ensurePackage adds an unknown package with one plausible version,
// released when the catalogue's history begins.
func (c *Catalogue) ensurePackage(name string) *CatalogPackage {
	if p := c.Packages[name]; p != nil {
		return p
	}
	h := sha256.Sum256([]byte(name))
	v := fmt.Sprintf("%d.%d.%d-1.amzn2023", 1+h[0]%4, h[1]%20, h[2]%10)
	p := &CatalogPackage{Name: name, Lazy: true, Versions: []PackageVersion{{Version: v, Released: c.Start.Add(-catalogueEpoch)}}}
	c.Packages[name] = p
	return p
}

// Latest is the newest version of a package released by at ("" if none).
func (c *Catalogue) Latest(name string, at time.Time) string {
	p := c.Packages[name]
	if p == nil {
		return ""
	}
	best := ""
	for _, v := range p.Versions {
		if !v.Released.After(at) && (best == "" || vercmp(v.Version, best) > 0) {
			best = v.Version
		}
	}
	return best
}

// resolveVersion picks the version a `dnf install NAME[-VERSION]` gets at
// time at: an explicit version pins it (completing a bare upstream version
// with the catalogue's release, or a default release); otherwise the newest
// released. Unknown packages are added lazily.
func (c *Catalogue) resolveVersion(name, want string, at time.Time) string {
	p := c.ensurePackage(name)
	if want == "" {
		if v := c.Latest(name, at); v != "" {
			return v
		}
		return p.Versions[0].Version
	}
	best := ""
	for _, v := range p.Versions {
		if v.Released.After(at) {
			continue
		}
		if (v.Version == want || strings.HasPrefix(v.Version, want+"-") || strings.HasPrefix(v.Version, want+".")) &&
			(best == "" || vercmp(v.Version, best) > 0) {
			best = v.Version
		}
	}
	if best != "" {
		return best
	}
	if strings.Contains(want, "-") {
		return want
	}
	return want + "-1.amzn2023"
}

// JeOSPackages is the package set of a fresh Amazon Linux 2023 image of the
// given release (e.g. "2023.6.20241010.0"): every base package at the
// newest version released on or before the release date. A release whose
// date cannot be read gets the versions current at the catalogue's start.
func (c *Catalogue) JeOSPackages(release string) map[string]string {
	return c.jeos(release, false)
}

// JeOSMinimalPackages is the package set of the minimal AL2023 image of a
// release: no SSM agent, cloud-init, chrony, audit or ssh server.
func (c *Catalogue) JeOSMinimalPackages(release string) map[string]string {
	return c.jeos(release, true)
}

func (c *Catalogue) jeos(release string, minimal bool) map[string]string {
	at := ReleaseDate(release)
	if at.IsZero() {
		at = c.Start
	}
	out := map[string]string{}
	for name, p := range c.Packages {
		if !p.Base || (minimal && !p.Minimal) {
			continue
		}
		v := c.Latest(name, at)
		if v == "" {
			v = p.Versions[0].Version
		}
		out[name] = v
	}
	return out
}

// ReleaseDate reads the date of an AL2023 release string
// ("2023.6.20241010.0" → 2024-10-10 23:59:59 UTC); zero if it has none.
func ReleaseDate(release string) time.Time {
	for _, part := range strings.Split(release, ".") {
		if len(part) == 8 {
			if t, err := time.Parse("20060102", part); err == nil {
				return t.Add(24*time.Hour - time.Second)
			}
		}
	}
	return time.Time{}
}

// ReleaseFor is the AL2023 release string of a date, as the images name it.
func ReleaseFor(t time.Time) string {
	minor := 6 + (t.Year()-2024)*2
	if t.Month() > 6 {
		minor++
	}
	if minor < 0 {
		minor = 0
	}
	return fmt.Sprintf("2023.%d.%s.0", minor, t.UTC().Format("20060102"))
}

// PatchesFor lists the advisories that touch a package, in release order.
func (c *Catalogue) PatchesFor(name string) []*Patch {
	var out []*Patch
	for _, p := range c.Patches {
		for _, pp := range p.Packages {
			if pp.Name == name {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// Released lists the advisories released by at.
func (c *Catalogue) Released(at time.Time) []*Patch {
	var out []*Patch
	for _, p := range c.Patches {
		if !p.Released.After(at) {
			out = append(out, p)
		}
	}
	return out
}

// fixedVersion is the version of name a patch ships ("" if it does not).
func (p *Patch) fixedVersion(name string) string {
	for _, pp := range p.Packages {
		if pp.Name == name {
			return pp.Version
		}
	}
	return ""
}

// bumpVersion makes the next release of a version-release string: the
// number before ".amzn2023" or, failing that, the last number goes up.
func bumpVersion(v string) string {
	if i := strings.Index(v, ".amzn2023"); i > 0 {
		head, tail := v[:i], v[i:]
		// AL2023 releases look like N.amzn2023.M: bump M when present.
		if j := strings.LastIndexByte(tail, '.'); j > len(".amzn2023")-1 {
			if n, err := strconv.Atoi(tail[j+1:]); err == nil {
				return head + tail[:j+1] + strconv.Itoa(n+1)
			}
		}
		return bumpLastNumber(head) + tail
	}
	return bumpLastNumber(v)
}

func bumpLastNumber(s string) string {
	end := -1
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] >= '0' && s[i] <= '9' {
			end = i
			break
		}
	}
	if end < 0 {
		return s + ".1"
	}
	start := end
	for start > 0 && s[start-1] >= '0' && s[start-1] <= '9' {
		start--
	}
	n, _ := strconv.Atoi(s[start : end+1])
	return s[:start] + strconv.Itoa(n+1) + s[end+1:]
}

// vercmp orders two [epoch:]version-release strings the way rpm does.
func vercmp(a, b string) int { return rpmver.CompareVersions(a, b) }

// splitVR splits version-release at the last '-'.
func splitVR(s string) (string, string) {
	e := rpmver.ParseEVR(s)
	return e.Version, e.Release
}

// sortedPatches returns patches ordered by release then id.
func sortedPatches(ps []*Patch) []*Patch {
	out := append([]*Patch(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Released.Equal(out[j].Released) {
			return out[i].Released.Before(out[j].Released)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
