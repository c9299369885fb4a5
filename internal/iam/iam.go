// Package iam generates the least-privilege IAM policy of amibake's
// command families from one table (rules.go), scoped to a project: its
// parameter tree, its amibake:project tag, its inventory bucket, its
// fleets' Auto Scaling groups.
package iam

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/amibake/amibake/internal/config"
)

// Scope fills the rules' templates.
type Scope struct {
	Partition string // "aws", or "${AWS::Partition}" in CloudFormation
	Account   string // 12 digits, "*", or "${AWS::AccountId}"
	Project   string
	// ParamPrefix is the project's parameter prefix ("/amibake").
	ParamPrefix string
	// Bucket is the inventory bucket; "" leaves the S3 statements out.
	Bucket string
	// InstanceProfile is the build instance profile; "" leaves its
	// lookup out.
	InstanceProfile string
	// Provisioner is "ssm" or "ssh".
	Provisioner string
	// ASGs are the fleets' Auto Scaling group names; none means "*".
	ASGs []string
	// SourceParams are the layers' source SSM parameters outside
	// /aws/service/ (which the rules always allow).
	SourceParams []string
	// FleetTargets are the tags that select each fleet's instances for Run
	// Command (patch scans, in-place rollouts), by fleet name.
	FleetTargets []FleetTarget
}

// FleetTarget is how Run Command reaches a fleet's instances.
type FleetTarget struct {
	Fleet string
	Tags  map[string]string
}

// patchGroupTag is the tag AWS Patch Manager reads the patch group from;
// a fleet without targets { tags } is reached through it (patch/scan).
const patchGroupTag = "Patch Group"

