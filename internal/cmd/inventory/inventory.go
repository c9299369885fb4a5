// Package inventory is `amibake inventory AMI|LAYER@channel`: what is inside
// an AMI — its packages with versions, its recipes with versions, and its
// lineage — read from the inventory document recorded when it was baked
// (s3://<inventory_bucket>/<project>/inventory/<ami-id>.json), verified
// against the AMI's amibake:inventory-sha256 tag. Read-only.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	inv "github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/lineage"
)

// SourceFlags are the flags every inventory-reading command shares.
func SourceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bucket", Usage: "inventory `BUCKET` (default: the project's inventory_bucket)"},
		&cli.StringFlag{Name: "region", Usage: "`REGION` an AMI id is in (default: search every project region)"},
	}
}

// OutputFlag lets --output/-o follow the arguments, as the documented forms
// write it (`amibake inventory AMI --output json`); it sets the global one.
func OutputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output format: text or json (the global --output, written after the arguments)"}
}

// ApplyOutput copies a command-level --output into the Factory.
func ApplyOutput(c *cli.Context, f *cmdutil.Factory) error {
	if !c.IsSet("output") {
		return nil
	}
	// Args sets the name as written; urfave keeps one value per name.
	v := c.String("output")
	if v == "" {
		v = c.String("o")
	}
	if err := cmdutil.ValidateOutput(v); err != nil {
		return err
	}
	f.Output = v
	return nil
}

// Source reads inventories: the project, its clients and the bucket.
type Source struct {
	Config   *config.Config
	Clients  *awsapi.Clients
	Resolver *inv.Resolver
	Bucket   string
	Project  string
}

// Open loads the project and builds the clients. bucket overrides the
// project's inventory_bucket.
func Open(ctx context.Context, f *cmdutil.Factory, lo config.LoadOptions, bucket, region string) (*Source, error) {
	cfg, err := cmdutil.LoadProject(f, lo)
	if err != nil {
		return nil, err
	}
	if bucket == "" {
		bucket = cfg.Project.InventoryBucket
	}
	if bucket == "" {
		return nil, cmdutil.FlagErrorf("no inventory bucket: set inventory_bucket in the project block, or pass --bucket")
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	clients := awsapi.NewClients(awsCfg)
	return &Source{
		Config: cfg, Clients: clients, Bucket: bucket, Project: cfg.Project.Name,
		Resolver: &inv.Resolver{Config: cfg, Clients: clients, Region: region},
	}, nil
}

// Read resolves ref (AMI id or LAYER@channel) and loads its verified
// document.
func (s *Source) Read(ctx context.Context, ref string) (lineage.Image, *inv.Document, error) {
	img, err := s.Resolver.Resolve(ctx, ref)
	if err != nil {
		return lineage.Image{}, nil, err
	}
	doc, err := s.Load(ctx, img)
	if err != nil {
		return img, nil, err
	}
	return img, doc, nil
}

// Load reads the verified document of a resolved AMI. The bucket is read
// in the project's build region. A regional copy made before bakes wrote
// copies their own documents has none: it is read from its source's (the
// AMI of the same build in the layer's build region), as long as that
// source still exists and its document verifies; the result names the
// copy, with CopyOf the source.
func (s *Source) Load(ctx context.Context, img lineage.Image) (*inv.Document, error) {
	s3c := s.Clients.S3(channel.ProjectRegions(s.Config)[0])
	doc, err := inv.Load(ctx, s3c, s.Bucket, s.Project, img)
	var nr *inv.NotRecordedError
	if !errors.As(err, &nr) {
		return doc, err
	}
	src, ok := s.copySource(ctx, img)
	if !ok {
		return nil, err
	}
	sdoc, serr := inv.Load(ctx, s3c, s.Bucket, s.Project, src)
	if serr != nil || sdoc.CopyOf != "" {
		return nil, err
	}
	out := inv.NewDocument(img, sdoc.InstanceID, sdoc.Packages, sdoc.CollectedAt)
	out.BuildID, out.CopyOf = sdoc.BuildID, src.ID
	return out, nil
}

// copySource finds the AMI img was copied from: the project's image of the
// same layer, fingerprint and build id in the layer's build region. One
// DescribeImages call, made only for an AMI without a document.
func (s *Source) copySource(ctx context.Context, img lineage.Image) (lineage.Image, bool) {
	if img.Layer == "" || img.Fingerprint == "" || img.BuildID == "" || s.Config.Layers[img.Layer] == nil {
		return lineage.Image{}, false
	}
	regions, err := channel.LayerRegions(s.Config, img.Layer)
	if err != nil || regions[0] == img.Region {
		return lineage.Image{}, false
	}
	home := regions[0]
	filter := func(k, v string) ec2types.Filter {
		return ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{v}}
	}
	found, err := lineage.DescribeFilter(ctx, s.Clients.EC2(home), home, []string{"self"}, []ec2types.Filter{
		filter(lineage.TagProject, s.Project), filter(lineage.TagLayer, img.Layer),
		filter(lineage.TagFingerprint, img.Fingerprint), filter(lineage.TagBuildID, img.BuildID)})
	if err != nil {
		return lineage.Image{}, false
	}
	for _, f := range found {
		if f.ID != img.ID && f.Tags[inv.TagSHA256] != "" && f.ParentAMI == img.ParentAMI && f.Source == img.Source {
			return f, true
		}
	}
	return lineage.Image{}, false
}

