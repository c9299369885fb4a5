package deploy

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/iam"
)

var update = flag.Bool("update", false, "rewrite amibake.cfn.yaml from the example project")

// pseudoParameters are CloudFormation's.
var pseudoParameters = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

func exampleConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, diags := config.Load("..", config.LoadOptions{Now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
	require.False(t, diags.HasErrors(), diags.Error())
	return cfg
}

// TestExampleRenderingIsCurrent: amibake.cfn.yaml is the rendering of the
// example project with the default options.
func TestExampleRenderingIsCurrent(t *testing.T) {
	got, err := Render(exampleConfig(t), Options{})
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile("amibake.cfn.yaml", got, 0o644))
	}
	want, err := os.ReadFile("amibake.cfn.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "run go test ./deploy -update")
}

// renderings are the checked-in template and renderings that switch on
// every optional rule (bucket, SSH, source parameters, a dotted name).
func renderings(t *testing.T) map[string][]byte {
	t.Helper()
	checkedIn, err := os.ReadFile("amibake.cfn.yaml")
	require.NoError(t, err)
	out := map[string][]byte{"amibake.cfn.yaml": checkedIn}
	cfg := exampleConfig(t)
	p := *cfg.Project
	p.Name, p.InventoryBucket, p.Provisioner, p.ParamPrefix = "acme.golden", "acme-inv", "ssh", "/images/prod"
	p.Regions = []string{"eu-central-1", "us-west-2", "ap-southeast-2"}
	cfg.Project = &p
	for _, l := range cfg.Layers {
		if l.Source != nil {
			s := *l.Source
			s.SSMParameter = "/acme/base-ami"
			l.Source = &s
		}
	}
	variant, err := Render(cfg, Options{PatchSchedule: "rate(7 days)", ScanCommand: "patch scan --fleets", Timezone: "Europe/Berlin"})
	require.NoError(t, err)
	out["variant"] = variant
	return out
}

type cfnTemplate struct {
	AWSTemplateFormatVersion string                    `yaml:"AWSTemplateFormatVersion"`
	Description              string                    `yaml:"Description"`
	Parameters               map[string]map[string]any `yaml:"Parameters"`
	Conditions               map[string]any            `yaml:"Conditions"`
	Rules                    map[string]any            `yaml:"Rules"`
	Resources                map[string]struct {
		Type       string         `yaml:"Type"`
		Condition  string         `yaml:"Condition"`
		DependsOn  any            `yaml:"DependsOn"`
		Properties map[string]any `yaml:"Properties"`
	} `yaml:"Resources"`
	Outputs map[string]any `yaml:"Outputs"`
}

func parse(t *testing.T, data []byte) cfnTemplate {
	t.Helper()
	var tmpl cfnTemplate
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true) // only the top-level sections CloudFormation knows
	require.NoError(t, dec.Decode(&tmpl))
	require.Equal(t, "2010-09-09", tmpl.AWSTemplateFormatVersion)
	require.NotEmpty(t, tmpl.Resources)
	return tmpl
}

// validTypes reads the vendored list: type → GetAtt attributes.
func validTypes(t *testing.T) map[string]map[string]bool {
	t.Helper()
	f, err := os.Open("testdata/cfn-resource-types.txt")
	require.NoError(t, err)
	defer f.Close()
	out := map[string]map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		require.Len(t, fields, 2, line)
		require.Regexp(t, `^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$`, fields[0])
		attrs := map[string]bool{}
		if fields[1] != "-" {
			for _, a := range strings.Split(fields[1], ",") {
				attrs[a] = true
			}
		}
		out[fields[0]] = attrs
	}
	require.NoError(t, sc.Err())
	return out
}

func readList(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

var subRef = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// refs walks v and reports every Ref, Fn::GetAtt, Fn::Sub reference and
// condition name (Fn::If, Condition) it uses.
type refs struct {
	names      []string    // Ref targets and Fn::Sub ${Name}
	getAtts    [][2]string // resource, attribute
	conditions []string
}

func (r *refs) walk(t *testing.T, v any, where string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			at := where + "." + k
			switch k {
			case "Ref":
				s, ok := val.(string)
				require.True(t, ok, "%s: Ref takes a name", at)
				r.names = append(r.names, s)
			case "Fn::GetAtt":
				switch g := val.(type) {
				case []any:
					require.Len(t, g, 2, at)
					r.getAtts = append(r.getAtts, [2]string{fmt.Sprint(g[0]), fmt.Sprint(g[1])})
				case string:
					res, attr, ok := strings.Cut(g, ".")
					require.True(t, ok, "%s: Fn::GetAtt %q", at, g)
					r.getAtts = append(r.getAtts, [2]string{res, attr})
				default:
					t.Fatalf("%s: Fn::GetAtt takes [Resource, Attribute]", at)
				}
			case "Fn::Sub":
				str, vars := "", map[string]any{}
				switch s := val.(type) {
				case string:
					str = s
				case []any:
					require.Len(t, s, 2, at)
					str = fmt.Sprint(s[0])
					vars, _ = s[1].(map[string]any)
					r.walk(t, s[1], at)
				}
				for _, m := range subRef.FindAllStringSubmatch(str, -1) {
					name := m[1]
					if _, local := vars[name]; local {
						continue
					}
					if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
						r.getAtts = append(r.getAtts, [2]string{res, attr})
						continue
					}
					r.names = append(r.names, name)
				}
			case "Fn::If":
				list, ok := val.([]any)
				require.True(t, ok && len(list) == 3, "%s: Fn::If takes [Condition, then, else]", at)
				r.conditions = append(r.conditions, fmt.Sprint(list[0]))
				r.walk(t, list[1:], at)
			case "Condition":
				if s, ok := val.(string); ok && where != "" {
					r.conditions = append(r.conditions, s)
				} else {
					r.walk(t, val, at)
				}
			default:
				if strings.HasPrefix(k, "Fn::") {
					switch k {
					case "Fn::Join", "Fn::Select", "Fn::Split", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or",
						"Fn::Base64", "Fn::GetAZs", "Fn::ImportValue", "Fn::FindInMap", "Fn::Cidr", "Fn::ToJsonString", "Fn::Length":
					default:
						t.Errorf("%s: unknown intrinsic function %s", at, k)
					}
				}
				r.walk(t, val, at)
			}
		}
	case []any:
		for i, e := range x {
			r.walk(t, e, fmt.Sprintf("%s[%d]", where, i))
		}
	}
}

