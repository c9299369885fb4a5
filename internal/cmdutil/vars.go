package cmdutil

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/config"
)

// Flag names shared by every command that loads the project.
const (
	FlagVar     = "var"
	FlagVarFile = "var-file"
)

// VarFlags returns the -var and -var-file flags. They are repeatable and,
// unlike urfave's slice flags, never split values on commas, so that
// -var 'regions=["a","b"]' arrives whole. Call it once per command: the
// flags hold the parsed values.
func VarFlags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{
			Name:  FlagVar,
			Usage: "`NAME=VALUE` sets a variable (repeatable; wins over -var-file and AMIBAKE_VAR_NAME)",
			Value: &varsValue{},
		},
		&cli.GenericFlag{
			Name:  FlagVarFile,
			Usage: "`FILE` of variable values, relative to the project directory (repeatable, applied in order)",
			Value: &listValue{},
		},
	}
}

// LoadOptionsFrom collects what config.Load needs from the command line
// and the Factory: -var and -var-file values, the environment (for
// AMIBAKE_VAR_NAME and env()) and the clock (for timestamp()).
func LoadOptionsFrom(c *cli.Context, f *Factory) config.LoadOptions {
	opts := config.LoadOptions{Vars: map[string]string{}, Env: os.Environ()}
	if v, ok := c.Generic(FlagVar).(*varsValue); ok {
		for _, kv := range v.list {
			name, value, _ := strings.Cut(kv, "=")
			opts.Vars[name] = value // the last -var for a name wins
		}
	}
	if v, ok := c.Generic(FlagVarFile).(*listValue); ok {
		opts.VarFiles = append(opts.VarFiles, v.list...)
	}
	if f != nil && f.Now != nil {
		opts.Now = f.Now()
	}
	return opts
}

// listValue is a repeatable string flag that keeps each value whole.
type listValue struct{ list []string }

func (l *listValue) Set(s string) error {
	l.list = append(l.list, s)
	return nil
}

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.list, " ")
}

// varsValue is a repeatable NAME=VALUE flag.
type varsValue struct{ listValue }

func (v *varsValue) Set(s string) error {
	name, _, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("-var expects NAME=VALUE, like -var instance_type=t3.large; got %q", s)
	}
	return v.listValue.Set(s)
}

// FlagLockTimeout is the flag of every command that takes the project lock.
const FlagLockTimeout = "lock-timeout"

// LockTimeoutFlag is --lock-timeout, the same on every command that takes
// the project lock (DESIGN.md: a held lock exits 4 unless told to wait).
func LockTimeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: FlagLockTimeout, Usage: "wait up to `D` for the project lock (default: fail at once, exit 4)"}
}
