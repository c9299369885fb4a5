package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
)

// Commands renders the command reference of app: the global flags, then
// every visible command and subcommand, depth first in declaration order.
func Commands(app *cli.App) string {
	var b strings.Builder
	b.WriteString("# Command reference\n\n")
	fmt.Fprintf(&b, "`%s` — %s.\n\n", app.Name, app.Usage)
	b.WriteString("Global flags go before the command name (`amibake -o json status`); a\n")
	b.WriteString("command's flags may follow its arguments. Exit codes: [exit-codes.md](../exit-codes.md).\n\n")
	b.WriteString("## Global flags\n\n")
	writeFlags(&b, app.Flags)

	b.WriteString("## Commands\n\n")
	var index func(cmds []*cli.Command, path string, depth int)
	index = func(cmds []*cli.Command, path string, depth int) {
		for _, c := range cmds {
			if c.Hidden {
				continue
			}
			full := path + " " + c.Name
			fmt.Fprintf(&b, "%s- [`%s`](#%s) — %s\n", strings.Repeat("  ", depth), strings.TrimSpace(full), anchor(full), c.Usage)
			index(c.Subcommands, full, depth+1)
		}
	}
	index(app.Commands, app.Name, 0)
	b.WriteString("\n")

	cmdutil.WalkCommands(app.Commands, func(path string, c *cli.Command) bool {
		if c.Hidden {
			return false
		}
		writeCommand(&b, c, app.Name+" "+path)
		return true
	})
	return b.String()
}

func anchor(full string) string {
	return strings.ReplaceAll(strings.TrimSpace(full), " ", "-")
}

func writeCommand(b *strings.Builder, c *cli.Command, full string) {
	fmt.Fprintf(b, "## %s\n\n", full)
	if c.Usage != "" {
		fmt.Fprintf(b, "%s.\n\n", strings.TrimSuffix(c.Usage, "."))
	}
	usage := full
	if len(c.Subcommands) > 0 {
		usage += " COMMAND"
	}
	if len(visibleFlags(c.Flags)) > 0 {
		usage += " [flags]"
	}
	if c.ArgsUsage != "" {
		usage += " " + c.ArgsUsage
	}
	fmt.Fprintf(b, "```\n%s\n```\n\n", usage)
	if len(c.Aliases) > 0 {
		fmt.Fprintf(b, "Aliases: `%s`.\n\n", strings.Join(c.Aliases, "`, `"))
	}
	if d := strings.TrimSpace(c.Description); d != "" {
		fmt.Fprintf(b, "```text\n%s\n```\n\n", strings.TrimRight(c.Description, "\n"))
	}
	if len(c.Subcommands) > 0 {
		b.WriteString("Subcommands: ")
		var names []string
		for _, s := range c.Subcommands {
			if !s.Hidden {
				names = append(names, fmt.Sprintf("[`%s`](#%s)", s.Name, anchor(full+" "+s.Name)))
			}
		}
		b.WriteString(strings.Join(names, ", ") + ".\n\n")
	}
	writeFlags(b, c.Flags)
}

func visibleFlags(flags []cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags {
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		out = append(out, f)
	}
	return out
}

func writeFlags(b *strings.Builder, flags []cli.Flag) {
	flags = visibleFlags(flags)
	if len(flags) == 0 {
		return
	}
	b.WriteString("| flag | default | description |\n|---|---|---|\n")
	for _, f := range flags {
		names := f.Names()
		var forms []string
		placeholder, usage := "", ""
		def := ""
		var env []string
		if df, ok := f.(cli.DocGenerationFlag); ok {
			placeholder, usage = unquoteUsage(df.GetUsage())
			if df.TakesValue() {
				if placeholder == "" {
					placeholder = "value"
				}
				def = df.GetDefaultText()
				if def == "" {
					def = df.GetValue()
				}
			}
			env = df.GetEnvVars()
		}
		for _, n := range names {
			dash := "--"
			if len(n) == 1 {
				dash = "-"
			}
			form := dash + n
			if placeholder != "" {
				form += " " + placeholder
			}
			forms = append(forms, "`"+form+"`")
		}
		if _, isBool := f.(*cli.BoolFlag); isBool {
			def = "false"
		}
		if def == "" || def == `""` || def == "[]" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		if len(env) > 0 {
			usage += " (env `" + strings.Join(env, "`, `") + "`)"
		}
		if rf, ok := f.(cli.RequiredFlag); ok && rf.IsRequired() {
			usage += " **Required.**"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", strings.Join(forms, ", "), def, escapeCell(usage))
	}
	b.WriteString("\n")
}

func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// unquoteUsage splits urfave's "`NAME` text" usage into the placeholder
// and the text, as urfave's help does.
func unquoteUsage(usage string) (string, string) {
	for i := 0; i < len(usage); i++ {
		if usage[i] == '`' {
			for j := i + 1; j < len(usage); j++ {
				if usage[j] == '`' {
					name := usage[i+1 : j]
					return name, usage[:i] + name + usage[j+1:]
				}
			}
			break
		}
	}
	return "", usage
}
