package cmdutil

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// WalkCommands calls fn for every command in cmds and below, each before
// its subcommands, with its path from the root ("patch window apply",
// without the program's name). When fn returns false the command's
// subcommands are skipped.
func WalkCommands(cmds []*cli.Command, fn func(path string, c *cli.Command) bool) {
	walkCommands(cmds, "", fn)
}

func walkCommands(cmds []*cli.Command, parent string, fn func(string, *cli.Command) bool) {
	for _, c := range cmds {
		path := strings.TrimSpace(parent + " " + c.Name)
		if fn(path, c) {
			walkCommands(c.Subcommands, path, fn)
		}
	}
}
