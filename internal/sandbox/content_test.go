package sandbox

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadScriptRules(t *testing.T) {
	run := ReadScript([]string{
		"#!/bin/bash",
		"# amibake-step: base/tools",
		"set -euo pipefail",
		`level="${CIS_LEVEL:-2}"`,
		"export GREETING=hello",
		`echo "$GREETING level $level"`,
		`echo 'literal $level'`,
		`echo "to a file" > /etc/motd`,
		`echo "warn" >&2`,
		"sudo dnf -y install nginx python3.11-pip java-17-amazon-corretto nginx-1.24.0 ./local/acme-agent-2.1.0-3.x86_64.rpm",
		`dnf install -y "$pkg" 'tools*' @development`,
		"yum erase -y telnet && dnf remove -y rsh",
		"dnf upgrade -y --security",
		"dnf update -y curl",
		"rpm -Uvh https://example.com/pkgs/node_exporter-1.8.2-1.el9.x86_64.rpm",
		"rpm -q acme-agent >/dev/null",
		"dnf makecache",
		"cat >/etc/app.conf <<'CONF'",
		"dnf install -y never-installed",
		"exit 1",
		"CONF",
		"sleep 30",
		"for x in a b; do",
		"  echo inside loop",
		"  exit 4",
		"done",
		"if true; then exit 5; fi",
		`dnf install -y \`,
		`  jq \`,
		`  git`,
		"exit 0",
		"dnf install -y after-exit",
	})
	assert.Equal(t, "base/tools", run.StepName)
	assert.Equal(t, 0, run.ExitCode)
	assert.False(t, run.Failed())
	assert.Equal(t, "hello level 2\nliteral $level\n", run.Stdout)
	assert.Equal(t, "warn\n", run.Stderr)
	assert.Equal(t, 30*time.Second, run.Sleep)

	var got []string
	for _, op := range run.Ops {
		var names []string
		for _, p := range op.Packages {
			names = append(names, p.Name+"@"+p.Version)
		}
		sec := ""
		if op.Security {
			sec = "+security"
		}
		got = append(got, op.Kind+sec+":"+strings.Join(names, ","))
	}
	assert.Equal(t, []string{
		"install:nginx@,python3.11-pip@,java-17-amazon-corretto@,nginx-1.24.0@,acme-agent@2.1.0-3",
		"remove:telnet@",
		"remove:rsh@",
		"upgrade+security:",
		"upgrade:curl@",
		"install:node_exporter@1.8.2-1.el9",
		"install:jq@,git@",
	}, got)
}

func TestReadScriptFailures(t *testing.T) {
	run := ReadScript([]string{"echo start", "exit 2", "echo never"})
	assert.Equal(t, 2, run.ExitCode)
	assert.Equal(t, "start\n", run.Stdout)
	assert.Contains(t, run.Stderr, "exit status 2")

	run = ReadScript([]string{"dnf install -y jq", "# sandbox: fail", "dnf install -y git"})
	assert.Equal(t, 1, run.ExitCode)
	require.Len(t, run.Ops, 1, "lines after the marker never run")

	run = ReadScript([]string{"# sandbox: fail 42"})
	assert.Equal(t, 42, run.ExitCode)

	run = ReadScript([]string{`[ -f /x ] || exit 1`})
	assert.Equal(t, 0, run.ExitCode, "a conditional exit does not fail")

	run = ReadScript([]string{"main() {", "  exit 1", "}", "echo done"})
	assert.Equal(t, 0, run.ExitCode, "function bodies are not run")
	assert.Equal(t, "shell", run.StepName)
}

// TestExampleRecipesReadCleanly runs every example recipe script in the
// repository through the content model: none may fail, and every dnf line
// the recipes README allows must be understood.
func TestExampleRecipesReadCleanly(t *testing.T) {
	scripts, err := filepath.Glob("../../recipes/*/*.sh")
	require.NoError(t, err)
	if len(scripts) == 0 {
		t.Skip("no example recipes in this checkout")
	}
	cat := newCatalogue(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	for _, path := range scripts {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		run := ReadScript([]string{string(data)})
		assert.Equal(t, 0, run.ExitCode, "%s: %s", path, run.Stderr)
		dnfLines := 0
		for _, line := range strings.Split(string(data), "\n") {
			l := strings.TrimSpace(line)
			if strings.HasPrefix(l, "dnf install") || strings.HasPrefix(l, "dnf remove") || strings.HasPrefix(l, "dnf upgrade") {
				dnfLines++
			}
		}
		assert.Len(t, run.Ops, dnfLines, "%s: package lines", path)
		pkgs := map[string]string{"bash": "5.2.15-1.amzn2023.0.2"}
		cat.ApplyOps(pkgs, run.Ops, cat.Start)
		for _, op := range run.Ops {
			if op.Kind != "install" {
				continue
			}
			for _, p := range op.Packages {
				assert.NotEmpty(t, pkgs[p.Name], "%s: %s installed", path, p.Name)
			}
		}
	}
}

func TestApplyOpsVersions(t *testing.T) {
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cat := newCatalogue(start)
	pkgs := cat.JeOSPackages(ReleaseFor(start.Add(-200 * 24 * time.Hour)))
	oldCurl := pkgs["curl"]

	run := ReadScript([]string{"dnf install -y nginx-1.24.0 acme-thing", "dnf remove -y sudo"})
	cat.ApplyOps(pkgs, run.Ops, start)
	assert.True(t, strings.HasPrefix(pkgs["nginx"], "1.24.0-"), pkgs["nginx"])
	assert.Equal(t, cat.Latest("nginx", start), pkgs["nginx"], "the newest 1.24.0 release")
	assert.NotEmpty(t, pkgs["acme-thing"], "unknown packages get a plausible version")
	assert.True(t, cat.Packages["acme-thing"].Lazy)
	assert.NotContains(t, pkgs, "sudo")

	// --security takes the newest security fix; plain upgrade the newest version.
	cat.ApplyOps(pkgs, ReadScript([]string{"dnf upgrade -y --security curl"}).Ops, start)
	assert.Equal(t, cat.latestSecurityFix("curl", start), pkgs["curl"])
	assert.Equal(t, 1, vercmp(pkgs["curl"], oldCurl))
	cat.ApplyOps(pkgs, ReadScript([]string{"dnf upgrade -y"}).Ops, start)
	for name, v := range pkgs {
		if latest := cat.Latest(name, start); latest != "" {
			assert.Equal(t, latest, v, name)
		}
	}

	// A version the catalogue does not know is taken as given.
	cat.ApplyOps(pkgs, ReadScript([]string{"dnf install -y jq-9.9"}).Ops, start)
	assert.Equal(t, "9.9-1.amzn2023", pkgs["jq"])
}

func TestVercmp(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"1.0-1", "1.0-1", 0},
		{"1.0-1", "1.0-2", -1},
		{"1.10-1", "1.9-1", 1},
		{"3.0.8-1.amzn2023.0.14", "3.0.8-1.amzn2023.0.15", -1},
		{"6.1.112-122.189.amzn2023", "6.1.115-126.197.amzn2023", -1},
		{"1.0a-1", "1.0-1", 1},
		{"1.0-1", "1.0.1-1", -1},
		{"1.0~rc1-1", "1.0-1", -1},
		{"8.7p1-8.amzn2023.0.11", "8.7p1-8.amzn2023.0.12", -1},
		{"2024a-1.amzn2023.0.1", "2024b-1.amzn2023.0.1", -1},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, vercmp(c.a, c.b), "%s vs %s", c.a, c.b)
		assert.Equal(t, -c.want, vercmp(c.b, c.a), "%s vs %s", c.b, c.a)
	}
	assert.Equal(t, "3.0.8-1.amzn2023.0.15", bumpVersion("3.0.8-1.amzn2023.0.14"))
	assert.Equal(t, "6.1.112-122.190.amzn2023", bumpVersion("6.1.112-122.189.amzn2023"))
	assert.Equal(t, "3.0.4-2", bumpVersion("3.0.4-1"))
	assert.Equal(t, "3.3.987.0-2.amzn2023", bumpVersion("3.3.987.0-1.amzn2023"))
}

func TestCatalogueHistoryAndJeOS(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cat := newCatalogue(start)
	again := newCatalogue(start)
	assert.Equal(t, cat.Patches[len(cat.Patches)-1].ID, again.Patches[len(again.Patches)-1].ID, "deterministic")

	// Every seeded advisory is in the past, in order, with a plausible id.
	require.NotEmpty(t, cat.Patches)
	for i, p := range cat.Patches {
		assert.True(t, p.Released.Before(start), p.ID)
		assert.Regexp(t, `^ALAS2023-\d{4}-\d{3,}$`, p.ID)
		assert.Contains(t, PatchClassifications, p.Classification)
		assert.Contains(t, PatchSeverities, p.Severity)
		if i > 0 {
			assert.False(t, p.Released.Before(cat.Patches[i-1].Released))
		}
	}

	old := cat.JeOSPackages(ReleaseFor(start.Add(-300 * 24 * time.Hour)))
	recent := cat.JeOSPackages(ReleaseFor(start.Add(-2 * 24 * time.Hour)))
	assert.Equal(t, 1, vercmp(recent["glibc"], old["glibc"]), "glibc was patched between the releases")
	assert.Equal(t, 1, vercmp(recent["kernel"], old["kernel"]))
	assert.Contains(t, recent, "amazon-ssm-agent")
	assert.NotContains(t, recent, "nginx", "nginx is in the repository, not the image")
	minimal := cat.JeOSMinimalPackages(ReleaseFor(start))
	assert.NotContains(t, minimal, "amazon-ssm-agent")
	assert.Contains(t, minimal, "glibc")

	// Names recorded as they appear in an AMI name.
	assert.Equal(t, time.Date(2024, 10, 10, 23, 59, 59, 0, time.UTC), ReleaseDate("2023.6.20241010.0"))
	assert.Equal(t, time.Date(2024, 10, 10, 23, 59, 59, 0, time.UTC), ReleaseDate("2023.6.20241010"))
	assert.True(t, ReleaseDate("latest").IsZero())
	assert.Equal(t, len(cat.JeOSPackages("latest")), len(recent))
}

func TestReleasePatch(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cat := newCatalogue(start)
	before := cat.Latest("openssl", start)
	now := start.Add(time.Hour)
	p, err := cat.ReleasePatch(PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical", CVEs: []string{"CVE-2026-0001"}}, now)
	require.NoError(t, err)
	assert.Equal(t, "Security", p.Classification)
	assert.Equal(t, "Critical", p.Severity)
	assert.Equal(t, []string{"CVE-2026-0001"}, p.CVEs)
	require.Len(t, p.Packages, 2)
	assert.Equal(t, bumpVersion(before), p.Packages[0].Version)
	assert.Equal(t, before, cat.Latest("openssl", start), "not released before now")
	assert.Equal(t, p.Packages[0].Version, cat.Latest("openssl", now))
	assert.Equal(t, p, cat.Patch(p.ID))

	_, err = cat.ReleasePatch(PatchRelease{Package: "openssl", Severity: "Catastrophic"}, now)
	assert.Error(t, err)
	_, err = cat.ReleasePatch(PatchRelease{}, now)
	assert.Error(t, err)
	_, err = cat.ReleasePatch(PatchRelease{Package: "openssl", Version: "1.0.0-1"}, now)
	assert.Error(t, err, "versions only go up")

	// New packages can be released too.
	p, err = cat.ReleasePatch(PatchRelease{Package: "brand-new", Classification: "Newpackage", Severity: "Low"}, now)
	require.NoError(t, err)
	ids := []string{}
	for _, x := range cat.Patches {
		ids = append(ids, x.ID)
	}
	assert.True(t, sort.StringsAreSorted(ids[len(ids)-2:]), ids[len(ids)-2:])
}

func TestReadScriptHeredocFedToShell(t *testing.T) {
	run := ReadScript([]string{
		"# amibake-step: app/install",
		"cat > /etc/yum.repos.d/x.repo <<'REPO'",
		"[x]",
		"dnf install -y not-a-command",
		"REPO",
		"sudo bash -euo pipefail <<'SCRIPT'",
		"dnf install -y nginx",
		"echo inside",
		"SCRIPT",
		"echo after",
	})
	require.Len(t, run.Ops, 1)
	assert.Equal(t, "nginx", run.Ops[0].Packages[0].Name)
	assert.Equal(t, "inside\nafter\n", run.Stdout)

	run = ReadScript([]string{"bash <<EOF", "exit 3", "EOF"})
	assert.Equal(t, 3, run.ExitCode)
}
