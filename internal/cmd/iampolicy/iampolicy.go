// Package iampolicy is `amibake iam-policy`: the least-privilege IAM policy
// of a command family, scoped to the project.
package iampolicy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/iam"
	"github.com/amibake/amibake/internal/iostreams"
)

// IAMPolicyOptions is everything iamPolicyRun needs.
type IAMPolicyOptions struct {
	IO *iostreams.IOStreams
	// LoadProject decodes the project (cmdutil.LoadProject in production).
	LoadProject func() (*config.Config, error)

	For       iam.Family
	Account   string
	Partition string
	Explain   bool
}

var accountRe = regexp.MustCompile(`^([0-9]{12}|\*)$`)

// NewCmdIAMPolicy builds `amibake iam-policy`; runF replaces the run in tests.
func NewCmdIAMPolicy(f *cmdutil.Factory, runF func(*IAMPolicyOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "iam-policy",
		Usage: "Print the least-privilege IAM policy for amibake's commands",
		Description: "Prints an IAM policy document (JSON) granting what a command family needs, scoped\n" +
			"to this project: its parameter tree (<prefix>/<project>/*), resources tagged\n" +
			"amibake:project = <project>, its inventory bucket and its fleets' Auto Scaling groups.\n\n" +
			"Families: bake (bake, plan, promote, revoke, history, lineage, status, lock,\n" +
			"inventory, diff, sbom), patch (patch scan/plan/apply/run; includes bake), rollout\n" +
			"(includes retire), retire, all.\n" +
			"--explain prints why each statement is there instead.\n\n" +
			"   amibake iam-policy --for bake --account 123456789012 > amibake-bake.json\n" +
			"   aws iam put-role-policy --role-name amibake --policy-name amibake \\\n" +
			"     --policy-document file://amibake-bake.json",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "for", Value: string(iam.All), Usage: "command `FAMILY`: bake, patch, rollout, retire or all"},
			&cli.StringFlag{Name: "account", Value: "*", Usage: "AWS account `ID` for resource ARNs (default: any)"},
			&cli.StringFlag{Name: "partition", Value: "aws", Usage: "AWS `PARTITION` (aws, aws-cn, aws-us-gov)"},
			&cli.BoolFlag{Name: "explain", Usage: "print each statement with the reason for it"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cmdutil.FlagErrorf("iam-policy takes no arguments; use --for FAMILY")
			}
			fam, err := iam.ParseFamily(c.String("for"))
			if err != nil {
				return cmdutil.FlagErrorf("invalid --for: %v", err)
			}
			opts := &IAMPolicyOptions{
				IO: f.IOStreams, For: fam, Account: c.String("account"), Partition: c.String("partition"),
				Explain: c.Bool("explain"),
			}
			if !accountRe.MatchString(opts.Account) {
				return cmdutil.FlagErrorf("invalid --account %q: want a 12-digit account ID or *", opts.Account)
			}
			switch opts.Partition {
			case "aws", "aws-cn", "aws-us-gov":
			default:
				return cmdutil.FlagErrorf("invalid --partition %q: want aws, aws-cn or aws-us-gov", opts.Partition)
			}
			if opts.Explain && f.JSON() {
				return cmdutil.FlagErrorf("--explain prints text; it cannot be combined with --output json")
			}
			loadOpts := cmdutil.LoadOptionsFrom(c, f)
			opts.LoadProject = func() (*config.Config, error) { return cmdutil.LoadProject(f, loadOpts) }
			if runF != nil {
				return runF(opts)
			}
			return iamPolicyRun(opts)
		},
	}
}

func iamPolicyRun(opts *IAMPolicyOptions) error {
	cfg, err := opts.LoadProject()
	if err != nil {
		return err
	}
	scope := iam.ScopeFor(cfg, opts.Partition, opts.Account)
	doc := iam.Policy(opts.For, scope)
	if !opts.Explain {
		return cmdutil.WriteJSON(opts.IO.Out, doc)
	}
	why := map[string]string{}
	for _, r := range iam.RulesFor(opts.For, scope) {
		why[r.Sid] = r.Why
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "IAM policy for amibake --for %s, project %s (%d statements)\n", opts.For, scope.Project, len(doc.Statement))
	for _, st := range doc.Statement {
		fmt.Fprintf(w, "\n%s\n  why:       %s\n  actions:   %s\n  resources: %s\n", st.Sid, why[st.Sid],
			strings.Join(st.Action, ", "), strings.Join(st.Resource, ", "))
		for _, op := range slices.Sorted(maps.Keys(st.Condition)) {
			kv := st.Condition[op]
			for _, k := range slices.Sorted(maps.Keys(kv)) {
				fmt.Fprintf(w, "  condition: %s %s = %s\n", op, k, strings.Join(kv[k], " | "))
			}
		}
	}
	return nil
}
