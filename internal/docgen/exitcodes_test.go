package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

// exitRow is one row of docs/exit-codes.md's table.
type exitRow struct {
	code      int
	checkedBy string
}

var rowRE = regexp.MustCompile(`^\| (\d+) \|.*\| ([^|]+) \|$`)

func readExitCodes(t *testing.T) []exitRow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "exit-codes.md"))
	require.NoError(t, err)
	var rows []exitRow
	for _, line := range strings.Split(string(data), "\n") {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		code, _ := strconv.Atoi(m[1])
		rows = append(rows, exitRow{code: code, checkedBy: strings.TrimSpace(m[2])})
	}
	return rows
}

// TestExitCodes checks every documented code: through root.Main against
// the sandbox when the row says TestExitCodes, else by the cited test.
func TestExitCodes(t *testing.T) {
	rows := readExitCodes(t)
	var codes []int
	for _, r := range rows {
		codes = append(codes, r.code)
	}
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 130}, codes, "docs/exit-codes.md documents DESIGN.md's codes, in order")

	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	amibake := func(ctx context.Context, args ...string) (int, string) {
		ios, _, _, errOut := iostreams.Test()
		f := root.NewFactory(ios)
		f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
		return root.Main(ctx, append([]string{"amibake", "--chdir", dir}, args...), f), errOut.String()
	}
	scenarios := map[int]func(t *testing.T){
		0: func(t *testing.T) {
			code, errOut := amibake(context.Background(), "validate")
			assert.Equal(t, 0, code, errOut)
		},
		1: func(t *testing.T) {
			code, errOut := amibake(context.Background(), "promote", "nope")
			assert.Equal(t, 1, code)
			assert.Contains(t, errOut, `unknown layer "nope"`)
		},
		2: func(t *testing.T) {
			code, errOut := amibake(context.Background(), "plan", "-detailed-exitcode")
			assert.Equal(t, 2, code, errOut)
		},
		4: func(t *testing.T) {
			paths := lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}
			l := &lock.Locker{SSM: awsapi.NewClients(sb.Config).SSM(""), Name: paths.Lock(), Holder: "ci:job-9", Command: "bake", TTL: time.Hour}
			held, err := l.Acquire(context.Background(), 0)
			require.NoError(t, err)
			defer func() { require.NoError(t, held.Release(context.Background())) }()
			code, errOut := amibake(context.Background(), "promote", "base")
			assert.Equal(t, 4, code)
			assert.Contains(t, errOut, "is held by ci:job-9")
		},
		130: func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			code, _ := amibake(ctx, "plan")
			assert.Equal(t, 130, code)
		},
	}
	citeRE := regexp.MustCompile(`\((internal/\S+|patch\S*) (Test\w+)\)`)
	for _, r := range rows {
		t.Run(strconv.Itoa(r.code), func(t *testing.T) {
			if strings.Contains(r.checkedBy, "(TestExitCodes)") {
				run, ok := scenarios[r.code]
				require.True(t, ok, "docs/exit-codes.md says TestExitCodes checks %d, but it has no scenario", r.code)
				run(t)
				return
			}
			m := citeRE.FindStringSubmatch(r.checkedBy)
			require.NotNil(t, m, "code %d: the row must cite (PACKAGE TestName) or (TestExitCodes): %q", r.code, r.checkedBy)
			assertCitedTest(t, m[1], m[2], r.code)
		})
	}
}

// assertCitedTest checks that pkg has func name and that its body asserts
// the code.
func assertCitedTest(t *testing.T, pkg, name string, code int) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(repoRoot(), pkg, "*_test.go"))
	require.NoError(t, err)
	want := regexp.MustCompile(`Equal\(t, ` + strconv.Itoa(code) + `, code`)
	for _, m := range matches {
		src, err := os.ReadFile(m)
		require.NoError(t, err)
		s := string(src)
		i := strings.Index(s, "func "+name+"(")
		if i < 0 {
			continue
		}
		body := s[i:]
		if j := strings.Index(body[1:], "\nfunc "); j >= 0 {
			body = body[:j+1]
		}
		assert.Regexp(t, want, body, "%s %s does not assert exit %d", pkg, name, code)
		return
	}
	t.Errorf("docs/exit-codes.md cites %s %s for exit %d, but there is no such test", pkg, name, code)
}
