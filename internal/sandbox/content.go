package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The image content model. The sandbox does not run scripts; it reads them.
// A script that runs on an instance through AWS-RunShellScript is
// "executed" by these rules (documented in docs/sandbox.md):
//
//   - The step is named by the first `# amibake-step: <recipe>/<step>` line,
//     else "shell"; its digest is the sha256 of the commands joined by "\n".
//     The step is appended to the instance's Content when the script
//     succeeds.
//   - Package-manager lines change Content.Packages wherever they appear
//     (the sandbox cannot evaluate conditions): dnf|yum|microdnf install,
//     remove|erase, upgrade|update [--security] [NAME…], and rpm -i|-U FILE.rpm
//     and rpm -e NAME.
//   - At the top level (outside if/case/loops/functions/braces): `exit N`
//     with N ≠ 0 fails the script with response code N, `exit` / `exit 0`
//     ends it successfully, `echo` writes its arguments to stdout (stderr
//     with >&2; nothing when redirected to a file), `sleep N` makes the run
//     take N seconds longer, and literal assignments (`X=1`, `export X=1`)
//     are remembered for $X / ${X:-default} expansion in echo.
//   - A comment `# sandbox: fail [N]` anywhere fails the script at that
//     point with code N (default 1).

// ScriptRun is the sandbox's reading of one shell script.
type ScriptRun struct {
	StepName string        `json:"step_name"`
	Digest   string        `json:"digest"`
	Ops      []PackageOp   `json:"ops,omitempty"`
	Stdout   string        `json:"stdout,omitempty"`
	Stderr   string        `json:"stderr,omitempty"`
	ExitCode int           `json:"exit_code"`
	Sleep    time.Duration `json:"sleep,omitempty"`
}

// Failed reports whether the script exits non-zero.
func (r *ScriptRun) Failed() bool { return r.ExitCode != 0 }

// PackageOp is one package-manager action read from a script.
type PackageOp struct {
	Kind     string        `json:"kind"` // install | remove | upgrade
	Security bool          `json:"security,omitempty"`
	Packages []PackageSpec `json:"packages,omitempty"`
	// Line is the command as written, for output.
	Line string `json:"line"`
}

// PackageSpec is a package named on a command line, with an optional
// explicit version.
type PackageSpec struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

