package cmdutil

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Args returns c's positional arguments and applies the flags written
// after them. urfave/cli v2 stops parsing flags at the first argument, but
// the documented forms put them last (`amibake promote base --to stable`).
// Every command that takes positional arguments reads them through Args.
func Args(c *cli.Context) ([]string, error) {
	raw := c.Args().Slice()
	pos := []string{}
	for i := 0; i < len(raw); i++ {
		a := raw[i]
		if a == "--" {
			pos = append(pos, raw[i+1:]...)
			break
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		fl := lookupFlag(c.Command.Flags, name)
		if fl == nil {
			return nil, FlagErrorf("flag provided but not defined: -%s", name)
		}
		if _, isBool := fl.(*cli.BoolFlag); isBool {
			if !hasVal {
				val = "true"
			}
		} else if !hasVal {
			if i+1 >= len(raw) {
				return nil, FlagErrorf("flag needs an argument: -%s", name)
			}
			i++
			val = raw[i]
		}
		if err := c.Set(name, val); err != nil {
			return nil, FlagErrorf("invalid value %q for flag -%s: %v", val, name, err)
		}
	}
	return pos, nil
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}
