package examples_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amibake/amibake/internal/config"
)

// These tests go through config.Load: the example must not only be
// well-formed (examples_test.go) but mean what docs/examples.md says.

var decodeNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func loadExample(t *testing.T, opts config.LoadOptions) *config.Config {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = decodeNow
	}
	cfg, diags := config.Load(repoRoot(t), opts)
	for _, d := range diags {
		t.Logf("%s", d)
	}
	if diags.HasErrors() {
		t.Fatal("the example project does not load")
	}
	if len(diags) > 0 {
		t.Errorf("the example project loads with %d warnings; it should load clean", len(diags))
	}
	return cfg
}

// resolvedEnv returns the env and sensitive-env set of every step of a
// recipe as one layer runs it.
func resolvedEnv(t *testing.T, cfg *config.Config, layer, recipe string) (map[string]string, map[string]bool) {
	t.Helper()
	l := cfg.Layers[layer]
	if l == nil {
		t.Fatalf("no layer %q", layer)
	}
	for _, ref := range l.Recipes {
		if ref.Name != recipe {
			continue
		}
		r := cfg.Recipes[recipe]
		inputs, diags := r.ResolveInputs(ref)
		if diags.HasErrors() {
			t.Fatalf("%s/%s inputs: %s", layer, recipe, diags.Error())
		}
		steps, diags := r.ResolveSteps(inputs, cfg.EvalContext())
		if diags.HasErrors() {
			t.Fatalf("%s/%s steps: %s", layer, recipe, diags.Error())
		}
		env, sensitive := map[string]string{}, map[string]bool{}
		for _, s := range steps {
			maps.Copy(env, s.Env)
			maps.Copy(sensitive, s.SensitiveEnv)
		}
		return env, sensitive
	}
	t.Fatalf("layer %q does not run recipe %q", layer, recipe)
	return nil, nil
}