var (
	stepMarkerRE = regexp.MustCompile(`(?m)^\s*#\s*amibake-step:\s*(\S+)`)
	failMarkerRE = regexp.MustCompile(`^#\s*sandbox:\s*fail(?:\s+(\d+))?\s*$`)
	heredocRE    = regexp.MustCompile(`<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)(['"]?)`)
	assignRE     = regexp.MustCompile(`^(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	varRE        = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
)

// ScriptDigest is the digest a step records: sha256 of the commands joined
// by newlines, hex.
func ScriptDigest(commands []string) string {
	sum := sha256.Sum256([]byte(strings.Join(commands, "\n")))
	return hex.EncodeToString(sum[:])
}

// ReadScript interprets the commands of an AWS-RunShellScript invocation.
func ReadScript(commands []string) *ScriptRun {
	script := strings.Join(commands, "\n")
	run := &ScriptRun{StepName: "shell", Digest: ScriptDigest(commands)}
	if m := stepMarkerRE.FindStringSubmatch(script); m != nil {
		run.StepName = m[1]
	}
	vars := map[string]string{}
	var stdout, stderr strings.Builder
	depth := 0
	lines := logicalLines(script)
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			if m := failMarkerRE.FindStringSubmatch(trimmed); m != nil {
				run.ExitCode = 1
				if m[1] != "" {
					if n, err := strconv.Atoi(m[1]); err == nil && n > 0 && n < 256 {
						run.ExitCode = n
					}
				}
				fmt.Fprintf(&stderr, "sandbox: failing as the script asks (%s)\n", trimmed)
				break
			}
			continue
		}
		stop := false
		for _, sg := range splitSegments(trimmed) {
			seg := sg.text
			words := shellWords(seg)
			if len(words) == 0 {
				continue
			}
			first := words[0]
			// Depth bookkeeping for compound commands.
			switch first {
			case "if", "case", "for", "while", "until", "select", "{", "(":
				depth++
			case "fi", "esac", "done", "}", ")":
				if depth > 0 {
					depth--
				}
				continue
			}
			if strings.HasSuffix(strings.TrimSpace(seg), "{") && first != "{" {
				depth++ // function definition: name() {
			}
			if op, ok := readPackageCommand(words, seg); ok {
				run.Ops = append(run.Ops, op)
				continue
			}
			if depth > 0 || sg.cond {
				continue
			}
			switch {
			case first == "exit":
				code := 0
				if len(words) > 1 {
					if n, err := strconv.Atoi(expandVars(words[1], vars)); err == nil {
						code = n & 0xff
					} else {
						code = 1
					}
				}
				run.ExitCode = code
				stop = true
			case first == "echo":
				out, toErr, toFile := echoOutput(words[1:], vars)
				switch {
				case toFile:
				case toErr:
					stderr.WriteString(out + "\n")
				default:
					stdout.WriteString(out + "\n")
				}
			case first == "sleep" && len(words) > 1:
				if d, ok := sleepDuration(words[1]); ok {
					run.Sleep += d
				}
			default:
				assign := ""
				switch {
				case len(words) == 1:
					assign = words[0]
				case len(words) == 2 && (first == "export" || first == "local" || first == "readonly" || first == "declare"):
					assign = words[1]
				}
				if m := assignRE.FindStringSubmatch(assign); m != nil && !strings.Contains(m[2], "`") && !strings.Contains(m[2], "$(") {
					vars[m[1]] = expandVars(shellUnquote(m[2]), vars)
				}
			}
			if stop {
				break
			}
		}
		if stop {
			break
		}
	}
	run.Stdout, run.Stderr = stdout.String(), stderr.String()
	if run.ExitCode != 0 && run.Stderr == "" {
		run.Stderr = fmt.Sprintf("failed to run commands: exit status %d\n", run.ExitCode)
	}
	return run
}