// ScopeFor is the scope of a decoded project in partition and account.
func ScopeFor(cfg *config.Config, partition, account string) Scope {
	s := Scope{Partition: partition, Account: account}
	if p := cfg.Project; p != nil {
		s.Project, s.ParamPrefix, s.Bucket = p.Name, p.ParamPrefix, p.InventoryBucket
		s.InstanceProfile, s.Provisioner = p.IAMInstanceProfile, p.Provisioner
	}
	asgs := map[string]bool{}
	for _, f := range cfg.Fleets {
		if f == nil {
			continue
		}
		for _, a := range f.ASGs {
			asgs[a] = true
		}
	}
	for a := range asgs {
		s.ASGs = append(s.ASGs, a)
	}
	sort.Strings(s.ASGs)
	params := map[string]bool{}
	for _, l := range cfg.Layers {
		if l != nil && l.Source != nil && l.Source.SSMParameter != "" && !strings.HasPrefix(l.Source.SSMParameter, "/aws/service/") {
			params[l.Source.SSMParameter] = true
		}
	}
	for p := range params {
		s.SourceParams = append(s.SourceParams, p)
	}
	sort.Strings(s.SourceParams)
	fleets := make([]string, 0, len(cfg.Fleets))
	for name, f := range cfg.Fleets {
		if f != nil {
			fleets = append(fleets, name)
		}
	}
	sort.Strings(fleets)
	for _, name := range fleets {
		f := cfg.Fleets[name]
		tags := f.TargetTags
		if len(tags) == 0 && f.Patch != nil && f.Patch.PatchGroup != "" {
			tags = map[string]string{patchGroupTag: f.Patch.PatchGroup}
		}
		if len(tags) > 0 {
			s.FleetTargets = append(s.FleetTargets, FleetTarget{Fleet: name, Tags: tags})
		}
	}
	return s
}

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement. Resource is always a list, so that the JSON
// shape does not depend on the count.
type Statement struct {
	Sid       string                         `json:"Sid"`
	Effect    string                         `json:"Effect"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// ParseFamily checks a --for value.
func ParseFamily(s string) (Family, error) {
	for _, f := range Families {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Families))
	for i, f := range Families {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown command family %q: want one of %s", s, strings.Join(names, ", "))
}

// expand closes a family over the families its commands run.
func expand(f Family) map[Family]bool {
	out := map[Family]bool{}
	if f == All {
		for _, x := range Families {
			out[x] = true
		}
		return out
	}
	var add func(Family)
	add = func(x Family) {
		if out[x] {
			return
		}
		out[x] = true
		for _, y := range includes[x] {
			add(y)
		}
	}
	add(f)
	return out
}

// RulesFor are the rules of family f that apply in scope s.
func RulesFor(f Family, s Scope) []Rule {
	fams := expand(f)
	var out []Rule
	for _, r := range Rules {
		if r.When != nil && !r.When(s) {
			continue
		}
		for _, rf := range r.Families {
			if fams[rf] {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// Policy is the policy of family f in scope s.
func Policy(f Family, s Scope) Document {
	doc := Document{Version: "2012-10-17"}
	for _, r := range RulesFor(f, s) {
		if r.PerFleet {
			doc.Statement = append(doc.Statement, fleetStatements(r, s)...)
			continue
		}
		st := Statement{Sid: r.Sid, Effect: "Allow", Action: sortedUnique(r.Actions)}
		for _, res := range r.Resources {
			st.Resource = append(st.Resource, s.fillAll(res)...)
		}
		st.Resource = sortedUnique(st.Resource)
		if len(st.Resource) == 0 {
			continue
		}
		if r.Condition != nil {
			st.Condition = map[string]map[string][]string{}
			for op, kv := range r.Condition {
				st.Condition[op] = map[string][]string{}
				for k, vs := range kv {
					var filled []string
					for _, v := range vs {
						filled = append(filled, s.fill(v))
					}
					st.Condition[op][k] = filled
				}
			}
		}
		doc.Statement = append(doc.Statement, st)
	}
	return doc
}

// fleetStatements expands a PerFleet rule: one statement per fleet,
// conditioned on the tags Run Command selects the fleet's instances by.
func fleetStatements(r Rule, s Scope) []Statement {
	var out []Statement
	for _, ft := range s.FleetTargets {
		st := Statement{Sid: r.Sid + sidPart(ft.Fleet), Effect: "Allow", Action: sortedUnique(r.Actions)}
		for _, res := range r.Resources {
			st.Resource = append(st.Resource, s.fillAll(res)...)
		}
		st.Resource = sortedUnique(st.Resource)
		cond := map[string][]string{}
		for k, v := range ft.Tags {
			cond["ssm:resourceTag/"+k] = []string{v}
		}
		st.Condition = map[string]map[string][]string{"StringEquals": cond}
		out = append(out, st)
	}
	return out
}

// sidPart turns a fleet name into letters and digits, each word
// capitalised ("app-web" → "AppWeb"): IAM Sids are alphanumeric.
func sidPart(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			if up {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			up = false
		case r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

// Actions lists the actions of a document, sorted and unique.
func (d Document) Actions() []string {
	var out []string
	for _, st := range d.Statement {
		out = append(out, st.Action...)
	}
	return sortedUnique(out)
}

func (s Scope) fill(t string) string {
	params := strings.TrimPrefix(strings.TrimRight(s.ParamPrefix, "/"), "/")
	if params != "" {
		params += "/"
	}
	params += s.Project
	return strings.NewReplacer(
		"{partition}", or(s.Partition, "aws"),
		"{account}", or(s.Account, "*"),
		"{project}", s.Project,
		"{params}", params,
		"{bucket}", s.Bucket,
		"{profile}", s.InstanceProfile,
	).Replace(t)
}

// fillAll fills t, once per value of a list placeholder ({asg},
// {sourceParams}); a template whose list is empty gives "*" for {asg}
// and nothing for {sourceParams}.
func (s Scope) fillAll(t string) []string {
	switch {
	case strings.Contains(t, "{asg}"):
		asgs := s.ASGs
		if len(asgs) == 0 {
			asgs = []string{"*"}
		}
		var out []string
		for _, a := range asgs {
			out = append(out, s.fill(strings.ReplaceAll(t, "{asg}", a)))
		}
		return out
	case t == "{sourceParams}":
		var out []string
		for _, p := range s.SourceParams {
			out = append(out, s.fill("arn:{partition}:ssm:*:{account}:parameter/"+strings.TrimPrefix(p, "/")))
		}
		return out
	}
	return []string{s.fill(t)}
}

func or(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}