func TestTemplateReferences(t *testing.T) {
	types := validTypes(t)
	for name, data := range renderings(t) {
		t.Run(name, func(t *testing.T) {
			tmpl := parse(t, data)
			var generic map[string]any
			require.NoError(t, yaml.Unmarshal(data, &generic))

			r := &refs{}
			for _, section := range []string{"Conditions", "Rules", "Resources", "Outputs"} {
				r.walk(t, generic[section], section)
			}
			for _, name := range r.names {
				_, isParam := tmpl.Parameters[name]
				_, isRes := tmpl.Resources[name]
				assert.True(t, isParam || isRes || pseudoParameters[name], "reference to %q: no such parameter, resource or pseudo parameter", name)
			}
			for _, ga := range r.getAtts {
				res, ok := tmpl.Resources[ga[0]]
				if !assert.True(t, ok, "Fn::GetAtt of %q: no such resource", ga[0]) {
					continue
				}
				attrs, known := types[res.Type]
				if assert.True(t, known, res.Type) {
					assert.True(t, attrs[ga[1]], "Fn::GetAtt %s.%s: %s has no attribute %s", ga[0], ga[1], res.Type, ga[1])
				}
			}
			for _, c := range r.conditions {
				_, ok := tmpl.Conditions[c]
				assert.True(t, ok, "condition %q is not defined", c)
			}
			for logical, res := range tmpl.Resources {
				assert.Regexp(t, `^[A-Za-z0-9]+$`, logical, "logical IDs are alphanumeric")
				_, known := types[res.Type]
				assert.True(t, known, "%s: %s is not a CloudFormation resource type (testdata/cfn-resource-types.txt)", logical, res.Type)
				if res.Condition != "" {
					_, ok := tmpl.Conditions[res.Condition]
					assert.True(t, ok, "%s: condition %q is not defined", logical, res.Condition)
				}
			}
			for pname, p := range tmpl.Parameters {
				assert.Contains(t, []string{"String", "Number", "CommaDelimitedList"}, p["Type"], pname)
			}
			assert.Less(t, len(data), 51200, "a template passed inline is at most 51,200 bytes")
		})
	}
}

func TestResourceTypesUsed(t *testing.T) {
	types := validTypes(t)
	listed := readList(t, "testdata/resource-types-used.txt")
	for _, typ := range listed {
		_, ok := types[typ]
		assert.True(t, ok, "%s is not in testdata/cfn-resource-types.txt", typ)
	}
	used := map[string]bool{}
	for _, data := range renderings(t) {
		for _, res := range parse(t, data).Resources {
			used[res.Type] = true
		}
	}
	var got []string
	for typ := range used {
		got = append(got, typ)
	}
	sort.Strings(got)
	assert.Equal(t, listed, got, "testdata/resource-types-used.txt lists the types the template uses")
}

// TestRolePolicyIsIAMPolicy: the build role's amibake policy is
// internal/iam's `all` policy for the project, and fits an inline policy.
func TestRolePolicyIsIAMPolicy(t *testing.T) {
	var generic struct {
		Resources map[string]struct {
			Properties struct {
				Policies []struct {
					PolicyName     string `yaml:"PolicyName"`
					PolicyDocument any    `yaml:"PolicyDocument"`
				} `yaml:"Policies"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	data, err := os.ReadFile("amibake.cfn.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &generic))
	var doc any
	total := 0
	for _, p := range generic.Resources["BuildRole"].Properties.Policies {
		b, err := yaml.Marshal(p.PolicyDocument)
		require.NoError(t, err)
		total += len(strings.Join(strings.Fields(string(b)), ""))
		if p.PolicyName == "amibake" {
			doc = p.PolicyDocument
		}
	}
	require.NotNil(t, doc)
	want := PolicyForCloudFormation(iam.ScopeFor(exampleConfig(t), "${AWS::Partition}", "${AWS::AccountId}"))
	wantYAML, err := yaml.Marshal(want)
	require.NoError(t, err)
	var wantGeneric any
	require.NoError(t, yaml.Unmarshal(wantYAML, &wantGeneric))
	assert.Equal(t, wantGeneric, doc)
	assert.Less(t, total, 10240, "a role's inline policies total at most 10,240 characters")
}

func TestRenderErrors(t *testing.T) {
	cfg := exampleConfig(t)
	_, err := Render(cfg, Options{PatchSchedule: "every sunday"})
	assert.EqualError(t, err, `render template: invalid patch schedule "every sunday": want cron(...), rate(N unit) or at(...)`)
	_, err = Render(cfg, Options{ScanCommand: `patch "scan"`})
	assert.ErrorContains(t, err, "invalid scan command")
	_, err = Render(&config.Config{}, Options{})
	assert.EqualError(t, err, "render template: no project")
	assert.Equal(t, "acme-golden-amibake", ResourceName("acme-golden"))
	assert.Equal(t, "acme-golden-amibake", ResourceName("acme.golden"))
}
