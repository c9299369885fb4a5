// Package stepcmd renders recipe steps into AWS-RunShellScript command
// lists. It imports only the standard library: the amibake CLI (the
// rollout's in-place recipe delta) renders steps too, and must not link the
// packer plugin SDK that the provisioner package needs.
package stepcmd

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
)

// StepMarker starts the first line of every command amibake sends: the
// recorded name of the step ("<recipe>/<step>"), which the sandbox and
// audit tooling read back.
const StepMarker = "# amibake-step: "

// MaxCommandBytes bounds the command text of one step. SSM Run Command
// rejects larger documents parameters, so a large file upload fails here
// with a clear message instead of at SendCommand.
const MaxCommandBytes = 96 * 1024

const (
	defaultFileMode = "0644"
	fileHeredocEOF  = "AMIBAKE_FILE_EOF"
	base64LineWidth = 76
)

var (
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	paramNameRE = regexp.MustCompile(`^[A-Za-z0-9_.\-/:]+$`)
	fileModeRE  = regexp.MustCompile(`^[0-7]{3,4}$`)
)

// Step is one recipe step as the command renderer sees it: a script file,
// inline commands or a file upload, with its environment, or a patch.
// The provisioner's Step (decoded from HCL) and the rollout's recipe delta
// both convert to it, so a step renders the same wherever it is sent.
type Step struct {
	Name            string            // recorded as "<recipe>/<step>"
	Script          string            // local script path, read by LoadBody
	Inline          []string          // shell commands
	FileSource      string            // local file to upload, read by LoadBody
	FileDestination string            // absolute path on the instance
	FileMode        string            // octal; 0644 when empty
	Env             map[string]string // exported before the body
	SecretEnv       map[string]string // NAME = SecureString parameter, fetched on the instance
	Timeout         time.Duration     // 0: the caller's default
	Patch           *Patch            // set: AWS-RunPatchBaseline instead of a shell step
}

// Patch is a step that sends AWS-RunPatchBaseline.
type Patch struct {
	Operation string // Install or Scan; DefaultPatchOperation when empty
	Reboot    string // NoReboot or RebootIfNeeded; DefaultPatchReboot when empty
}

// DefaultTimeout is how long one step may run unless configured otherwise.
const DefaultTimeout = 30 * time.Minute

// Defaults of a patch step.
const (
	DefaultPatchOperation = "Install"
	DefaultPatchReboot    = "NoReboot"
)

// OperationOrDefault is the Operation parameter to send.
func (p *Patch) OperationOrDefault() string {
	if p.Operation == "" {
		return DefaultPatchOperation
	}
	return p.Operation
}

// RebootOrDefault is the RebootOption parameter to send.
func (p *Patch) RebootOrDefault() string {
	if p.Reboot == "" {
		return DefaultPatchReboot
	}
	return p.Reboot
}

// kind is what a step does.
type kind int

const (
	kindScript kind = iota + 1
	kindInline
	kindFile
	kindPatch
)

func (s *Step) kind() kind {
	switch {
	case s.Patch != nil:
		return kindPatch
	case s.Script != "":
		return kindScript
	case len(s.Inline) > 0:
		return kindInline
	case s.FileSource != "" || s.FileDestination != "":
		return kindFile
	}
	return 0
}

// Validate checks one step's settings, including that its local files
// exist; i is its position for messages.
func (s *Step) Validate(i int) []error {
	where := fmt.Sprintf("step %d", i+1)
	if s.Name != "" {
		where = fmt.Sprintf("step %d (%q)", i+1, s.Name)
	}
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(where+": "+format, args...))
	}
	switch {
	case strings.TrimSpace(s.Name) == "":
		add("name is required")
	case strings.IndexFunc(s.Name, unicode.IsControl) >= 0:
		add("name must be one line without control characters")
	case len(s.Name) > 200:
		add("name is longer than 200 characters")
	}
	n := 0
	if s.Script != "" {
		n++
	}
	if len(s.Inline) > 0 {
		n++
	}
	if s.FileSource != "" || s.FileDestination != "" {
		n++
	}
	if s.Patch != nil {
		n++
		switch op := s.Patch.OperationOrDefault(); op {
		case "Install", "Scan":
		default:
			add("patch: operation %q is not Install or Scan", op)
		}
		switch r := s.Patch.RebootOrDefault(); r {
		case "NoReboot", "RebootIfNeeded":
		default:
			add("patch: reboot %q is not NoReboot or RebootIfNeeded", r)
		}
		if len(s.Env)+len(s.SecretEnv) > 0 {
			add("patch steps take no env or secret_env")
		}
	}
	if n != 1 {
		add("set exactly one of script, inline, file_source with file_destination, or a patch block")
	}
	if s.Script != "" {
		if fi, err := os.Stat(s.Script); err != nil {
			add("script: %v", err)
		} else if fi.IsDir() {
			add("script %q is a directory", s.Script)
		}
	}
	if s.FileSource != "" || s.FileDestination != "" {
		switch {
		case s.FileSource == "":
			add("file_destination needs file_source")
		case s.FileDestination == "":
			add("file_source needs file_destination")
		}
		if s.FileSource != "" {
			if fi, err := os.Stat(s.FileSource); err != nil {
				add("file_source: %v", err)
			} else if !fi.Mode().IsRegular() {
				add("file_source %q is not a regular file", s.FileSource)
			}
		}
		if s.FileDestination != "" && !path.IsAbs(s.FileDestination) {
			add("file_destination %q must be an absolute path", s.FileDestination)
		}
		if strings.ContainsAny(s.FileDestination, "\x00\n") {
			add("file_destination must be one line")
		}
	}
	if s.FileMode != "" {
		if s.kind() != kindFile {
			add("file_mode applies to file steps only")
		} else if !fileModeRE.MatchString(s.FileMode) {
			add("file_mode %q is not an octal mode like 0644", s.FileMode)
		}
	}
	if s.Timeout < 0 || (s.Timeout > 0 && s.Timeout < time.Second) {
		add("timeout must be at least 1s")
	}
	for k, v := range s.Env {
		if !envNameRE.MatchString(k) {
			add("env: %q is not a valid shell variable name", k)
		}
		if strings.ContainsRune(v, 0) {
			add("env %s: value contains a NUL byte", k)
		}
	}
	for k, p := range s.SecretEnv {
		if !envNameRE.MatchString(k) {
			add("secret_env: %q is not a valid shell variable name", k)
		}
		if _, dup := s.Env[k]; dup {
			add("%s is set in both env and secret_env", k)
		}
		if !paramNameRE.MatchString(p) {
			add("secret_env %s: %q is not a Parameter Store name or ARN", k, p)
		}
	}
	return errs
}

