// Package completion is `amibake completion bash|zsh`: it prints a shell
// script that completes commands, subcommands and flags by asking amibake
// itself (urfave/cli's --generate-bash-completion; EnableBashCompletion is
// on in the root). The scripts are urfave/cli v2's autocomplete templates
// with the program name fixed to amibake.
package completion

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
)

// Shells that have a script.
var Shells = []string{"bash", "zsh"}

// Bash is urfave/cli v2's autocomplete/bash_autocomplete for amibake.
const Bash = `# bash completion for amibake.
# Load it now:     source <(amibake completion bash)
# Or for good:     amibake completion bash > /etc/bash_completion.d/amibake

_amibake_init_completion() {
  COMPREPLY=()
  _get_comp_words_by_ref "$@" cur prev words cword
}

_amibake_bash_autocomplete() {
  if [[ "${COMP_WORDS[0]}" != "source" ]]; then
    local cur opts base words
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    if declare -F _init_completion >/dev/null 2>&1; then
      _init_completion -n "=:" || return
    else
      _amibake_init_completion -n "=:" || return
    fi
    words=("${words[@]:0:$cword}")
    if [[ "$cur" == "-"* ]]; then
      requestComp="${words[*]} ${cur} --generate-bash-completion"
    else
      requestComp="${words[*]} --generate-bash-completion"
    fi
    opts=$(eval "${requestComp}" 2>/dev/null)
    COMPREPLY=($(compgen -W "${opts}" -- ${cur}))
    return 0
  fi
}

complete -o bashdefault -o default -o nospace -F _amibake_bash_autocomplete amibake
`

// Zsh is urfave/cli v2's autocomplete/zsh_autocomplete for amibake.
const Zsh = `#compdef amibake
# zsh completion for amibake.
# Load it now:     source <(amibake completion zsh)
# Or for good:     amibake completion zsh > "${fpath[1]}/_amibake"

_amibake_zsh_autocomplete() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi

  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}

compdef _amibake_zsh_autocomplete amibake
`

// Script returns the completion script of shell.
func Script(shell string) (string, error) {
	switch shell {
	case "bash":
		return Bash, nil
	case "zsh":
		return Zsh, nil
	}
	return "", cmdutil.FlagErrorf("unsupported shell %q: want bash or zsh", shell)
}

// NewCmdCompletion builds `amibake completion SHELL`.
func NewCmdCompletion(f *cmdutil.Factory) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash or zsh)",
		ArgsUsage: "bash|zsh",
		Description: "Prints a script that completes amibake's commands, subcommands and flags.\n\n" +
			"   source <(amibake completion bash)                       # this shell\n" +
			"   amibake completion bash > /etc/bash_completion.d/amibake\n" +
			"   amibake completion zsh > \"${fpath[1]}/_amibake\"",
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("completion takes one SHELL argument (bash or zsh), got %d", len(args))
			}
			script, err := Script(args[0])
			if err != nil {
				return err
			}
			if _, err := io.WriteString(f.IOStreams.Out, script); err != nil {
				return fmt.Errorf("write completion script: %w", err)
			}
			return nil
		},
	}
}
