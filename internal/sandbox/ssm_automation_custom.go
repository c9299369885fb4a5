package sandbox

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Custom Automation runbooks: an execution of an account's own Automation
// document runs its mainSteps in order, each step's inputs resolved when it
// starts ({{ Param }}, {{ step.Output }}, {{ global:DATE_TIME }} …), on
// the same instance, command and image state machines as everything else.

// listOutputs are step outputs of type StringList; the others are String.
var listOutputs = map[string]bool{"InstanceIds": true, "InstanceStates": true}

var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.:\-]+)\s*\}\}`)

func startCustomAutomation(c *Call, name, version string, in map[string][]string, token string, tagList []ssmTag) (any, error) {
	sc := c.ssm()
	d := sc.Documents[name]
	if d == nil || d.DocumentType != "Automation" {
		return nil, Errorf("AutomationDefinitionNotFoundException", "Automation definition %s not found.", name)
	}
	v, err := d.version(version)
	if err != nil {
		return nil, Errorf("AutomationDefinitionVersionNotFoundException", "Version %s of automation definition %s not found.", version, name)
	}
	var doc automationDoc
	if err := parseDocContent(v.Content, v.Format, &doc); err != nil {
		return nil, Errorf("InvalidAutomationExecutionParametersException", "Automation definition %s:%d cannot be read: %v", name, v.Version, err)
	}
	params := map[string][]string{}
	for k, vals := range in {
		if doc.Parameters[k] == nil {
			return nil, Errorf("InvalidAutomationExecutionParametersException", "Parameter %q is not defined in %s.", k, name)
		}
		params[k] = vals
	}
	var missing []string
	for _, k := range sortedKeys(doc.Parameters) {
		p := doc.Parameters[k]
		if _, ok := params[k]; ok {
			if p.Type != "StringList" && len(params[k]) > 1 {
				return nil, Errorf("InvalidAutomationExecutionParametersException", "Parameter %q of type %s takes one value.", k, p.Type)
			}
			continue
		}
		switch def := p.Default.(type) {
		case nil:
			missing = append(missing, k)
		case []any:
			vals := []string{}
			for _, x := range def {
				vals = append(vals, fmt.Sprint(x))
			}
			params[k] = vals
		default:
			params[k] = []string{fmt.Sprint(def)}
		}
	}
	if len(missing) > 0 {
		return nil, Errorf("InvalidAutomationExecutionParametersException", "The following parameters were missing: %v", missing)
	}
	tags, err := validateTags(tagList)
	if err != nil {
		return nil, err
	}
	a := &AutomationExecution{ID: c.World.NewUUID(), Account: c.Account, Region: c.Region, DocumentName: name,
		DocumentVersion: strconv.Itoa(v.Version), Parameters: params, Status: "InProgress", Start: c.Now,
		Outputs: map[string][]string{}, ClientToken: token, Tags: tags, Doc: &doc}
	for _, st := range doc.MainSteps {
		a.Steps = append(a.Steps, &AutomationStep{ID: c.World.NewUUID(), Name: st.Name, Action: st.Action, Status: "Pending"})
	}
	sc.Automations[a.ID] = a
	sc.AutomationOrder = append(sc.AutomationOrder, a.ID)
	c.World.advanceAutomation(sc, a, c.Now)
	return map[string]any{"AutomationExecutionId": a.ID}, nil
}

// customOutputs are the document's declared outputs, from its steps.
func customOutputs(a *AutomationExecution) map[string][]string {
	out := map[string][]string{}
	for _, o := range a.Doc.Outputs {
		name, key, _ := strings.Cut(o, ".")
		for _, s := range a.Steps {
			if s.Name == name && s.Outputs[key] != nil {
				out[o] = s.Outputs[key]
			}
		}
	}
	return out
}

// lookupVar resolves one {{ name }}: a value and whether it is a list.
func (a *AutomationExecution) lookupVar(name string, t time.Time) ([]string, bool, error) {
	switch name {
	case "global:DATE_TIME":
		return []string{t.UTC().Format("2006-01-02_15.04.05")}, false, nil
	case "global:DATE":
		return []string{t.UTC().Format("2006-01-02")}, false, nil
	case "global:REGION":
		return []string{a.Region}, false, nil
	case "global:ACCOUNT_ID":
		return []string{a.Account}, false, nil
	case "automation:EXECUTION_ID":
		return []string{a.ID}, false, nil
	}
	if p := a.Doc.Parameters[name]; p != nil {
		// Values may use the system variables (a default name with
		// {{ global:DATE_TIME }}), one level deep.
		vals := make([]string, len(a.Parameters[name]))
		for i, v := range a.Parameters[name] {
			vals[i] = placeholderRE.ReplaceAllStringFunc(v, func(ph string) string {
				sys := placeholderRE.FindStringSubmatch(ph)[1]
				if !strings.HasPrefix(sys, "global:") && !strings.HasPrefix(sys, "automation:") {
					return ph
				}
				r, _, err := a.lookupVar(sys, t)
				if err != nil {
					return ph
				}
				return firstValue(r)
			})
		}
		return vals, p.Type == "StringList", nil
	}
	if step, key, ok := strings.Cut(name, "."); ok {
		for _, s := range a.Steps {
			if s.Name == step && s.Status == "Success" {
				if v, ok := s.Outputs[key]; ok {
					return v, listOutputs[key], nil
				}
			}
		}
	}
	return nil, false, fmt.Errorf("variable {{ %s }} is not defined", name)
}

// resolve substitutes the placeholders of an input value. A string that is
// exactly one list-valued placeholder becomes the list.
func (a *AutomationExecution) resolve(v any, t time.Time) (any, error) {
	switch x := v.(type) {
	case string:
		if m := placeholderRE.FindStringSubmatch(x); m != nil && m[0] == strings.TrimSpace(x) {
			vals, list, err := a.lookupVar(m[1], t)
			if err != nil {
				return nil, err
			}
			if list {
				out := make([]any, len(vals))
				for i, s := range vals {
					out[i] = s
				}
				return out, nil
			}
		}
		var ferr error
		s := placeholderRE.ReplaceAllStringFunc(x, func(ph string) string {
			name := placeholderRE.FindStringSubmatch(ph)[1]
			vals, list, err := a.lookupVar(name, t)
			if err == nil && list {
				err = fmt.Errorf("list variable {{ %s }} used inside a string", name)
			}
			if err != nil {
				ferr = err
				return ""
			}
			return firstValue(vals)
		})
		return s, ferr
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := a.resolve(e, t)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			r, err := a.resolve(e, t)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func inStr(in map[string]any, key string) string {
	switch v := in[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		if len(v) == 1 {
			return fmt.Sprint(v[0])
		}
	}
	return fmt.Sprint(in[key])
}

func inList(in map[string]any, key string) []string {
	switch v := in[key].(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case []string:
		return v
	default:
		return []string{fmt.Sprint(v)}
	}
}

func inBool(in map[string]any, key string) bool {
	switch v := in[key].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// inTags reads a [{Key, Value}] list.
func inTags(v any) Tags {
	out := Tags{}
	list, _ := v.([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		if k, ok := m["Key"].(string); ok && k != "" {
			out[k] = ""
			if v := m["Value"]; v != nil {
				out[k] = fmt.Sprint(v)
			}
		}
	}
	return out
}

func (a *AutomationExecution) docStep(name string) *docStep {
	for _, s := range a.Doc.MainSteps {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// startCustomStep resolves a step's inputs and starts its action at t;
// false when it failed at once.
func (w *World) startCustomStep(a *AutomationExecution, step *AutomationStep, t time.Time) bool {
	ds := a.docStep(step.Name)
	raw := map[string]any{}
	if ds != nil && ds.Inputs != nil {
		raw = ds.Inputs
	}
	r, err := a.resolve(raw, t)
	if err != nil {
		a.fail(step, t, err.Error())
		return false
	}
	in := r.(map[string]any)
	step.Resolved = in
	step.Inputs = map[string]string{}
	for k, v := range in {
		if s, ok := v.(string); ok {
			step.Inputs[k] = s
		} else if b, err := json.Marshal(v); err == nil {
			step.Inputs[k] = string(b)
		}
	}
	step.Outputs = map[string][]string{}
	switch step.Action {
	case "aws:runInstances":
		if n := inStr(in, "MaxInstanceCount"); n != "" && n != "1" {
			a.fail(step, t, "The sandbox launches one instance per aws:runInstances step")
			return false
		}
		tags := Tags{}
		specs, _ := in["TagSpecifications"].([]any)
		for _, e := range specs {
			m, _ := e.(map[string]any)
			if rt, _ := m["ResourceType"].(string); rt == "instance" {
				for k, v := range inTags(m["Tags"]) {
					tags[k] = v
				}
			}
		}
		spec := LaunchSpec{Account: a.Account, Region: a.Region, ImageID: inStr(in, "ImageId"), InstanceType: inStr(in, "InstanceType"),
			SubnetID: inStr(in, "SubnetId"), IAMInstanceProfile: inStr(in, "IamInstanceProfileName"), Tags: tags}
		inst, aerr := w.RunInstance(spec, t)
		if aerr != nil {
			a.fail(step, t, aerr.Code+": "+aerr.Message)
			return false
		}
		a.InstanceID = inst.ID
		step.Outputs["InstanceIds"] = []string{inst.ID}
	case "aws:runCommand":
		params := map[string][]string{}
		if m, ok := in["Parameters"].(map[string]any); ok {
			for k := range m {
				params[k] = inList(m, k)
			}
		}
		cmd, err := w.SendCommand(a.Account, a.Region, CommandRequest{DocumentName: inStr(in, "DocumentName"),
			InstanceIDs: inList(in, "InstanceIds"), Parameters: params, Comment: inStr(in, "Comment")}, t)
		if err != nil {
			a.fail(step, t, err.Error())
			return false
		}
		cmd.Source = "automation:" + a.ID
		a.CommandID = cmd.ID
		step.Outputs["CommandId"] = []string{cmd.ID}
	case "aws:changeInstanceState":
		desired := inStr(in, "DesiredState")
		ids := inList(in, "InstanceIds")
		if len(ids) == 0 {
			a.fail(step, t, "InstanceIds is required")
			return false
		}
		if inBool(in, "CheckStateOnly") {
			break
		}
		for _, id := range ids {
			inst := w.EC2.Instances[id]
			if inst == nil || inst.Account != a.Account || inst.Region != a.Region {
				a.fail(step, t, "InvalidInstanceID.NotFound: The instance ID '"+id+"' does not exist")
				return false
			}
			switch desired {
			case "stopped":
				switch inst.State {
				case StateRunning:
					inst.State, inst.StateSince = StateStopping, t
				case StateStopping, StateStopped:
				default:
					a.fail(step, t, "IncorrectInstanceState: The instance '"+id+"' is not in a state from which it can be stopped")
					return false
				}
			case "terminated":
				w.TerminateInstance(inst, t)
			case "running":
				if inst.State != StateRunning && inst.State != StatePending {
					a.fail(step, t, "Starting a stopped instance is not modelled by the sandbox")
					return false
				}
			default:
				a.fail(step, t, fmt.Sprintf("DesiredState %q is not one of running, stopped, terminated", desired))
				return false
			}
		}
	case "aws:createImage":
		inst := w.EC2.Instances[inStr(in, "InstanceId")]
		if inst == nil || inst.Account != a.Account || inst.Region != a.Region || inst.State == StateTerminated {
			a.fail(step, t, "InvalidInstanceID.NotFound: The instance ID '"+inStr(in, "InstanceId")+"' does not exist")
			return false
		}
		name := inStr(in, "ImageName")
		if name == "" {
			a.fail(step, t, "ImageName is required")
			return false
		}
		for _, img := range w.EC2.Images {
			if img.Account == a.Account && img.Region == a.Region && img.Name == name && img.State != "deregistered" {
				a.fail(step, t, "InvalidAMIName.Duplicate: AMI name "+name+" is already in use by AMI "+img.ID)
				return false
			}
		}
		img := w.automationImage(inst, name, t)
		img.Description = inStr(in, "ImageDescription")
		a.ImageID = img.ID
		step.Outputs["ImageId"] = []string{img.ID}
		step.Outputs["ImageState"] = []string{"pending"}
	case "aws:createTags":
		if rt := inStr(in, "ResourceType"); rt != "" && rt != "EC2" {
			a.fail(step, t, "ResourceType "+rt+" is not modelled by the sandbox (EC2 only)")
			return false
		}
		tags := inTags(in["Tags"])
		ids := inList(in, "ResourceIds")
		if len(ids) == 0 || len(tags) == 0 {
			a.fail(step, t, "ResourceIds and Tags are required")
			return false
		}
		var targets []*Tags
		for _, id := range ids {
			var tp *Tags
			if img := w.EC2.Images[id]; img != nil && img.Account == a.Account && img.Region == a.Region {
				tp = &img.Tags
			} else if inst := w.EC2.Instances[id]; inst != nil && inst.Account == a.Account && inst.Region == a.Region {
				tp = &inst.Tags
			} else if snap := w.EC2.Snapshots[id]; snap != nil && snap.Account == a.Account && snap.Region == a.Region {
				tp = &snap.Tags
			}
			if tp == nil {
				a.fail(step, t, "InvalidID: The ID '"+id+"' is not valid")
				return false
			}
			targets = append(targets, tp)
		}
		for _, tp := range targets {
			if *tp == nil {
				*tp = Tags{}
			}
			for k, v := range tags {
				(*tp)[k] = v
			}
		}
	}
	return true
}

// customStepDone reports whether a running custom step has finished by
// now, and when.
func (w *World) customStepDone(sc *SSMScope, a *AutomationExecution, step *AutomationStep, now time.Time) (time.Time, bool) {
	in := step.Resolved
	switch step.Action {
	case "aws:runInstances":
		inst := w.EC2.Instances[firstValue(step.Outputs["InstanceIds"])]
		if inst == nil || inst.State == StateTerminated || inst.State == StateShuttingDown {
			a.fail(step, now, "The instance terminated while launching")
			return now, false
		}
		if inst.State == StateRunning {
			step.Outputs["InstanceStates"] = []string{"running"}
			return laterOf(inst.StateSince, step.Start), true
		}
	case "aws:runCommand":
		cmd := sc.Commands[firstValue(step.Outputs["CommandId"])]
		if cmd == nil {
			a.fail(step, now, "The command was lost")
			return now, false
		}
		w.advanceCommand(cmd, now)
		if !cmd.terminal() {
			return time.Time{}, false
		}
		step.Outputs["Status"] = []string{cmd.Status}
		if cmd.Status != invSuccess {
			a.fail(step, cmd.FinishedAt, "Command "+cmd.ID+" returns unexpected invocation result: "+cmd.StatusDetails)
			return cmd.FinishedAt, false
		}
		return laterOf(cmd.FinishedAt, step.Start), true
	case "aws:changeInstanceState":
		desired := inStr(in, "DesiredState")
		end := step.Start
		for _, id := range inList(in, "InstanceIds") {
			inst := w.EC2.Instances[id]
			switch {
			case inst == nil && desired == "terminated":
			case inst == nil:
				a.fail(step, now, "The instance "+id+" is gone")
				return now, false
			case inst.State == desired:
				end = laterOf(inst.StateSince, end)
			case desired == "stopped" && (inst.State == StateTerminated || inst.State == StateShuttingDown):
				a.fail(step, now, "The instance "+id+" terminated")
				return now, false
			default:
				return time.Time{}, false
			}
		}
		return end, true
	case "aws:createImage":
		return a.imageStepEnd(step, w.EC2.Images[firstValue(step.Outputs["ImageId"])], now)
	case "aws:createTags":
		return step.Start, true
	}
	return time.Time{}, false
}
