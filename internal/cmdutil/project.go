package cmdutil

import (
	"github.com/amibake/amibake/internal/config"
)

// LoadProject loads the project in f.WorkDir for a command that needs a
// valid configuration: every diagnostic is printed (with snippets), and
// errors end the command with ErrSilent.
func LoadProject(f *Factory, opts config.LoadOptions) (*config.Config, error) {
	cfg, diags := config.Load(f.WorkDir, opts)
	if len(diags) > 0 {
		var sources map[string][]byte
		if cfg != nil {
			sources = cfg.Sources
		}
		if err := PrintDiagnostics(f.IOStreams, sources, diags); err != nil {
			return nil, err
		}
	}
	if diags.HasErrors() {
		return nil, ErrSilent
	}
	return cfg, nil
}
