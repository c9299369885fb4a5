package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SSMState is Systems Manager state. Everything but the AWS-owned public
// parameters is per account and region, so it lives in scopes keyed
// "account/region".
type SSMState struct {
	Scopes map[string]*SSMScope `json:"scopes"`
	// Public holds the AWS-owned parameters under /aws/service/ per region,
	// readable from every account.
	Public map[string]map[string]*Parameter `json:"public"`
	// Active lists the commands that have not reached a terminal state, so
	// the ticker never scans finished history.
	Active []CommandRef `json:"active,omitempty"`
	// RequireInstanceProfile makes an instance managed only when it was
	// launched with an IAM instance profile, as on real AWS without Default
	// Host Management. Off by default.
	RequireInstanceProfile bool `json:"require_instance_profile,omitempty"`
	// Contended makes the next N PutParameter calls on a name fail with
	// TooManyUpdates (admin API), keyed "account/region/name".
	Contended map[string]int `json:"contended,omitempty"`
}

// CommandRef locates a command.
type CommandRef struct {
	Scope string `json:"scope"`
	ID    string `json:"id"`
}

// SSMScope is one account's Systems Manager state in one region.
type SSMScope struct {
	Account string `json:"account"`
	Region  string `json:"region"`

	Parameters map[string]*Parameter `json:"parameters"`

	Commands     map[string]*Command `json:"commands"`
	CommandOrder []string            `json:"command_order"` // send order

	Baselines        map[string]*PatchBaseline       `json:"baselines"`
	BaselineTokens   map[string]string               `json:"baseline_tokens,omitempty"` // ClientToken → id
	PatchGroups      map[string]string               `json:"patch_groups"`              // group → baseline id
	DefaultBaselines map[string]string               `json:"default_baselines"`         // OS → baseline id
	PatchStates      map[string]*InstancePatchState  `json:"patch_states"`              // instance id → last operation
	Windows          map[string]*MaintenanceWindow   `json:"windows"`
	WindowExecutions map[string]*WindowExecution     `json:"window_executions"`
	Automations      map[string]*AutomationExecution `json:"automations"`
	AutomationOrder  []string                        `json:"automation_order"`
	Documents        map[string]*Document            `json:"documents,omitempty"` // the account's own SSM documents
}

func newSSMState() *SSMState {
	return &SSMState{Scopes: map[string]*SSMScope{}, Public: map[string]map[string]*Parameter{}}
}

// scope returns (creating on first use) an account's state in a region.
func (w *World) ssmScope(account, region string) *SSMScope {
	key := account + "/" + region
	sc := w.SSM.Scopes[key]
	if sc == nil {
		sc = &SSMScope{Account: account, Region: region}
		w.SSM.Scopes[key] = sc
	}
	sc.init()
	return sc
}

func (sc *SSMScope) init() {
	if sc.Parameters == nil {
		sc.Parameters = map[string]*Parameter{}
	}
	if sc.Commands == nil {
		sc.Commands = map[string]*Command{}
	}
	if sc.Baselines == nil {
		sc.Baselines = map[string]*PatchBaseline{}
	}
	if sc.BaselineTokens == nil {
		sc.BaselineTokens = map[string]string{}
	}
	if sc.PatchGroups == nil {
		sc.PatchGroups = map[string]string{}
	}
	if sc.DefaultBaselines == nil {
		sc.DefaultBaselines = map[string]string{}
	}
	if sc.PatchStates == nil {
		sc.PatchStates = map[string]*InstancePatchState{}
	}
	if sc.Windows == nil {
		sc.Windows = map[string]*MaintenanceWindow{}
	}
	if sc.WindowExecutions == nil {
		sc.WindowExecutions = map[string]*WindowExecution{}
	}
	if sc.Automations == nil {
		sc.Automations = map[string]*AutomationExecution{}
	}
	if sc.Documents == nil {
		sc.Documents = map[string]*Document{}
	}
}

func (c *Call) ssm() *SSMScope { return c.World.ssmScope(c.Account, c.Region) }

