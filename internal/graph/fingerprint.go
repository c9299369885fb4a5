package graph

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/amibake/amibake/internal/config"
)

// FingerprintVersion is the first thing every fingerprint hashes. Bump it
// whenever the algorithm changes on purpose, so that no old fingerprint can
// ever be equal to a new one by accident (TestFingerprintGolden pins it).
const FingerprintVersion = "amibake-fp-v1"

// Component kinds, in the order they appear in a fingerprint.
const (
	KindSource  = "source"  // a root layer's upstream selector
	KindParent  = "parent"  // the parent layer's fingerprint
	KindSetting = "setting" // one of ImageSettings
	KindRecipe  = "recipe"  // one recipe, with Parts
	KindInput   = "input"   // part of a recipe: one resolved input
	KindStep    = "step"    // part of a recipe: one step with its env
	KindFile    = "file"    // part of a recipe: a file a step references
)

// SensitiveValue replaces the value, and the digest, of anything derived
// from a sensitive input or variable in --explain output.
const SensitiveValue = "(sensitive)"

// Fingerprint is the content identity of one layer's image.
type Fingerprint struct {
	Layer string `json:"layer"`
	Hash  string `json:"hash"`  // 64 hex digits
	Short string `json:"short"` // the first 12
	// Parent is the parent layer's Hash (the amibake:parent-fingerprint
	// tag); empty for a root layer, whose source is a component instead.
	Parent      string `json:"parent,omitempty"`
	ParentLayer string `json:"parent_layer,omitempty"`
	// Components are what was hashed, in order: Hash is the sha256 of
	// FingerprintVersion and each component's kind, name and digest.
	Components []Component `json:"components,omitempty"`
}