// InventoryOptions are the inputs of inventory.
type InventoryOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Ref         string
	Bucket      string
	Region      string
}

// NewCmdInventory builds the command; runF replaces the run in tests.
func NewCmdInventory(f *cmdutil.Factory, runF func(context.Context, *InventoryOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "inventory",
		Usage:     "show what is inside an AMI: packages, recipes, lineage",
		ArgsUsage: "AMI|LAYER@channel",
		Description: "Reads the inventory recorded when the AMI was baked (the build instance's\n" +
			"AWS:Application inventory, s3://<inventory_bucket>/<project>/inventory/<ami>.json),\n" +
			"checks it against the AMI's amibake:inventory-sha256 tag, and prints the\n" +
			"packages with versions, the recipes with versions and the lineage up to the\n" +
			"source. An AMI baked before inventory collection has none (exit 1).\n\n" +
			"   amibake inventory app-web@stable\n" +
			"   amibake -o json inventory ami-0123456789abcdef0",
		Flags: append(append(SourceFlags(), OutputFlag()), cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if err := ApplyOutput(c, f); err != nil {
				return err
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("inventory takes one AMI or LAYER@channel argument, got %d", len(args))
			}
			opts := &InventoryOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Ref: args[0],
				Bucket: c.String("bucket"), Region: c.String("region")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return inventoryRun(c.Context, opts)
		},
	}
}

// Result is the JSON output: the document plus where it came from and the
// lineage.
type Result struct {
	*inv.Document
	URL     string         `json:"url"`
	SHA256  string         `json:"sha256"`
	Lineage []inv.Ancestor `json:"lineage"`
}

func inventoryRun(ctx context.Context, opts *InventoryOptions) error {
	f := opts.Factory
	src, err := Open(ctx, f, opts.LoadOptions, opts.Bucket, opts.Region)
	if err != nil {
		return err
	}
	img, doc, err := src.Read(ctx, opts.Ref)
	if err != nil {
		return err
	}
	chain, err := src.Resolver.Ancestors(ctx, img)
	if err != nil {
		return err
	}
	res := Result{Document: doc, URL: inv.URL(src.Bucket, src.Project, img.ID), SHA256: img.Tags[inv.TagSHA256], Lineage: chain}
	if res.SHA256 == "" && doc.CopyOf != "" {
		// A copy without a document of its own: read from its source's.
		res.URL = inv.URL(src.Bucket, src.Project, doc.CopyOf)
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, res)
	}
	return writeText(f.IOStreams.Out, res)
}

func writeText(out io.Writer, r Result) error {
	var b strings.Builder
	d := r.Document
	fmt.Fprintf(&b, "AMI %s (%s): %s layer %s, fingerprint %s\n", d.AMI, d.Region, d.Project, d.Layer, d.Fingerprint)
	fmt.Fprintf(&b, "Inventory: %s, collected %s", r.URL, d.CollectedAt.UTC().Format("2006-01-02 15:04:05Z"))
	if d.InstanceID != "" {
		fmt.Fprintf(&b, " from %s", d.InstanceID)
	}
	if d.CopyOf != "" {
		fmt.Fprintf(&b, " (a regional copy of %s)", d.CopyOf)
	}
	b.WriteString("\n\nLineage:\n")
	for i, a := range r.Lineage {
		indent := strings.Repeat("  ", i)
		switch {
		case a.Missing:
			fmt.Fprintf(&b, "  %s%s (gone)\n", indent, a.AMI)
		case a.Layer == "":
			fmt.Fprintf(&b, "  %s%s (not an amibake AMI)\n", indent, a.AMI)
		default:
			fmt.Fprintf(&b, "  %s%s  %s  %s\n", indent, a.AMI, a.Layer, a.Fingerprint)
		}
		if a.Source != "" {
			fmt.Fprintf(&b, "  %s  source %s\n", indent, a.Source)
		}
	}
	fmt.Fprintf(&b, "\nRecipes (%d):\n", len(d.Recipes))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, rc := range d.Recipes {
		fmt.Fprintf(tw, "  %s\t%s\n", rc.Name, rc.Version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nPackages (%d):\n", len(d.Packages))
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  NAME\tVERSION\tARCH\tPUBLISHER\n")
	for _, p := range d.Packages {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Name, p.Version, dash(p.Arch), dash(p.Publisher))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(out, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