// registerSSM wires the SSM JSON 1.1 actions (X-Amz-Target: AmazonSSM.*).
func (s *Server) registerSSM() {
	s.registerSSMAssociations() // first: due associations send commands the SSM ticker then advances
	s.addTicker(func(w *World, now time.Time) { w.tickSSM(now) })
	s.registerSSMParameters()
	s.registerSSMCommands()
	s.registerSSMPatch()
	s.registerSSMWindows()
	s.registerSSMAutomation()
	s.registerSSMAdmin()
}

// tickSSM advances every SSM state machine: maintenance windows first (they
// send commands at their scheduled times), then automations (which run
// commands), then commands.
func (w *World) tickSSM(now time.Time) {
	w.tickWindows(now)
	w.tickAutomations(now)
	w.tickCommands(now)
	w.tickWindowExecutions(now)
}

// seedSSM creates the public parameters under /aws/service/ that point at
// the newest Amazon Linux images.
func (w *World) seedSSM(start time.Time) {
	w.syncPublicParameters(start)
}

// ---- JSON helpers -----------------------------------------------------

// awsTime marshals as awsJson1_1 timestamps do: epoch seconds (fractional).
// Use with `json:",omitzero"` so unset times are left out.
type awsTime struct{ time.Time }

func (t awsTime) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)), nil
}

func (t *awsTime) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		t.Time = time.UnixMilli(int64(f * 1000)).UTC()
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

func epochAt(t time.Time) awsTime { return awsTime{t} }

// isoTime is the string timestamp some SSM fields use
// (GetCommandInvocation's ExecutionStartDateTime): "2024-01-02T03:04:05.678Z".
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

type ssmTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func tagList(t Tags) []ssmTag {
	out := []ssmTag{}
	for _, k := range sortedKeys(t) {
		out = append(out, ssmTag{k, t[k]})
	}
	return out
}

func validateTags(in []ssmTag) (Tags, error) {
	if len(in) > 50 {
		return nil, Errorf("TooManyTagsError", "The Tags parameter can contain at most 50 tags")
	}
	out := Tags{}
	for _, t := range in {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return nil, errValidationException("Tag keys must be 1-128 characters and values at most 256 characters")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return nil, Errorf("InvalidParameters", "Tag keys cannot start with aws:")
		}
		out[t.Key] = t.Value
	}
	return out, nil
}

// ssmTarget is the SSM Target shape (Key, Values).
type ssmTarget struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// ---- pagination -------------------------------------------------------

// page slices items [start, start+max) from a NextToken and returns the
// next token ("" when done). Tokens are opaque to clients: base64 of the
// offset and a tag that binds them to the listing.
func ssmPage[T any](items []T, token string, max, def, limit int, tag string) ([]T, string, error) {
	if max == 0 {
		max = def
	}
	if max < 0 || (limit > 0 && max > limit) {
		return nil, "", errValidationException("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to %d", max, limit)
	}
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", Errorf("InvalidNextToken", "The specified token is not valid.")
		}
		parts := strings.SplitN(string(raw), ":", 2)
		n, err := strconv.Atoi(parts[0])
		if err != nil || len(parts) != 2 || parts[1] != tag || n < 0 || n > len(items) {
			return nil, "", Errorf("InvalidNextToken", "The specified token is not valid.")
		}
		start = n
	}
	end := start + max
	if end >= len(items) {
		return items[start:], "", nil
	}
	next := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d:%s", end, tag)))
	return items[start:end], next, nil
}

// ssmFilter is the Key/Values filter most SSM Describe and List actions take.
type ssmFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// ssmListInput is the input of the Describe and List actions that take
// nothing but Key/Values filters and a page.
type ssmListInput struct {
	Filters    []ssmFilter `json:"Filters"`
	MaxResults int         `json:"MaxResults"`
	NextToken  string      `json:"NextToken"`
}

// ssmKeep returns the items that every filter matches, in order. match
// judges one filter on one item and fails on a key the action does not
// support. Every filter is judged even after one has rejected the item, so
// an unsupported key fails the call whatever the order of the filters.
func ssmKeep[T, F any](items []T, filters []F, match func(T, F) (bool, error)) ([]T, error) {
	var kept []T
	for _, it := range items {
		ok := true
		for _, f := range filters {
			m, err := match(it, f)
			if err != nil {
				return nil, err
			}
			ok = ok && m
		}
		if ok {
			kept = append(kept, it)
		}
	}
	return kept, nil
}