func TestDecodedExample(t *testing.T) {
	cfg := loadExample(t, config.LoadOptions{})

	p := cfg.Project
	if p.Name != "acme-golden" || !slices.Equal(p.Regions, []string{"us-east-1", "eu-west-1"}) {
		t.Errorf("project = %q %v", p.Name, p.Regions)
	}
	if p.Provisioner != "ssm" || p.ParamPrefix != "/amibake" || p.IAMInstanceProfile != "amibake-build" {
		t.Errorf("project provisioner/prefix/profile = %q %q %q", p.Provisioner, p.ParamPrefix, p.IAMInstanceProfile)
	}
	if !slices.Equal(p.ShareWith.Accounts, []string{"111122223333"}) {
		t.Errorf("share_with.accounts = %v, want the prod_account_id default", p.ShareWith.Accounts)
	}
	wantTags := map[string]string{"team": "platform", "managed-by": "amibake", "cost-center": "cc-1042"}
	if !maps.Equal(p.DefaultTags, wantTags) {
		t.Errorf("default_tags = %v, want %v", p.DefaultTags, wantTags)
	}

	// The tree in docs/examples.md.
	wantParents := map[string]string{"linux": "", "foundation": "linux", "base": "foundation", "app-web": "base", "app-worker": "base"}
	if len(cfg.Layers) != len(wantParents) {
		t.Errorf("%d layers, want %d", len(cfg.Layers), len(wantParents))
	}
	for name, parent := range wantParents {
		if l := cfg.Layers[name]; l == nil || l.Parent != parent {
			t.Errorf("layer %q: want parent %q", name, parent)
		}
	}
	linux := cfg.Layers["linux"]
	if linux.Source == nil || !strings.HasPrefix(linux.Source.SSMParameter, "/aws/service/ami-amazon-linux-latest/al2023-") {
		t.Errorf("linux source = %+v", linux.Source)
	}
	if linux.Patch == nil || linux.Patch.Baseline != "al2023_security" || linux.Patch.PatchGroup != "golden-linux" {
		t.Errorf("linux patch = %+v", linux.Patch)
	}
	f := cfg.Layers["foundation"]
	if f.Volume.SizeGiB != 10 || f.Volume.Type != "gp3" || !f.Volume.Encrypted || !f.IMDSv2Required {
		t.Errorf("foundation volume/imds = %+v %v", f.Volume, f.IMDSv2Required)
	}
	if got := cfg.Layers["app-web"].InstanceType; got != "t3.medium" {
		t.Errorf("app-web instance_type = %q", got)
	}
	if got := cfg.Layers["app-worker"].InstanceType; got != "c6i.large" {
		t.Errorf("app-worker instance_type = %q", got)
	}
	if got := cfg.Layers["app-web"].Tags["owner"]; got != "platform@acme.example" {
		t.Errorf("app-web owner tag = %q, want local.owner", got)
	}

	// Inputs reach the scripts as the scripts expect them.
	for _, c := range []struct{ layer, recipe, key, want string }{
		{"foundation", "cis_hardening", "CIS_LEVEL", "1"},
		{"foundation", "imds_hardening", "BLOCK_NON_ROOT", "false"},
		{"foundation", "time_sync", "TIMEZONE", "UTC"},
		{"base", "log_shipping", "LOG_ENDPOINT", "logs.acme.internal:24224"},
		{"base", "node_monitoring", "LISTEN_ADDRESS", ":9100"},
		{"app-web", "nginx_runtime", "WORKER_CONNECTIONS", "4096"},
		{"app-web", "nginx_runtime", "HEALTH_PATH", "/healthz"},
		{"app-web", "nginx_runtime", "UPSTREAM_PORT", "8080"},
		{"app-worker", "worker_runtime", "WORKER_CONCURRENCY", "8"},
		{"app-worker", "worker_runtime", "WORKER_MODULE", "acme_worker"},
	} {
		env, sensitive := resolvedEnv(t, cfg, c.layer, c.recipe)
		if env[c.key] != c.want || sensitive[c.key] {
			t.Errorf("%s/%s: %s = %q (sensitive %v), want %q", c.layer, c.recipe, c.key, env[c.key], sensitive[c.key], c.want)
		}
	}

	// The only sensitive value in the project is the EDR token.
	for name, l := range cfg.Layers {
		for _, ref := range l.Recipes {
			_, sensitive := resolvedEnv(t, cfg, name, ref.Name)
			for k := range sensitive {
				if ref.Name != "security_agent" || k != "SECURITY_AGENT_TOKEN" {
					t.Errorf("%s/%s: %s is sensitive", name, ref.Name, k)
				}
			}
		}
	}
	if _, sensitive := resolvedEnv(t, cfg, "base", "security_agent"); !sensitive["SECURITY_AGENT_TOKEN"] {
		t.Error("base/security_agent: SECURITY_AGENT_TOKEN is not marked sensitive")
	}

	pb := cfg.PatchBaselines["al2023_security"]
	if pb == nil || pb.OperatingSystem != "AMAZON_LINUX_2023" || len(pb.ApprovalRules) != 2 ||
		pb.RebakeWhen == nil || pb.RebakeWhen.MaxAge != 720*time.Hour {
		t.Errorf("patch baseline = %+v", pb)
	}

	web, worker := cfg.Fleets["web"], cfg.Fleets["worker"]
	if web == nil || web.Layer != "app-web" || web.Strategy != "replace" || !slices.Equal(web.ASGs, []string{"web-prod-a", "web-prod-b"}) ||
		web.Canary == nil || len(web.Canary.Metrics) == 0 || !slices.Equal(web.Rollout.Checkpoints, []int{10, 50, 100}) {
		t.Errorf("fleet web = %+v", web)
	}
	if worker == nil || worker.Layer != "app-worker" || worker.Strategy != "in-place" || worker.TargetTags["role"] != "worker" ||
		worker.Rollout.MaxConcurrency != "10%" || worker.Rollout.Reboot != "if-needed" || worker.Retire.Keep != 3 {
		t.Errorf("fleet worker = %+v", worker)
	}
}

// The token comes from the environment in CI; it must stay sensitive and
// reach the step's env unchanged.
func TestDecodedExample_tokenFromEnvironment(t *testing.T) {
	cfg := loadExample(t, config.LoadOptions{Env: []string{"AMIBAKE_VAR_security_agent_token=tok-123"}})
	env, sensitive := resolvedEnv(t, cfg, "base", "security_agent")
	if env["SECURITY_AGENT_TOKEN"] != "tok-123" || !sensitive["SECURITY_AGENT_TOKEN"] {
		t.Errorf("SECURITY_AGENT_TOKEN = %q (sensitive %v)", env["SECURITY_AGENT_TOKEN"], sensitive["SECURITY_AGENT_TOKEN"])
	}
}

// The variable validations in amibake.hcl reject bad values.
func TestDecodedExample_validations(t *testing.T) {
	for name, value := range map[string]string{
		"prod_account_id": "12345",
		"log_endpoint":    "https://logs.acme.internal",
	} {
		_, diags := config.Load(repoRoot(t), config.LoadOptions{Now: decodeNow, Vars: map[string]string{name: value}})
		if !diags.HasErrors() {
			t.Errorf("-var %s=%s: no error", name, value)
		}
	}
}
