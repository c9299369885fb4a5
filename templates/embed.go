// Package templates holds the Packer template skeletons amibake renders
// each layer into. A project can override one by placing a file with the
// same name in its own templates/ directory.
package templates

import "embed"

// FS holds the built-in templates.
//
//go:embed *.pkr.hcl.tmpl
var FS embed.FS

// Layer is the name of the template a layer is rendered with.
const Layer = "layer.pkr.hcl.tmpl"