// sortedValues is a map's values in the order of their keys.
func sortedValues[M ~map[string]V, V any](m M) []V {
	out := make([]V, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

// ssmList is the response of a paged list: the page rendered item by item
// under key, and NextToken when more remain.
func ssmList[T, R any](key string, page []T, next string, render func(T) R) map[string]any {
	out := make([]R, 0, len(page))
	for _, it := range page {
		out = append(out, render(it))
	}
	return ssmListOf(key, out, next)
}

// ssmListOf is ssmList for a page that needs no rendering. An empty page is
// [] rather than null, as AWS sends it.
func ssmListOf[T any](key string, page []T, next string) map[string]any {
	if page == nil {
		page = []T{}
	}
	res := map[string]any{key: page}
	if next != "" {
		res["NextToken"] = next
	}
	return res
}

// ---- targets ----------------------------------------------------------

// managedInstance reports whether an instance is registered with Systems
// Manager: it has run (so its agent registered), is not terminated, and
// carries the agent. Images with no recorded package set (hand-made in
// tests) are assumed to carry the agent.
func (w *World) managedInstance(inst *Instance) bool {
	if inst == nil {
		return false
	}
	switch inst.State {
	case StateTerminated:
		return false
	case StatePending:
		// A first boot has not registered yet; a restart had registered.
		if !inst.StateSince.After(inst.LaunchTime) {
			return false
		}
	}
	if w.SSM.RequireInstanceProfile && inst.IAMInstanceProfile == "" {
		return false
	}
	if len(inst.Content.Packages) > 0 {
		if _, ok := inst.Content.Packages["amazon-ssm-agent"]; !ok {
			return false
		}
	}
	return true
}

// pingStatus is the agent's status as DescribeInstanceInformation reports it.
func pingStatus(inst *Instance) string {
	if inst.State == StateRunning {
		return "Online"
	}
	return "ConnectionLost"
}

// resolveTargets expands SSM Targets (InstanceIds, tag:K, tag-key,
// resource-groups:Name is not modelled) into the managed instances of the
// scope, sorted by id.
func (w *World) resolveTargets(account, region string, targets []ssmTarget, now time.Time) ([]*Instance, error) {
	var out []*Instance
	seen := map[string]bool{}
	for _, t := range targets {
		if len(t.Values) == 0 {
			return nil, Errorf("InvalidTarget", "Target %s has no values", t.Key)
		}
		var match func(*Instance) bool
		switch {
		case t.Key == "InstanceIds":
			ids := map[string]bool{}
			for _, v := range t.Values {
				ids[v] = true
			}
			match = func(i *Instance) bool { return ids[i.ID] }
		case t.Key == "tag-key":
			match = func(i *Instance) bool {
				for _, v := range t.Values {
					if _, ok := i.Tags[v]; ok {
						return true
					}
				}
				return false
			}
		case strings.HasPrefix(t.Key, "tag:"):
			k := strings.TrimPrefix(t.Key, "tag:")
			match = func(i *Instance) bool {
				val, ok := i.Tags[k]
				if !ok {
					return false
				}
				for _, v := range t.Values {
					if matchWildcard(v, val) {
						return true
					}
				}
				return false
			}
		case t.Key == "resource-groups:Name" || t.Key == "resource-groups:ResourceTypeFilters":
			return nil, Errorf("InvalidTarget", "resource group targets are not modelled by the sandbox")
		default:
			return nil, Errorf("InvalidTarget", "Target key %s is not valid", t.Key)
		}
		for _, inst := range w.EC2.Instances {
			if inst.Account != account || inst.Region != region || seen[inst.ID] || inst.VisibleAt.After(now) {
				continue
			}
			if !w.managedInstance(inst) || !match(inst) {
				continue
			}
			seen[inst.ID] = true
			out = append(out, inst)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// computerName is the hostname an instance reports to SSM.
func computerName(inst *Instance) string {
	ip := strings.ReplaceAll(inst.PrivateIP, ".", "-")
	if inst.Region == "us-east-1" {
		return "ip-" + ip + ".ec2.internal"
	}
	return "ip-" + ip + "." + inst.Region + ".compute.internal"
}

// ssmARN builds an SSM resource ARN.
func ssmARN(region, account, resource string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:%s", region, account, resource)
}
