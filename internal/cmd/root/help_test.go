package root

import (
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/iostreams"
)

// exampleLine is an indented `amibake …` line in a command's description.
var exampleLine = regexp.MustCompile(`(?m)^\s{2,}(\$ )?amibake `)

// Every command a person runs shows how to run it in its --help.
func TestEveryCommandHasAnExample(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	app := NewApp(NewFactory(ios))
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden || c.Name == "help" {
				continue
			}
			p := append(append([]string{}, path...), c.Name)
			if len(c.Subcommands) > 0 {
				walk(p, c.Subcommands)
				// A noun with its own action (rollout FLEET) is a command too.
				if c.Action == nil {
					continue
				}
			}
			if !exampleLine.MatchString(c.Description) {
				t.Errorf("amibake %s: no example in its help (an indented `amibake …` line in Description)", strings.Join(p, " "))
			}
		}
	}
	walk(nil, app.Commands)
}
