package root

import (
	"regexp"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

// exampleLine is an indented `amibake …` line in a command's description.
var exampleLine = regexp.MustCompile(`(?m)^\s{2,}(\$ )?amibake `)

// Every command a person runs shows how to run it in its --help.
func TestEveryCommandHasAnExample(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	app := NewApp(NewFactory(ios))
	cmdutil.WalkCommands(app.Commands, func(path string, c *cli.Command) bool {
		if c.Hidden || c.Name == "help" {
			return false
		}
		// A noun with its own action (rollout FLEET) is a command too.
		if len(c.Subcommands) > 0 && c.Action == nil {
			return true
		}
		if !exampleLine.MatchString(c.Description) {
			t.Errorf("amibake %s: no example in its help (an indented `amibake …` line in Description)", path)
		}
		return true
	})
}