// logicalLines joins backslash continuations and drops heredoc bodies —
// except a heredoc fed to a shell (`bash <<'EOF'`, `sudo sh -s <<EOF`),
// whose body is the script itself and is read inline.
func logicalLines(script string) []string {
	raw := strings.Split(strings.ReplaceAll(script, "\r\n", "\n"), "\n")
	var out []string
	var cur strings.Builder
	heredoc := ""
	inline := false
	for _, l := range raw {
		if heredoc != "" {
			if strings.TrimLeft(l, "\t") == heredoc || strings.TrimSpace(l) == heredoc {
				heredoc = ""
				continue
			}
			if !inline {
				continue
			}
		}
		if strings.HasSuffix(l, "\\") && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(l)
		line := cur.String()
		cur.Reset()
		if heredoc == "" {
			if m := heredocRE.FindStringSubmatch(stripComment(line)); m != nil && !strings.Contains(line, "<<<") {
				heredoc = m[2]
				inline = feedsShell(line)
				if inline {
					continue // the interpreter line itself does nothing else
				}
			}
		}
		out = append(out, line)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// feedsShell reports whether a heredoc line runs its body as a script.
func feedsShell(line string) bool {
	words := shellWords(strings.TrimSpace(line[:strings.Index(line, "<<")]))
	for len(words) > 0 && (words[0] == "sudo" || words[0] == "env" || strings.HasPrefix(words[0], "-") || assignRE.MatchString(words[0])) {
		words = words[1:]
	}
	if len(words) == 0 {
		return false
	}
	switch path.Base(words[0]) {
	case "bash", "sh", "dash", "zsh":
		for i := 1; i < len(words); i++ {
			w := words[i]
			switch {
			case w == "-s" || w == "--":
			case strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "--") && strings.HasSuffix(w, "o"):
				i++ // -o OPTION (set -o style, e.g. -euo pipefail)
			case strings.HasPrefix(w, "-"):
			default:
				return false // bash FILE <<EOF: the body is FILE's stdin
			}
		}
		return true
	}
	return false
}

// stripComment removes a trailing # comment outside quotes.
func stripComment(line string) string {
	var q byte
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case q != 0:
			if ch == q {
				q = 0
			} else if ch == '\\' && q == '"' {
				i++
			}
		case ch == '\'' || ch == '"':
			q = ch
		case ch == '\\':
			i++
		case ch == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// segment is one simple command of a line; cond marks one that runs only
// depending on an earlier command (after && or ||).
type segment struct {
	text string
	cond bool
}

// splitSegments splits a line into simple commands on ; && || | and a
// leading "then"/"do"/"else" keyword, outside quotes and $( ).
func splitSegments(line string) []segment {
	line = stripComment(line)
	var out []segment
	var q byte
	paren := 0
	start := 0
	cond := false
	emit := func(end int) {
		seg := strings.TrimSpace(line[start:end])
		if seg != "" {
			out = append(out, segment{seg, cond})
		}
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		if q != 0 {
			if ch == q {
				q = 0
			} else if ch == '\\' && q == '"' {
				i++
			}
			continue
		}
		switch ch {
		case '\'', '"':
			q = ch
		case '\\':
			i++
		case '$':
			if i+1 < len(line) && line[i+1] == '(' {
				paren++
				i++
			}
		case ')':
			if paren > 0 {
				paren--
			}
		case ';', '|', '&':
			if paren > 0 {
				continue
			}
			// Leave redirections such as >&2, 2>&1 and |& alone.
			if ch == '&' && i > 0 && (line[i-1] == '>' || line[i-1] == '<') {
				continue
			}
			if ch == '&' && (i+1 >= len(line) || line[i+1] != '&') {
				continue
			}
			emit(i)
			logical := ch != ';' && i+1 < len(line) && line[i+1] == ch
			for i+1 < len(line) && (line[i+1] == ch || line[i+1] == ';') {
				i++
			}
			start = i + 1
			if logical {
				cond = true
			} else if ch == ';' {
				cond = false
			}
		}
	}
	emit(len(line))
	// "then", "do", "else" open the body of the compound command before them.
	var res []segment
	for _, seg := range out {
		for _, kw := range []string{"then ", "do ", "else "} {
			if strings.HasPrefix(seg.text, kw) {
				seg.text = strings.TrimSpace(seg.text[len(kw):])
			}
		}
		if seg.text == "then" || seg.text == "do" || seg.text == "else" || seg.text == "" {
			continue
		}
		res = append(res, seg)
	}
	return res
}

// shellWords splits a simple command into words, keeping quotes so that
// callers can tell literal from expanded text.
func shellWords(seg string) []string {
	var out []string
	var cur strings.Builder
	var q byte
	inWord := false
	for i := 0; i < len(seg); i++ {
		ch := seg[i]
		if q != 0 {
			cur.WriteByte(ch)
			if ch == q {
				q = 0
			} else if ch == '\\' && q == '"' && i+1 < len(seg) {
				i++
				cur.WriteByte(seg[i])
			}
			continue
		}
		switch ch {
		case ' ', '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case '\'', '"':
			q = ch
			inWord = true
			cur.WriteByte(ch)
		default:
			inWord = true
			cur.WriteByte(ch)
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// unquote removes shell quoting from a word.
func shellUnquote(w string) string {
	var b strings.Builder
	var q byte
	for i := 0; i < len(w); i++ {
		ch := w[i]
		switch {
		case q != 0 && ch == q:
			q = 0
		case q == 0 && (ch == '\'' || ch == '"'):
			q = ch
		case ch == '\\' && q != '\'' && i+1 < len(w):
			i++
			b.WriteByte(w[i])
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

func expandVars(s string, vars map[string]string) string {
	return varRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := varRE.FindStringSubmatch(m)
		name := sub[1] + sub[3]
		if v, ok := vars[name]; ok && v != "" {
			return v
		}
		if sub[1] != "" && strings.Contains(m, "-") {
			return sub[2]
		}
		return ""
	})
}

// echoOutput renders echo's arguments and where they go.
func echoOutput(args []string, vars map[string]string) (out string, toErr, toFile bool) {
	var parts []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == ">&2" || a == "1>&2":
			toErr = true
			continue
		case a == ">" || a == ">>" || a == "2>" || a == "&>":
			if a != "2>" {
				toFile = true
			}
			i++
			continue
		case strings.HasPrefix(a, ">>") || (strings.HasPrefix(a, ">") && !strings.HasPrefix(a, ">&")) || strings.HasPrefix(a, "&>"):
			toFile = true
			continue
		case strings.HasPrefix(a, "2>"):
			continue
		case len(parts) == 0 && (a == "-n" || a == "-e" || a == "-ne" || a == "-en"):
			continue
		}
		if strings.HasPrefix(a, "'") {
			parts = append(parts, shellUnquote(a))
		} else {
			parts = append(parts, expandVars(shellUnquote(a), vars))
		}
	}
	return strings.Join(parts, " "), toErr, toFile
}

func sleepDuration(arg string) (time.Duration, bool) {
	unit := time.Second
	switch {
	case strings.HasSuffix(arg, "s"):
		arg = strings.TrimSuffix(arg, "s")
	case strings.HasSuffix(arg, "m"):
		arg, unit = strings.TrimSuffix(arg, "m"), time.Minute
	case strings.HasSuffix(arg, "h"):
		arg, unit = strings.TrimSuffix(arg, "h"), time.Hour
	}
	f, err := strconv.ParseFloat(arg, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}

// dnf options that take a separate argument.
var dnfArgOptions = map[string]bool{"--enablerepo": true, "--disablerepo": true, "--setopt": true, "--releasever": true,
	"-x": true, "--exclude": true, "--repo": true, "--repoid": true, "--installroot": true, "-c": true, "--config": true,
	"-d": true, "--debuglevel": true, "-e": true, "--errorlevel": true, "--advisory": true, "--advisories": true, "--cve": true, "--sec-severity": true}

// readPackageCommand recognises a package-manager command.
func readPackageCommand(words []string, seg string) (PackageOp, bool) {
	i := 0
	for i < len(words) && (words[i] == "sudo" || words[i] == "env" || assignRE.MatchString(words[i]) && !strings.HasPrefix(words[i], "export")) {
		if words[i] == "sudo" || words[i] == "env" {
			i++
			continue
		}
		i++
	}
	if i >= len(words) {
		return PackageOp{}, false
	}
	tool := path.Base(words[i])
	args := words[i+1:]
	switch tool {
	case "dnf", "yum", "microdnf", "dnf5":
		return readDnf(args, seg)
	case "rpm":
		return readRpm(args, seg)
	}
	return PackageOp{}, false
}

func readDnf(args []string, seg string) (PackageOp, bool) {
	op := PackageOp{Line: seg}
	sub := ""
	var names []string
	for j := 0; j < len(args); j++ {
		a := args[j]
		if isShellRedirect(a) {
			if a == ">" || a == ">>" || a == "2>" || a == "&>" {
				j++
			}
			continue
		}
		if strings.HasPrefix(a, "-") {
			if a == "--security" {
				op.Security = true
			}
			if dnfArgOptions[a] {
				j++
			}
			continue
		}
		if sub == "" {
			sub = a
			continue
		}
		names = append(names, a)
	}
	switch sub {
	case "install", "reinstall", "localinstall", "in":
		op.Kind = "install"
	case "remove", "erase", "rm", "autoremove":
		op.Kind = "remove"
	case "upgrade", "update", "up", "upgrade-minimal", "update-minimal":
		op.Kind = "upgrade"
	default:
		return PackageOp{}, false
	}
	for _, n := range names {
		if spec, ok := parsePackageArg(n); ok {
			op.Packages = append(op.Packages, spec)
		}
	}
	if op.Kind != "upgrade" && len(op.Packages) == 0 {
		return PackageOp{}, false
	}
	return op, true
}

func readRpm(args []string, seg string) (PackageOp, bool) {
	op := PackageOp{Line: seg}
	for _, a := range args {
		if isShellRedirect(a) {
			continue
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") {
			switch {
			case strings.ContainsAny(a[1:2], "iUF"):
				op.Kind = "install"
			case a[1] == 'e':
				op.Kind = "remove"
			case a[1] == 'q' || a[1] == 'V':
				return PackageOp{}, false
			}
			continue
		}
		if a == "--install" || a == "--upgrade" || a == "--freshen" {
			op.Kind = "install"
			continue
		}
		if a == "--erase" {
			op.Kind = "remove"
			continue
		}
		if strings.HasPrefix(a, "--") {
			continue
		}
		if spec, ok := parsePackageArg(a); ok {
			op.Packages = append(op.Packages, spec)
		}
	}
	if op.Kind == "" || len(op.Packages) == 0 {
		return PackageOp{}, false
	}
	return op, true
}

func isShellRedirect(a string) bool {
	return strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") || strings.HasPrefix(a, "&>") || strings.HasPrefix(a, "1>") || strings.HasPrefix(a, "<")
}

var archSuffixes = []string{".x86_64", ".aarch64", ".noarch", ".i686", ".src"}

// parsePackageArg reads NAME, NAME-VERSION[-RELEASE][.ARCH] or a path/URL
// to an .rpm file. Words with variables, globs or groups are invisible.
func parsePackageArg(word string) (PackageSpec, bool) {
	w := shellUnquote(word)
	if w == "" || strings.ContainsAny(w, "$*?[]{}`@") {
		return PackageSpec{}, false
	}
	if strings.HasSuffix(w, ".rpm") {
		base := strings.TrimSuffix(path.Base(w), ".rpm")
		for _, s := range archSuffixes {
			base = strings.TrimSuffix(base, s)
		}
		// name-version-release
		r := strings.LastIndexByte(base, '-')
		if r <= 0 {
			return PackageSpec{Name: base}, true
		}
		v := strings.LastIndexByte(base[:r], '-')
		if v <= 0 {
			return PackageSpec{Name: base[:r], Version: base[r+1:]}, true
		}
		return PackageSpec{Name: base[:v], Version: base[v+1:]}, true
	}
	if strings.Contains(w, "/") {
		return PackageSpec{}, false
	}
	for _, s := range archSuffixes {
		w = strings.TrimSuffix(w, s)
	}
	return PackageSpec{Name: w}, true
}

// splitNameVersion separates a version from a package word using the
// catalogue: the whole word if it names a package, else the first "-<digit>"
// split whose prefix names a package, else the first "-<digit>" split.
func (c *Catalogue) splitNameVersion(word string) (string, string) {
	if _, ok := c.Packages[word]; ok {
		return word, ""
	}
	var cuts []int
	for i := 1; i+1 < len(word); i++ {
		if word[i] == '-' && word[i+1] >= '0' && word[i+1] <= '9' {
			cuts = append(cuts, i)
		}
	}
	for _, i := range cuts {
		if _, ok := c.Packages[word[:i]]; ok {
			return word[:i], word[i+1:]
		}
	}
	if len(cuts) > 0 {
		return word[:cuts[0]], word[cuts[0]+1:]
	}
	return word, ""
}

// ApplyOps changes a package set as the operations say, resolving versions
// against the catalogue at time at. It returns dnf-style output lines.
func (c *Catalogue) ApplyOps(pkgs map[string]string, ops []PackageOp, at time.Time) string {
	var out strings.Builder
	for _, op := range ops {
		switch op.Kind {
		case "install":
			var done []string
			for _, spec := range op.Packages {
				name, ver := spec.Name, spec.Version
				if ver == "" {
					name, ver = c.splitNameVersion(name)
				}
				v := c.resolveVersion(name, ver, at)
				if cur, ok := pkgs[name]; ok && ver == "" && vercmp(cur, v) >= 0 {
					fmt.Fprintf(&out, "Package %s-%s is already installed.\n", name, cur)
					continue
				}
				pkgs[name] = v
				done = append(done, name+"-"+v)
			}
			if len(done) > 0 {
				fmt.Fprintf(&out, "Installed:\n  %s\n", strings.Join(done, "\n  "))
			}
			out.WriteString("Complete!\n")
		case "remove":
			var done []string
			for _, spec := range op.Packages {
				name, _ := c.splitNameVersion(spec.Name)
				if v, ok := pkgs[name]; ok {
					delete(pkgs, name)
					done = append(done, name+"-"+v)
				} else {
					fmt.Fprintf(&out, "No match for argument: %s\n", spec.Name)
				}
			}
			if len(done) > 0 {
				fmt.Fprintf(&out, "Removed:\n  %s\n", strings.Join(done, "\n  "))
			} else {
				out.WriteString("No packages marked for removal.\n")
			}
			out.WriteString("Complete!\n")
		case "upgrade":
			targets := map[string]bool{}
			for _, spec := range op.Packages {
				name, _ := c.splitNameVersion(spec.Name)
				targets[name] = true
			}
			var done []string
			names := make([]string, 0, len(pkgs))
			for n := range pkgs {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, name := range names {
				if len(targets) > 0 && !targets[name] {
					continue
				}
				cur := pkgs[name]
				var next string
				if op.Security {
					next = c.latestSecurityFix(name, at)
				} else {
					c.ensurePackage(name)
					next = c.Latest(name, at)
				}
				if next != "" && vercmp(next, cur) > 0 {
					pkgs[name] = next
					done = append(done, name+"-"+next)
				}
			}
			if len(done) > 0 {
				fmt.Fprintf(&out, "Upgraded:\n  %s\n", strings.Join(done, "\n  "))
			} else {
				out.WriteString("Dependencies resolved.\nNothing to do.\n")
			}
			out.WriteString("Complete!\n")
		}
	}
	return out.String()
}

// latestSecurityFix is the newest version of name shipped by a Security
// advisory released by at ("" if none).
func (c *Catalogue) latestSecurityFix(name string, at time.Time) string {
	best := ""
	for _, p := range c.PatchesFor(name) {
		if p.Classification != "Security" || p.Released.After(at) {
			continue
		}
		if v := p.fixedVersion(name); best == "" || vercmp(v, best) > 0 {
			best = v
		}
	}
	return best
}

// RunScript reads a script and applies it to an instance at once: package
// changes always (a failing script has already run its earlier lines), the
// step only on success. The automation runner and tests use it; Run Command
// reads at start and applies at completion.
func (w *World) RunScript(inst *Instance, commands []string, at time.Time) *ScriptRun {
	run := ReadScript(commands)
	w.applyScriptRun(inst, run, at)
	return run
}

func (w *World) applyScriptRun(inst *Instance, run *ScriptRun, at time.Time) string {
	if inst.Content.Packages == nil {
		inst.Content.Packages = map[string]string{}
	}
	out := w.Catalogue.ApplyOps(inst.Content.Packages, run.Ops, at)
	if !run.Failed() {
		inst.Content.Steps = append(inst.Content.Steps, ContentStep{Name: run.StepName, Digest: run.Digest})
	}
	return out
}
