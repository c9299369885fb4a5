package cmdutil

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/urfave/cli/v2"
)

func TestWalkCommands(t *testing.T) {
	cmds := []*cli.Command{
		{Name: "bake"},
		{Name: "patch", Subcommands: []*cli.Command{
			{Name: "window", Subcommands: []*cli.Command{{Name: "apply"}}},
			{Name: "run"},
		}},
		{Name: "sandbox", Subcommands: []*cli.Command{{Name: "serve"}}},
	}
	var seen []string
	WalkCommands(cmds, func(path string, c *cli.Command) bool {
		seen = append(seen, path)
		return c.Name != "sandbox"
	})
	assert.Equal(t, []string{"bake", "patch", "patch window", "patch window apply", "patch run", "sandbox"}, seen)
}