// ShellQuote quotes s for a POSIX shell as one word, whatever it contains.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// scriptLines turns a script's bytes into command lines: a UTF-8 BOM is
// dropped, CRLF becomes LF, and a final newline does not add an empty line.
func scriptLines(b []byte) []string {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// fileLines is the body of a file step: the content travels base64-encoded
// in a quoted heredoc, is decoded to a temporary file and put in place with
// install(1), which creates parent directories and sets the mode.
func fileLines(content []byte, dest, mode string) []string {
	if mode == "" {
		mode = defaultFileMode
	}
	enc := base64.StdEncoding.EncodeToString(content)
	lines := []string{
		`amibake_tmp="$(mktemp)"`,
		`trap 'rm -f "$amibake_tmp"' EXIT`,
		`base64 -d > "$amibake_tmp" <<'` + fileHeredocEOF + `'`,
	}
	for len(enc) > base64LineWidth {
		lines = append(lines, enc[:base64LineWidth])
		enc = enc[base64LineWidth:]
	}
	if enc != "" {
		lines = append(lines, enc)
	}
	return append(lines,
		fileHeredocEOF,
		"install -D -m "+ShellQuote(mode)+` "$amibake_tmp" `+ShellQuote(dest),
	)
}

// BuildCommands renders a step into the AWS-RunShellScript command list:
// the step marker, strict mode, the exported environment, secret fetches,
// then the body. body is the script's content for script steps and the
// file's content for file steps; region is where secret parameters live.
// It is pure: callers read the files.
func BuildCommands(s Step, body []byte, region string) ([]string, error) {
	cmds := []string{
		StepMarker + s.Name,
		"set -euo pipefail",
	}
	for _, k := range sortedKeys(s.Env) {
		cmds = append(cmds, "export "+k+"="+ShellQuote(s.Env[k]))
	}
	for _, k := range sortedKeys(s.SecretEnv) {
		// Assign, then export: `export K="$(…)"` would hide a failed fetch
		// from `set -e` behind export's own exit status.
		fetch := "aws ssm get-parameter --name " + ShellQuote(s.SecretEnv[k]) +
			" --with-decryption --query Parameter.Value --output text"
		if region != "" {
			fetch += " --region " + ShellQuote(region)
		}
		cmds = append(cmds, k+`="$(`+fetch+`)"`, "export "+k)
	}
	switch s.kind() {
	case kindScript:
		cmds = append(cmds, scriptLines(body)...)
	case kindInline:
		cmds = append(cmds, s.Inline...)
	case kindFile:
		cmds = append(cmds, fileLines(body, s.FileDestination, s.FileMode)...)
	default:
		return nil, fmt.Errorf("step %q: nothing to run", s.Name)
	}
	if n := commandBytes(cmds); n > MaxCommandBytes {
		return nil, fmt.Errorf("step %q: command is %d bytes, over the %d-byte SSM Run Command limit; ship large files another way (S3, a package)",
			s.Name, n, MaxCommandBytes)
	}
	return cmds, nil
}

// LoadBody reads what a step needs from the local disk at run time.
func LoadBody(s Step) ([]byte, error) {
	var p string
	switch s.kind() {
	case kindScript:
		p = s.Script
	case kindFile:
		p = s.FileSource
	default:
		return nil, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", s.Name, err)
	}
	return b, nil
}

func commandBytes(cmds []string) int {
	n := 0
	for _, c := range cmds {
		n += len(c) + 1
	}
	return n
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