// Component is one input of a fingerprint, for `amibake fingerprint --explain`.
type Component struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Value is a short human-readable form (the setting's value, the
	// recipe's version, the step's summary); SensitiveValue when secret.
	Value string `json:"value,omitempty"`
	// Digest is the sha256 (hex) of the component's canonical form; empty
	// when Sensitive, because the digest of a short secret is easy to
	// reverse.
	Digest    string `json:"digest,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
	// Parts of a recipe: its inputs, then each step followed by the files
	// it references. The recipe's digest covers them in that order.
	Parts []Component `json:"parts,omitempty"`
}

// Diagnostic summaries of Fingerprints.
const (
	SummaryRecipeFile    = "Cannot read recipe file"
	SummaryUnknownRecipe = "Unknown recipe"
)

// Fingerprints computes the fingerprint of every layer of g, parents first
// (DESIGN.md, "Image identity"; docs/fingerprint.md). It reads the files
// recipe steps reference from g.Config.Dir, each once however many layers
// use it. A problem (unreadable file, bad recipe input) is a diagnostic;
// the layer and its descendants are then missing from the map.
func Fingerprints(g *Graph) (map[string]*Fingerprint, hcl.Diagnostics) {
	out := map[string]*Fingerprint{}
	if g == nil || g.Config == nil {
		return out, nil
	}
	c := &fpComputer{
		cfg:     g.Config,
		ctx:     evalContext(g.Config),
		files:   map[string]*fileDigest{},
		recipes: map[string]*recipePart{},
	}
	var diags hcl.Diagnostics
	raw := map[string][32]byte{}
	for _, n := range g.Topo() {
		var parent *Fingerprint
		if n.Parent != nil {
			if parent = out[n.Parent.Name()]; parent == nil {
				continue // the parent failed and was reported
			}
		}
		fp, sum, d := c.layer(n.Layer, parent, raw[n.Layer.Parent])
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		out[n.Name()] = fp
		raw[n.Name()] = sum
	}
	return out, dedupe(diags)
}

type fpComputer struct {
	cfg *config.Config
	ctx *hcl.EvalContext
	// files by path relative to cfg.Dir.
	files map[string]*fileDigest
	// recipes by name and digest of the resolved inputs.
	recipes map[string]*recipePart
}

type part struct {
	c   Component
	raw [32]byte
}

type recipePart struct {
	part
	diags hcl.Diagnostics
}

type fileDigest struct {
	sum   [32]byte
	files int // > 0 for a directory: how many files it holds
	isDir bool
	err   error
}

func (c *fpComputer) layer(l *config.Layer, parent *Fingerprint, parentRaw [32]byte) (*Fingerprint, [32]byte, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var parts []part

	if parent != nil {
		parts = append(parts, part{
			c:   Component{Kind: KindParent, Name: parent.Layer, Digest: parent.Hash},
			raw: parentRaw,
		})
	} else {
		parts = append(parts, sourcePart(l.Source))
	}

	for _, s := range ImageSettings {
		if s.value == nil {
			continue
		}
		v := s.value(l, c.cfg.Project)
		f := (&framer{}).str(KindSetting).str(s.Name)
		canonical(f, v)
		sum := f.sum()
		parts = append(parts, part{
			c:   Component{Kind: KindSetting, Name: s.Name, Value: canonicalString(v), Digest: hex.EncodeToString(sum[:])},
			raw: sum,
		})
	}

	for _, ref := range l.Recipes {
		if ref == nil {
			continue
		}
		p, d := c.recipe(ref)
		diags = append(diags, d...)
		if p != nil {
			parts = append(parts, *p)
		}
	}

	top := (&framer{}).str(FingerprintVersion)
	comps := make([]Component, 0, len(parts))
	for _, p := range parts {
		top.str(p.c.Kind).str(p.c.Name).bytes(p.raw[:])
		comps = append(comps, p.c)
	}
	sum := top.sum()
	h := hex.EncodeToString(sum[:])
	fp := &Fingerprint{Layer: l.Name, Hash: h, Short: h[:12], Components: comps}
	if parent != nil {
		fp.Parent, fp.ParentLayer = parent.Hash, parent.Layer
	}
	return fp, sum, diags
}

// SourceSelector is the one-line form of a root layer's source:
// "ssm:/aws/service/…" or "filter:owners=amazon;name=al2023-ami-*;arch=x86_64".
func SourceSelector(s *config.Source) string {
	if s == nil {
		return "none"
	}
	if s.SSMParameter != "" {
		return "ssm:" + s.SSMParameter
	}
	return fmt.Sprintf("filter:owners=%s;name=%s;arch=%s", strings.Join(sortedCopy(s.Owners), ","), s.NameFilter, sourceArch(s))
}

func sourceArch(s *config.Source) string {
	if s.Architecture == "" {
		return "x86_64"
	}
	return s.Architecture
}

func sourcePart(s *config.Source) part {
	f := (&framer{}).str(KindSource)
	if s != nil {
		f.str(s.SSMParameter).strs(sortedCopy(s.Owners)).str(s.NameFilter).str(sourceArch(s))
	}
	sum := f.sum()
	return part{
		c:   Component{Kind: KindSource, Name: SourceSelector(s), Digest: hex.EncodeToString(sum[:])},
		raw: sum,
	}
}

func sortedCopy(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}

// recipe hashes one recipe for one layer's inputs: name, version, inputs,
// then every step followed by the files it references.
func (c *fpComputer) recipe(ref *config.RecipeRef) (*part, hcl.Diagnostics) {
	r := c.cfg.Recipes[ref.Name]
	if r == nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  SummaryUnknownRecipe,
			Detail:   fmt.Sprintf("No recipe %q is declared (recipes/%s/recipe.hcl).", ref.Name, ref.Name),
			Subject:  refRange(ref),
		}}
	}
	inputs, diags := resolveInputs(r, ref)
	if diags.HasErrors() {
		return nil, diags
	}

	var inParts []part
	key := (&framer{}).str(r.Name)
	for _, name := range sortedKeys(inputs) {
		v := inputs[name]
		f := (&framer{}).str(KindInput).str(name)
		canonical(f, v)
		sum := f.sum()
		comp := Component{Kind: KindInput, Name: name, Value: canonicalString(v), Digest: hex.EncodeToString(sum[:])}
		if inputSensitive(r, name, v) {
			comp.Value, comp.Digest, comp.Sensitive = SensitiveValue, "", true
		}
		inParts = append(inParts, part{c: comp, raw: sum})
		key.str(name).bytes(sum[:]).str(strconv.FormatBool(comp.Sensitive))
	}
	k := key.sum()
	cacheKey := string(k[:])
	if cached := c.recipes[cacheKey]; cached != nil {
		diags = append(diags, cached.diags...)
		if cached.diags.HasErrors() {
			return nil, diags
		}
		p := cached.part
		return &p, diags
	}

	steps, d := resolveSteps(r, inputs, c.ctx)
	rp := &recipePart{diags: d}
	if !d.HasErrors() {
		parts := inParts
		for _, rs := range steps {
			if rs == nil || rs.Step == nil {
				continue
			}
			parts = append(parts, stepPart(r, rs))
			for _, ref := range stepFiles(rs) {
				fp, fd := c.filePart(r, rs, ref)
				rp.diags = append(rp.diags, fd...)
				if fp != nil {
					parts = append(parts, *fp)
				}
			}
		}
		f := (&framer{}).str(KindRecipe).str(r.Name).str(r.Version)
		comps := make([]Component, 0, len(parts))
		for _, p := range parts {
			f.str(p.c.Kind).str(p.c.Name).bytes(p.raw[:])
			comps = append(comps, p.c)
		}
		sum := f.sum()
		rp.part = part{
			c:   Component{Kind: KindRecipe, Name: r.Name, Value: r.Version, Digest: hex.EncodeToString(sum[:]), Parts: comps},
			raw: sum,
		}
	}
	c.recipes[cacheKey] = rp
	diags = append(diags, rp.diags...)
	if rp.diags.HasErrors() {
		return nil, diags
	}
	p := rp.part
	return &p, diags
}

func inputSensitive(r *config.Recipe, name string, v cty.Value) bool {
	if v != cty.NilVal && v.ContainsMarked() {
		return true
	}
	for _, in := range r.Inputs {
		if in != nil && in.Name == name {
			return in.Sensitive
		}
	}
	return false
}

// stepName is the step's name; config.Load names unnamed steps
// "<recipe>/<n>" counting from 1, and a hand-built Step gets the same.
func stepName(rs *config.ResolvedStep) string {
	if rs.Step.Name != "" {
		return rs.Step.Name
	}
	return fmt.Sprintf("%s/%d", rs.Recipe, rs.Index+1)
}

// fileMode normalizes a file step's mode: "" is the default 0644 and "644"
// is "0644".
func fileMode(rs *config.ResolvedStep) string {
	if rs.Step.Kind != config.StepFile {
		return rs.Step.Mode
	}
	m := rs.Step.Mode
	if m == "" {
		return "0644"
	}
	if n, err := strconv.ParseUint(m, 8, 32); err == nil {
		return fmt.Sprintf("%04o", n)
	}
	return m
}

func cleanRel(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(filepath.ToSlash(p))
}

func stepPart(r *config.Recipe, rs *config.ResolvedStep) part {
	s := rs.Step
	name := stepName(rs)
	f := (&framer{}).str(KindStep).str(s.Kind).str(name).
		str(cleanRel(s.Path)).strs(s.Inline).str(cleanRel(s.Source)).str(s.Destination).str(fileMode(rs))
	keys := sortedKeys(rs.Env)
	f.strs(keys)
	for _, k := range keys {
		f.str(rs.Env[k])
	}
	sum := f.sum()

	var summary strings.Builder
	summary.WriteString(s.Kind)
	switch s.Kind {
	case config.StepScript:
		summary.WriteString(" " + cleanRel(s.Path))
	case config.StepInline:
		if len(s.Inline) == 1 {
			summary.WriteString(" (1 command)")
		} else {
			fmt.Fprintf(&summary, " (%d commands)", len(s.Inline))
		}
	case config.StepFile:
		fmt.Fprintf(&summary, " %s → %s (%s)", cleanRel(s.Source), s.Destination, fileMode(rs))
	}
	sensitive := false
	if len(keys) > 0 {
		var env []string
		for _, k := range keys {
			if rs.SensitiveEnv[k] {
				sensitive = true
				env = append(env, k+"="+SensitiveValue)
			} else {
				env = append(env, k+"="+strconv.Quote(rs.Env[k]))
			}
		}
		summary.WriteString(" env " + strings.Join(env, " "))
	}
	comp := Component{Kind: KindStep, Name: name, Value: summary.String(), Digest: hex.EncodeToString(sum[:])}
	if sensitive {
		comp.Digest, comp.Sensitive = "", true
	}
	return part{c: comp, raw: sum}
}

// stepFiles lists the files a step references, relative to its recipe.
func stepFiles(rs *config.ResolvedStep) []string {
	switch rs.Step.Kind {
	case config.StepScript:
		if rs.Step.Path != "" {
			return []string{rs.Step.Path}
		}
	case config.StepFile:
		if rs.Step.Source != "" {
			return []string{rs.Step.Source}
		}
	}
	return nil
}

func (c *fpComputer) filePart(r *config.Recipe, rs *config.ResolvedStep, ref string) (*part, hcl.Diagnostics) {
	fail := func(why string) (*part, hcl.Diagnostics) {
		rng := rs.Step.DeclRange
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  SummaryRecipeFile,
			Detail:   fmt.Sprintf("Step %q of recipe %q references %q, which %s.", stepName(rs), r.Name, ref, why),
			Subject:  &rng,
		}}
	}
	if filepath.IsAbs(ref) || path.IsAbs(filepath.ToSlash(ref)) || filepath.VolumeName(ref) != "" {
		return fail("is not relative to the recipe's directory")
	}
	rel := cleanRel(ref)
	dir := r.Dir
	if dir == "" {
		dir = "recipes/" + r.Name
	}
	proj := path.Join(filepath.ToSlash(dir), rel)
	if proj == ".." || strings.HasPrefix(proj, "../") {
		return fail("is outside the project directory")
	}
	fd := c.files[proj]
	if fd == nil {
		fd = hashPath(filepath.Join(c.cfg.Dir, filepath.FromSlash(proj)))
		c.files[proj] = fd
	}
	if fd.err != nil {
		if errors.Is(fd.err, fs.ErrNotExist) {
			return fail("does not exist")
		}
		return fail(fmt.Sprintf("cannot be read (%s)", describeFSError(fd.err)))
	}
	value := ""
	if fd.isDir {
		value = fmt.Sprintf("directory, %d files", fd.files)
	}
	return &part{
		c:   Component{Kind: KindFile, Name: rel, Value: value, Digest: hex.EncodeToString(fd.sum[:])},
		raw: fd.sum,
	}, nil
}

// describeFSError drops the absolute path from an fs error: diagnostics
// must read the same on every machine.
func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// hashPath digests a file (sha256 of its content with CRLF turned into LF,
// unless it holds a NUL byte and so is binary) or a directory (the sorted
// relative paths and digests of every file under it).
func hashPath(full string) *fileDigest {
	st, err := os.Stat(full)
	if err != nil {
		return &fileDigest{err: err}
	}
	if !st.IsDir() {
		sum, err := hashFile(full)
		return &fileDigest{sum: sum, err: err}
	}
	type entry struct {
		rel string
		sum [32]byte
	}
	var entries []entry
	err = filepath.WalkDir(full, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		sum, err := hashFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(full, p)
		if err != nil {
			return fmt.Errorf("relative path of %s: %w", p, err)
		}
		entries = append(entries, entry{filepath.ToSlash(rel), sum})
		return nil
	})
	if err != nil {
		return &fileDigest{err: err}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	f := (&framer{}).str("dir")
	for _, e := range entries {
		f.str(e.rel).bytes(e.sum[:])
	}
	return &fileDigest{sum: f.sum(), isDir: true, files: len(entries)}
}

var crlf, lf = []byte("\r\n"), []byte("\n")

// readFile is os.ReadFile; tests count calls through it.
var readFile = os.ReadFile

func hashFile(p string) ([32]byte, error) {
	b, err := readFile(p)
	if err != nil {
		return [32]byte{}, err
	}
	if bytes.IndexByte(b, 0) < 0 && bytes.Contains(b, crlf) {
		b = bytes.ReplaceAll(b, crlf, lf)
	}
	return (&framer{buf: b}).sum(), nil
}

// dedupe drops repeated diagnostics (a recipe used by many layers reports
// a problem of its own once).
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	var out hcl.Diagnostics
	for _, d := range diags {
		k := fmt.Sprintf("%d\x00%s\x00%s", d.Severity, d.Summary, d.Detail)
		if d.Subject != nil {
			k += fmt.Sprintf("\x00%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}
