// Package sbom is `amibake sbom AMI --format cyclonedx|spdx`: the AMI's
// recorded inventory as a CycloneDX 1.5 or SPDX 2.3 JSON document, written
// with the formats' own Go libraries. Read-only.
package sbom

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	inventorycmd "github.com/amibake/amibake/internal/cmd/inventory"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	inv "github.com/amibake/amibake/internal/inventory"
)

// SBOMOptions are the inputs of sbom.
type SBOMOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Ref         string
	Format      string
	Out         string
	Bucket      string
	Region      string
}

// NewCmdSBOM builds the command; runF replaces the run in tests.
func NewCmdSBOM(f *cmdutil.Factory, runF func(context.Context, *SBOMOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "sbom",
		Usage:     "export an AMI's inventory as a CycloneDX or SPDX SBOM",
		ArgsUsage: "AMI|LAYER@channel",
		Description: "Builds a software bill of materials from the inventory recorded when the\n" +
			"AMI was baked: CycloneDX 1.5 JSON (the AMI as the operating-system component,\n" +
			"each RPM a library with its purl) or SPDX 2.3 JSON (the AMI package CONTAINS\n" +
			"each RPM). Written to stdout, or to --out.\n\n" +
			"   amibake sbom app-web@stable --format spdx --out app-web.spdx.json",
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "format", Value: inv.FormatCycloneDX, Usage: "`FORMAT`: cyclonedx (1.5 JSON) or spdx (2.3 JSON)"},
			&cli.StringFlag{Name: "out", Usage: "write to `FILE` instead of stdout"},
		}, inventorycmd.SourceFlags()...), cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("sbom takes one AMI or LAYER@channel argument, got %d", len(args))
			}
			format := c.String("format")
			if format != inv.FormatCycloneDX && format != inv.FormatSPDX {
				return cmdutil.FlagErrorf("--format must be cyclonedx or spdx, not %q", format)
			}
			opts := &SBOMOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Ref: args[0], Format: format,
				Out: c.String("out"), Bucket: c.String("bucket"), Region: c.String("region")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return sbomRun(c.Context, opts)
		},
	}
}

func sbomRun(ctx context.Context, opts *SBOMOptions) error {
	f := opts.Factory
	src, err := inventorycmd.Open(ctx, f, opts.LoadOptions, opts.Bucket, opts.Region)
	if err != nil {
		return err
	}
	_, doc, err := src.Read(ctx, opts.Ref)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	switch opts.Format {
	case inv.FormatSPDX:
		err = inv.SPDX(&buf, doc, f.Version)
	default:
		err = inv.CycloneDX(&buf, doc, f.Version)
	}
	if err != nil {
		return err
	}
	if opts.Out == "" {
		_, err = f.IOStreams.Out.Write(buf.Bytes())
		return err
	}
	path := opts.Out
	if !filepath.IsAbs(path) && f.WorkDir != "" {
		path = filepath.Join(f.WorkDir, path)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write SBOM: %w", err)
	}
	_, err = fmt.Fprintf(f.IOStreams.ErrOut, "Wrote %s SBOM of %s (%d packages) to %s.\n", opts.Format, doc.AMI, len(doc.Packages), opts.Out)
	return err
}
