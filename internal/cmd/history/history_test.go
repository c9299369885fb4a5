package history_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

func TestHistory(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	b2 := channeltest.SeedBuild(t, sb, channeltest.Project, "base", "b2", &fam.Foundation, "")
	b3 := channeltest.SeedBuild(t, sb, channeltest.Project, "base", "b3", &fam.Foundation, "")
	latest := "/amibake/acme-golden/layers/base/latest"

	// latest moves three times; stable follows twice through promote.
	for _, ami := range []string{fam.Base.Home(), b2.Home(), b3.Home()} {
		channeltest.PutChannel(t, sb, "us-east-1", latest, ami)
		if ami != b2.Home() {
			code, _, errOut := clitest.Run(t, sb, dir, "promote", "base")
			require.Equal(t, 0, code, errOut)
		}
	}
	sb.Do(func(w *sandbox.World) {
		w.EC2.Images[b2.Home()].Tags[lineage.TagRevoked] = "bad"
		img := w.EC2.Images[fam.Base.Home()]
		img.State, img.StateSince = "deregistered", img.StateSince.AddDate(0, 0, -1)
	})

	before := sb.CountCalls("ec2", "DescribeImages")
	code, out, errOut := clitest.Run(t, sb, dir, "history", "base")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 1, sb.CountCalls("ec2", "DescribeImages")-before, "one batched state lookup")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	assert.Regexp(t, `^VERSION\s+AMI\s+WHEN\s+BY\s+LABELS\s+STATE$`, lines[0])
	ts := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`
	assert.Regexp(t, regexp.MustCompile(`^1\s+`+fam.Base.Home()+`\s+`+ts+`\s+\S+\s+-\s+deregistered$`), lines[1])
	assert.Regexp(t, regexp.MustCompile(`^2\s+`+b2.Home()+`\s+`+ts+`\s+\S+\s+-\s+revoked \(bad\)$`), lines[2])
	assert.Regexp(t, regexp.MustCompile(`^3 \*\s+`+b3.Home()+`\s+`+ts+`\s+\S+\s+-\s+available$`), lines[3])

	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "history", "base", "--channel", "stable")
	require.Equal(t, 0, code, errOut)
	var h struct {
		Parameter string `json:"parameter"`
		Versions  []struct {
			Version     int64    `json:"version"`
			AMI         string   `json:"ami"`
			Labels      []string `json:"labels"`
			Description string   `json:"description"`
			State       string   `json:"state"`
			Current     bool     `json:"current"`
		} `json:"versions"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &h))
	assert.Equal(t, "/amibake/acme-golden/layers/base/stable", h.Parameter)
	require.Len(t, h.Versions, 2)
	assert.Equal(t, fam.Base.Home(), h.Versions[0].AMI)
	assert.Equal(t, "deregistered", h.Versions[0].State)
	assert.Equal(t, b3.Home(), h.Versions[1].AMI)
	assert.Equal(t, "amibake promote: "+b3.Home()+" from channel latest (version 3)", h.Versions[1].Description)
	assert.True(t, h.Versions[1].Current)
	assert.Equal(t, []string{}, h.Versions[1].Labels)

	code, _, errOut = clitest.Run(t, sb, dir, "history", "base", "--channel", "prod")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "channel /amibake/acme-golden/layers/base/prod is not set")
}
