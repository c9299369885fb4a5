package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Parser reads HCL files of one project directory and keeps every source
// buffer it saw, including synthetic ones such as a -var value, so that
// diagnostics can show a snippet of any range they point at.
type Parser struct {
	dir     string
	sources map[string][]byte
	files   map[string]*hcl.File
}

// NewParser returns a Parser for the project in dir.
func NewParser(dir string) *Parser {
	return &Parser{dir: dir, sources: map[string][]byte{}, files: map[string]*hcl.File{}}
}

// Dir is the project directory.
func (p *Parser) Dir() string { return p.dir }

// LoadHCLFile reads and parses one native-syntax file. name is the file's
// diagnostic name: relative to the project dir with forward slashes, or
// absolute for a file outside it.
func (p *Parser) LoadHCLFile(name string) (*hcl.File, hcl.Diagnostics) {
	if f, ok := p.files[name]; ok {
		return f, nil
	}
	src, err := os.ReadFile(p.abs(name))
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read file",
			Detail:   fmt.Sprintf("The file %q could not be read: %s.", name, unwrapPathError(err)),
		}}
	}
	return p.ParseHCL(src, name)
}

// ParseHCL parses src as a native-syntax file named name and keeps it.
func (p *Parser) ParseHCL(src []byte, name string) (*hcl.File, hcl.Diagnostics) {
	p.sources[name] = src
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if f != nil {
		p.files[name] = f
	}
	return f, diags
}

// AddSource records a synthetic source buffer.
func (p *Parser) AddSource(name string, src []byte) { p.sources[name] = src }

// Sources returns every buffer read so far, by diagnostic name.
func (p *Parser) Sources() map[string][]byte {
	out := make(map[string][]byte, len(p.sources))
	for k, v := range p.sources {
		out[k] = v
	}
	return out
}

// abs turns a diagnostic name back into a filesystem path.
func (p *Parser) abs(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(p.dir, filepath.FromSlash(name))
}

// relName is the diagnostic name of path: relative to dir with forward
// slashes when it lies inside dir, otherwise path itself, cleaned.
func relName(dir, path string) string {
	if !filepath.IsAbs(path) {
		return filepath.ToSlash(filepath.Clean(path))
	}
	if rel, err := filepath.Rel(dir, path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(rel)
	}
	return filepath.Clean(path)
}

// unwrapPathError drops the path from an *os.PathError: the diagnostic
// already names the file.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
