// Package deploy holds the CloudFormation template of amibake's CodeBuild
// pipeline (amibake.cfn.yaml.tmpl) and renders it for a project: names,
// build region, schedules, and the build role's least-privilege policy
// from internal/iam. amibake.cfn.yaml beside it is the rendering for the
// example project at the repository root (go test ./deploy -update).
package deploy

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/iam"
)

//go:embed amibake.cfn.yaml.tmpl
var templateText string

// Defaults of the schedules (EventBridge Scheduler expressions) and the
// commands they run.
const (
	DefaultPatchSchedule = "cron(0 3 ? * SUN *)"
	DefaultPatchCommand  = "patch run --rollout"
	DefaultScanSchedule  = "cron(0 5 * * ? *)"
	DefaultScanCommand   = "patch scan"
	DefaultTimezone      = "UTC"
)

// Options are the settings a rendering takes besides the project.
type Options struct {
	PatchSchedule string
	PatchCommand  string
	ScanSchedule  string
	ScanCommand   string
	Timezone      string
}

func (o Options) withDefaults() Options {
	set := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	set(&o.PatchSchedule, DefaultPatchSchedule)
	set(&o.PatchCommand, DefaultPatchCommand)
	set(&o.ScanSchedule, DefaultScanSchedule)
	set(&o.ScanCommand, DefaultScanCommand)
	set(&o.Timezone, DefaultTimezone)
	return o
}

var scheduleRe = regexp.MustCompile(`^(cron\([^()]+\)|rate\([0-9]+ (minute|minutes|hour|hours|day|days)\)|at\([0-9T:-]+\))$`)

// Validate checks what CloudFormation would only reject at deploy time.
func (o Options) Validate() error {
	o = o.withDefaults()
	for name, v := range map[string]string{"patch schedule": o.PatchSchedule, "scan schedule": o.ScanSchedule} {
		if !scheduleRe.MatchString(v) {
			return fmt.Errorf("invalid %s %q: want cron(...), rate(N unit) or at(...)", name, v)
		}
	}
	// EventBridge Scheduler takes IANA names; the embedded database makes
	// the check the same on a machine without /usr/share/zoneinfo.
	if o.Timezone == "" || strings.EqualFold(o.Timezone, "local") {
		return fmt.Errorf("invalid time zone %q: name an IANA time zone such as UTC or Europe/Berlin", o.Timezone)
	}
	if _, err := time.LoadLocation(o.Timezone); err != nil {
		return fmt.Errorf("invalid time zone %q: not an IANA time zone name (e.g. UTC, Europe/Berlin)", o.Timezone)
	}
	for name, v := range map[string]string{"patch command": o.PatchCommand, "scan command": o.ScanCommand} {
		if strings.ContainsAny(v, "\"\\\n") || strings.TrimSpace(v) == "" {
			return fmt.Errorf("invalid %s %q: an amibake command line without quotes, backslashes or newlines", name, v)
		}
	}
	return nil
}

// data is what the template sees.
type data struct {
	Project, Name, HomeRegion, RegionList string
	Options
	Policy string
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// ResourceName is the base name of the stack's named resources (CodeBuild
// project, roles, schedules, topic): the project name with characters
// CodeBuild and SNS refuse replaced by "-", plus "-amibake".
func ResourceName(project string) string {
	return nameUnsafe.ReplaceAllString(project, "-") + "-amibake"
}

// Render renders the template for the project of cfg.
func Render(cfg *config.Config, opts Options) ([]byte, error) {
	if cfg == nil || cfg.Project == nil {
		return nil, fmt.Errorf("render template: no project")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("render template: %w", err)
	}
	p := cfg.Project
	if len(p.Regions) == 0 {
		return nil, fmt.Errorf("render template: project %s has no regions", p.Name)
	}
	policy, err := policyYAML(iam.ScopeFor(cfg, "${AWS::Partition}", "${AWS::AccountId}"), 12)
	if err != nil {
		return nil, err
	}
	d := data{
		Project: p.Name, Name: ResourceName(p.Name), HomeRegion: p.Regions[0],
		RegionList: strings.Join(p.Regions, ", "), Options: opts.withDefaults(), Policy: policy,
	}
	tmpl, err := template.New("amibake.cfn.yaml").Option("missingkey=error").Parse(templateText)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render template: %w", err)
	}
	// What we wrote must be YAML CloudFormation can read.
	var check map[string]any
	if err := yaml.Unmarshal(buf.Bytes(), &check); err != nil {
		return nil, fmt.Errorf("render template: invalid YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// PolicyForCloudFormation is the `all` policy of scope as a CloudFormation
// value: every string with a ${...} reference wrapped in Fn::Sub.
func PolicyForCloudFormation(scope iam.Scope) any {
	doc := iam.Policy(iam.All, scope)
	sub := func(s string) any {
		if strings.Contains(s, "${") {
			return map[string]any{"Fn::Sub": s}
		}
		return s
	}
	var stmts []any
	for _, st := range doc.Statement {
		m := map[string]any{"Sid": st.Sid, "Effect": st.Effect, "Action": st.Action}
		var res []any
		for _, r := range st.Resource {
			res = append(res, sub(r))
		}
		m["Resource"] = res
		if st.Condition != nil {
			cond := map[string]any{}
			for op, kv := range st.Condition {
				c := map[string]any{}
				for k, vs := range kv {
					var vals []any
					for _, v := range vs {
						vals = append(vals, sub(v))
					}
					c[k] = vals
				}
				cond[op] = c
			}
			m["Condition"] = cond
		}
		stmts = append(stmts, m)
	}
	return map[string]any{"Version": doc.Version, "Statement": stmts}
}

// policyYAML renders the policy as a block indented by indent spaces, keys
// in IAM's customary order.
func policyYAML(scope iam.Scope, indent int) (string, error) {
	node := &yaml.Node{}
	if err := node.Encode(PolicyForCloudFormation(scope)); err != nil {
		return "", fmt.Errorf("encode policy: %w", err)
	}
	orderKeys(node, []string{"Version", "Statement", "Sid", "Effect", "Action", "Resource", "Condition"})
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return "", fmt.Errorf("encode policy: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encode policy: %w", err)
	}
	pad := strings.Repeat(" ", indent)
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n"), nil
}

// orderKeys sorts every mapping's keys: those in order first, in that
// order, then the rest alphabetically (yaml.v3 sorts map keys already).
func orderKeys(n *yaml.Node, order []string) {
	rank := map[string]int{}
	for i, k := range order {
		rank[k] = i + 1
	}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			type kv struct{ k, v *yaml.Node }
			pairs := make([]kv, 0, len(n.Content)/2)
			for i := 0; i+1 < len(n.Content); i += 2 {
				pairs = append(pairs, kv{n.Content[i], n.Content[i+1]})
			}
			less := func(a, b kv) bool {
				ra, rb := rank[a.k.Value], rank[b.k.Value]
				switch {
				case ra != 0 && rb != 0:
					return ra < rb
				case ra != 0:
					return true
				case rb != 0:
					return false
				}
				return a.k.Value < b.k.Value
			}
			for i := 1; i < len(pairs); i++ {
				for j := i; j > 0 && less(pairs[j], pairs[j-1]); j-- {
					pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
				}
			}
			n.Content = n.Content[:0]
			for _, p := range pairs {
				n.Content = append(n.Content, p.k, p.v)
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
}
