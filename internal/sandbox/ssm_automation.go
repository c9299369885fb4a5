package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// AutomationExecution is one run of an automation runbook. The sandbox
// models the AWS-UpdateLinuxAmi runbook (and its AWS-UpdateAmazonLinuxAmi
// alias): launch an instance from SourceAmiId, update its packages through
// Run Command, stop it, create an image, terminate it.
type AutomationExecution struct {
	ID              string              `json:"id"`
	Account         string              `json:"account"`
	Region          string              `json:"region"`
	DocumentName    string              `json:"document_name"`
	DocumentVersion string              `json:"document_version"`
	Parameters      map[string][]string `json:"parameters"`
	Status          string              `json:"status"` // Pending | InProgress | Success | Failed | Cancelled
	Start           time.Time           `json:"start"`
	End             time.Time           `json:"end,omitzero"`
	Steps           []*AutomationStep   `json:"steps"`
	Outputs         map[string][]string `json:"outputs"`
	FailureMessage  string              `json:"failure_message,omitempty"`
	ClientToken     string              `json:"client_token,omitempty"`
	InstanceID      string              `json:"instance_id,omitempty"`
	CommandID       string              `json:"command_id,omitempty"`
	ImageID         string              `json:"image_id,omitempty"`
	Tags            Tags                `json:"tags,omitempty"`
	// Doc is the account's own Automation document the execution runs
	// (nil for AWS-UpdateLinuxAmi); its steps are interpreted by action.
	Doc *automationDoc `json:"doc,omitempty"`
}

// AutomationStep is one step of an execution.
type AutomationStep struct {
	ID             string              `json:"id"`
	Name           string              `json:"name"`
	Action         string              `json:"action"`
	Status         string              `json:"status"`
	Start          time.Time           `json:"start,omitzero"`
	End            time.Time           `json:"end,omitzero"`
	Inputs         map[string]string   `json:"inputs,omitempty"`
	Outputs        map[string][]string `json:"outputs,omitempty"`
	FailureMessage string              `json:"failure_message,omitempty"`
	// Resolved are a custom runbook step's inputs with {{ }} substituted.
	Resolved map[string]any `json:"resolved,omitempty"`
}

// updateLinuxAmiSteps are the steps of AWS-UpdateLinuxAmi.
var updateLinuxAmiSteps = []struct{ name, action string }{
	{"launchInstance", "aws:runInstances"},
	{"updateOSSoftware", "aws:runCommand"},
	{"stopInstance", "aws:changeInstanceState"},
	{"createImage", "aws:createImage"},
	{"terminateInstance", "aws:changeInstanceState"},
}

var updateLinuxAmiParams = map[string]string{
	"SourceAmiId": "", "IamInstanceProfileName": "ManagedInstanceProfile", "AutomationAssumeRole": "",
	"TargetAmiName": "UpdateLinuxAmi_from_{{SourceAmiId}}_on_{{global:DATE_TIME}}", "InstanceType": "t2.micro",
	"SubnetId": "", "PreUpdateScript": "none", "PostUpdateScript": "none", "IncludePackages": "all",
	"ExcludePackages": "none", "MetadataOptions": "", "SecurityGroupIds": "",
}

func (s *Server) registerSSMAutomation() {
	s.handle(svcSSM, "StartAutomationExecution", ssmStartAutomationExecution)
	s.handle(svcSSM, "GetAutomationExecution", ssmGetAutomationExecution)
	s.handle(svcSSM, "DescribeAutomationExecutions", ssmDescribeAutomationExecutions)
	s.handle(svcSSM, "DescribeAutomationStepExecutions", ssmDescribeAutomationStepExecutions)
	s.handle(svcSSM, "StopAutomationExecution", ssmStopAutomationExecution)
	s.registerSSMDocuments()
}

func automationDocName(name string) string {
	if i := strings.LastIndex(name, ":document/"); i >= 0 {
		name = name[i+len(":document/"):]
	}
	return name
}

func ssmStartAutomationExecution(c *Call) (any, error) {
	var in struct {
		DocumentName    string              `json:"DocumentName"`
		DocumentVersion string              `json:"DocumentVersion"`
		Parameters      map[string][]string `json:"Parameters"`
		ClientToken     string              `json:"ClientToken"`
		Mode            string              `json:"Mode"`
		Targets         []ssmTarget         `json:"Targets"`
		Tags            []ssmTag            `json:"Tags"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	sc := c.ssm()
	if in.ClientToken != "" {
		for _, a := range sc.Automations {
			if a.ClientToken == in.ClientToken {
				return map[string]any{"AutomationExecutionId": a.ID}, nil
			}
		}
	}
	doc := automationDocName(in.DocumentName)
	if in.Mode != "" && in.Mode != "Auto" {
		return nil, Errorf("InvalidAutomationExecutionParametersException", "The sandbox runs automations in Auto mode only.")
	}
	if len(in.Targets) > 0 {
		return nil, Errorf("InvalidAutomationExecutionParametersException", "Rate-controlled automations (Targets) are not modelled by the sandbox.")
	}
	if doc != "AWS-UpdateLinuxAmi" && doc != "AWS-UpdateAmazonLinuxAmi" {
		return startCustomAutomation(c, doc, in.DocumentVersion, in.Parameters, in.ClientToken, in.Tags)
	}
	switch in.DocumentVersion {
	case "", "$DEFAULT", "$LATEST", "1":
	default:
		return nil, Errorf("AutomationDefinitionVersionNotFoundException", "Version %s of automation definition %s not found.", in.DocumentVersion, doc)
	}
	params := map[string][]string{}
	for k, v := range in.Parameters {
		if _, ok := updateLinuxAmiParams[k]; !ok {
			return nil, Errorf("InvalidAutomationExecutionParametersException", "Parameter %q is not defined in %s.", k, doc)
		}
		params[k] = v
	}
	for k, def := range updateLinuxAmiParams {
		if _, ok := params[k]; !ok && def != "" {
			params[k] = []string{def}
		}
	}
	src := firstValue(params["SourceAmiId"])
	if src == "" {
		return nil, Errorf("InvalidAutomationExecutionParametersException", "Parameter \"SourceAmiId\" is required.")
	}
	tags, err := validateTags(in.Tags)
	if err != nil {
		return nil, err
	}
	a := &AutomationExecution{ID: c.World.NewUUID(), Account: c.Account, Region: c.Region, DocumentName: doc,
		DocumentVersion: "1", Parameters: params, Status: "InProgress", Start: c.Now, Outputs: map[string][]string{},
		ClientToken: in.ClientToken, Tags: tags}
	for _, s := range updateLinuxAmiSteps {
		a.Steps = append(a.Steps, &AutomationStep{ID: c.World.NewUUID(), Name: s.name, Action: s.action, Status: "Pending"})
	}
	sc.Automations[a.ID] = a
	sc.AutomationOrder = append(sc.AutomationOrder, a.ID)
	c.World.advanceAutomation(sc, a, c.Now)
	return map[string]any{"AutomationExecutionId": a.ID}, nil
}

// tickAutomations advances every running automation.
func (w *World) tickAutomations(now time.Time) {
	for _, key := range sortedKeys(w.SSM.Scopes) {
		sc := w.SSM.Scopes[key]
		for _, id := range sc.AutomationOrder {
			if a := sc.Automations[id]; a != nil && a.Status == "InProgress" {
				w.advanceAutomation(sc, a, now)
			}
		}
	}
}

// imageStepEnd is when a createImage step (the patch runbook's or an
// account runbook's aws:createImage) ends: once its image is available;
// it fails when the image failed or is gone; zero and false while the
// image is pending.
func (a *AutomationExecution) imageStepEnd(step *AutomationStep, img *Image, now time.Time) (time.Time, bool) {
	if img == nil || img.State == "failed" || img.State == "deregistered" {
		a.fail(step, now, "The image failed")
		return now, false
	}
	if !img.AvailableAt.After(now) {
		step.Outputs["ImageState"] = []string{"available"}
		return laterOf(img.AvailableAt, step.Start), true
	}
	return time.Time{}, false
}

func (a *AutomationExecution) fail(step *AutomationStep, t time.Time, msg string) {
	step.Status, step.End, step.FailureMessage = "Failed", t, msg
	a.Status, a.End = "Failed", t
	a.FailureMessage = fmt.Sprintf("Step fails when it is %s. %s. Please refer to Automation Service Troubleshooting Guide for more diagnosis details.", step.Action, msg)
	for _, s := range a.Steps {
		if s.Status == "Pending" {
			s.Status = "Cancelled"
		}
	}
}

// advanceAutomation runs the steps whose conditions are met by now, each
// starting when the previous one finished.
func (w *World) advanceAutomation(sc *SSMScope, a *AutomationExecution, now time.Time) {
	t := a.Start
	for _, s := range a.Steps {
		if s.Status == "Success" {
			t = s.End
		}
	}
	for guard := 0; guard < 2*len(a.Steps)+2 && a.Status == "InProgress"; guard++ {
		var step *AutomationStep
		for _, s := range a.Steps {
			if s.Status == "Pending" || s.Status == "InProgress" {
				step = s
				break
			}
		}
		if step == nil {
			a.Status, a.End = "Success", t
			if a.Doc != nil {
				a.Outputs = customOutputs(a)
			} else {
				a.Outputs["createImage.ImageId"] = []string{a.ImageID}
			}
			return
		}
		if t.After(now) {
			return
		}
		if step.Status == "Pending" {
			step.Status, step.Start = "InProgress", t
			if !w.startAutomationStep(sc, a, step, t) {
				return
			}
		}
		w.tickInstances(now)
		end, done := w.automationStepDone(sc, a, step, now)
		if a.Status != "InProgress" || !done {
			return
		}
		step.Status, step.End = "Success", end
		t = end
	}
}

// startAutomationStep starts a step at t; false when it failed at once.
func (w *World) startAutomationStep(sc *SSMScope, a *AutomationExecution, step *AutomationStep, t time.Time) bool {
	if a.Doc != nil {
		return w.startCustomStep(a, step, t)
	}
	p := func(k string) string { return firstValue(a.Parameters[k]) }
	switch step.Name {
	case "launchInstance":
		spec := LaunchSpec{Account: a.Account, Region: a.Region, ImageID: p("SourceAmiId"), InstanceType: p("InstanceType"),
			SubnetID: p("SubnetId"), IAMInstanceProfile: p("IamInstanceProfileName"),
			Tags: Tags{"Name": "Automation-" + a.ID[:8], "aws:ssm:automation-execution-id": a.ID}}
		step.Inputs = map[string]string{"ImageId": spec.ImageID, "InstanceType": spec.InstanceType, "IamInstanceProfileName": spec.IAMInstanceProfile}
		inst, err := w.RunInstance(spec, t)
		if err != nil {
			a.fail(step, t, err.Code+": "+err.Message)
			return false
		}
		a.InstanceID = inst.ID
		step.Outputs = map[string][]string{"InstanceIds": {inst.ID}}
	case "updateOSSoftware":
		cmds := []string{"# amibake-step: " + a.DocumentName + "/updateOSSoftware", "set -e"}
		if s := p("PreUpdateScript"); s != "" && s != "none" {
			cmds = append(cmds, s)
		}
		upgrade := "dnf upgrade -y"
		if inc := p("IncludePackages"); inc != "" && inc != "all" {
			upgrade += " " + strings.ReplaceAll(inc, ",", " ")
		}
		if exc := p("ExcludePackages"); exc != "" && exc != "none" {
			for _, x := range strings.Split(exc, ",") {
				upgrade += " --exclude " + strings.TrimSpace(x)
			}
		}
		cmds = append(cmds, upgrade)
		if s := p("PostUpdateScript"); s != "" && s != "none" {
			cmds = append(cmds, s)
		}
		cmd, err := w.SendCommand(a.Account, a.Region, CommandRequest{DocumentName: "AWS-RunShellScript", InstanceIDs: []string{a.InstanceID},
			Parameters: map[string][]string{"commands": cmds}, Comment: "Automation " + a.ID}, t)
		if err != nil {
			a.fail(step, t, err.Error())
			return false
		}
		cmd.Source = "automation:" + a.ID
		a.CommandID = cmd.ID
		step.Outputs = map[string][]string{"CommandId": {cmd.ID}}
	case "stopInstance":
		inst := w.EC2.Instances[a.InstanceID]
		if inst == nil || inst.State == StateTerminated || inst.State == StateShuttingDown {
			a.fail(step, t, "The instance is gone")
			return false
		}
		if inst.State == StateRunning {
			inst.State, inst.StateSince = StateStopping, t
		}
	case "createImage":
		inst := w.EC2.Instances[a.InstanceID]
		if inst == nil {
			a.fail(step, t, "The instance is gone")
			return false
		}
		name := strings.ReplaceAll(p("TargetAmiName"), "{{SourceAmiId}}", p("SourceAmiId"))
		name = strings.ReplaceAll(name, "{{global:DATE_TIME}}", t.UTC().Format("20060102T150405"))
		name = strings.ReplaceAll(name, "{{global:DATE}}", t.UTC().Format("2006-01-02"))
		for _, img := range w.EC2.Images {
			if img.Account == a.Account && img.Region == a.Region && img.Name == name && img.State != "deregistered" {
				a.fail(step, t, "InvalidAMIName.Duplicate: AMI name "+name+" is already in use by AMI "+img.ID)
				return false
			}
		}
		img := w.automationImage(inst, name, t)
		a.ImageID = img.ID
		step.Inputs = map[string]string{"InstanceId": inst.ID, "ImageName": name}
		step.Outputs = map[string][]string{"ImageId": {img.ID}, "ImageState": {"pending"}}
	case "terminateInstance":
		if inst := w.EC2.Instances[a.InstanceID]; inst != nil {
			w.TerminateInstance(inst, t)
		}
	}
	return true
}

// automationImage creates an image of a stopped instance the way
// CreateImage does: pending until Timing.ImageCreate has passed, with a new
// snapshot of the root volume and the instance's content.
func (w *World) automationImage(inst *Instance, name string, t time.Time) *Image {
	ready := t.Add(w.Timing.ImageCreate)
	src := w.EC2.Images[inst.ImageID]
	root := "/dev/xvda"
	imds := ""
	if src != nil {
		if src.RootDeviceName != "" {
			root = src.RootDeviceName
		}
		imds = src.ImdsSupport
	}
	img := &Image{ID: w.NewID("ami"), Account: inst.Account, Region: inst.Region, Name: name,
		Description: "Created by AWS-UpdateLinuxAmi from " + inst.ImageID, State: "pending", StateSince: t, CreationDate: t,
		Architecture: inst.Architecture, RootDeviceName: root, SourceInstanceID: inst.ID, ImdsSupport: imds,
		Content: inst.Content.Clone(), AvailableAt: ready}
	size, vtype := 8, "gp3"
	if vol := w.EC2.Volumes[inst.RootVolumeID]; vol != nil {
		size, vtype = vol.Size, vol.Type
	}
	snap := &Snapshot{ID: w.NewID("snap"), Account: inst.Account, Region: inst.Region, VolumeID: inst.RootVolumeID,
		VolumeSize: size, State: "pending", StartTime: t, StateSince: t, CompleteAt: ready,
		Description: fmt.Sprintf("Created by CreateImage(%s) for %s", inst.ID, img.ID)}
	w.EC2.Snapshots[snap.ID] = snap
	img.BlockDevices = []BlockDevice{{DeviceName: root, SnapshotID: snap.ID, VolumeSize: size, VolumeType: vtype, DeleteOnTermination: true}}
	w.EC2.Images[img.ID] = img
	return img
}

// automationStepDone reports whether a running step has finished by now,
// and when.
func (w *World) automationStepDone(sc *SSMScope, a *AutomationExecution, step *AutomationStep, now time.Time) (time.Time, bool) {
	if a.Doc != nil {
		return w.customStepDone(sc, a, step, now)
	}
	inst := w.EC2.Instances[a.InstanceID]
	switch step.Name {
	case "launchInstance":
		if inst == nil || inst.State == StateTerminated || inst.State == StateShuttingDown {
			a.fail(step, now, "The instance terminated while launching")
			return now, false
		}
		if inst.State == StateRunning {
			return laterOf(inst.StateSince, step.Start), true
		}
	case "updateOSSoftware":
		cmd := sc.Commands[a.CommandID]
		if cmd == nil {
			a.fail(step, now, "The command was lost")
			return now, false
		}
		w.advanceCommand(cmd, now)
		if !cmd.terminal() {
			return time.Time{}, false
		}
		if cmd.Status != invSuccess {
			a.fail(step, cmd.FinishedAt, "Command "+cmd.ID+" returns unexpected invocation result: "+cmd.StatusDetails)
			return cmd.FinishedAt, false
		}
		return laterOf(cmd.FinishedAt, step.Start), true
	case "stopInstance":
		if inst != nil && inst.State == StateStopped {
			return laterOf(inst.StateSince, step.Start), true
		}
	case "createImage":
		return a.imageStepEnd(step, w.EC2.Images[a.ImageID], now)
	case "terminateInstance":
		if inst == nil || inst.State == StateTerminated {
			end := step.Start
			if inst != nil {
				end = laterOf(inst.StateSince, step.Start)
			}
			return end, true
		}
	}
	return time.Time{}, false
}

// ---- reads ------------------------------------------------------------

func stepOut(s *AutomationStep) map[string]any {
	out := map[string]any{"StepName": s.Name, "Action": s.Action, "StepStatus": s.Status, "StepExecutionId": s.ID,
		"OnFailure": "Abort", "MaxAttempts": 1, "IsCritical": true, "IsEnd": s.Name == "terminateInstance",
		"Inputs": nonNilMap(s.Inputs), "Outputs": nonNilListMap(s.Outputs)}
	if !s.Start.IsZero() {
		out["ExecutionStartTime"] = epochAt(s.Start)
	}
	if !s.End.IsZero() {
		out["ExecutionEndTime"] = epochAt(s.End)
	}
	if s.FailureMessage != "" {
		out["FailureMessage"] = s.FailureMessage
	}
	return out
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilListMap(m map[string][]string) map[string][]string {
	if m == nil {
		return map[string][]string{}
	}
	return m
}

func (a *AutomationExecution) current() *AutomationStep {
	for _, s := range a.Steps {
		if s.Status == "InProgress" || s.Status == "Failed" {
			return s
		}
	}
	return nil
}

func automationOut(a *AutomationExecution, meta bool) map[string]any {
	out := map[string]any{"AutomationExecutionId": a.ID, "DocumentName": a.DocumentName, "DocumentVersion": a.DocumentVersion,
		"AutomationExecutionStatus": a.Status, "ExecutionStartTime": epochAt(a.Start), "Outputs": nonNilListMap(a.Outputs),
		"Mode": "Auto", "ExecutedBy": callerARN(a.Account)}
	if !a.End.IsZero() {
		out["ExecutionEndTime"] = epochAt(a.End)
	}
	if a.FailureMessage != "" {
		out["FailureMessage"] = a.FailureMessage
	}
	if cur := a.current(); cur != nil {
		out["CurrentStepName"], out["CurrentAction"] = cur.Name, cur.Action
	}
	if meta {
		out["AutomationType"] = "Local"
		return out
	}
	steps := []map[string]any{}
	for _, s := range a.Steps {
		steps = append(steps, stepOut(s))
	}
	out["StepExecutions"], out["StepExecutionsTruncated"], out["Parameters"] = steps, false, a.Parameters
	return out
}

func findAutomation(c *Call, id string) (*AutomationExecution, error) {
	a := c.ssm().Automations[id]
	if a == nil {
		return nil, Errorf("AutomationExecutionNotFoundException", "Automation execution %s not found.", id)
	}
	return a, nil
}

func ssmGetAutomationExecution(c *Call) (any, error) {
	var in struct {
		AutomationExecutionID string `json:"AutomationExecutionId"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	a, err := findAutomation(c, in.AutomationExecutionID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"AutomationExecution": automationOut(a, false)}, nil
}

func ssmDescribeAutomationExecutions(c *Call) (any, error) {
	var in ssmListInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	sc := c.ssm()
	var kept []*AutomationExecution
	for i := len(sc.AutomationOrder) - 1; i >= 0; i-- {
		a := sc.Automations[sc.AutomationOrder[i]]
		if a == nil {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			m := false
			for _, v := range f.Values {
				switch f.Key {
				case "DocumentNamePrefix":
					m = m || strings.HasPrefix(a.DocumentName, v)
				case "ExecutionStatus":
					m = m || a.Status == v
				case "ExecutionId":
					m = m || a.ID == v
				case "StartTimeBefore", "StartTimeAfter":
					t, err := time.Parse(time.RFC3339, v)
					if err != nil {
						return nil, Errorf("InvalidFilterValue", "Filter value %s is not a timestamp.", v)
					}
					m = m || (f.Key == "StartTimeBefore" && a.Start.Before(t)) || (f.Key == "StartTimeAfter" && !a.Start.Before(t))
				case "TagKey":
					_, has := a.Tags[v]
					m = m || has
				case "AutomationType":
					m = m || v == "Local"
				case "CurrentAction":
					cur := a.current()
					m = m || (cur != nil && cur.Action == v)
				default:
					return nil, Errorf("InvalidFilterKey", "The filter key %s is not supported by the sandbox.", f.Key)
				}
			}
			ok = ok && m
		}
		if ok {
			kept = append(kept, a)
		}
	}
	pg, next, err := ssmPage(kept, in.NextToken, in.MaxResults, 50, 50, "automations")
	if err != nil {
		return nil, err
	}
	return ssmList("AutomationExecutionMetadataList", pg, next, func(a *AutomationExecution) map[string]any {
		return automationOut(a, true)
	}), nil
}

func ssmDescribeAutomationStepExecutions(c *Call) (any, error) {
	var in struct {
		AutomationExecutionID string      `json:"AutomationExecutionId"`
		Filters               []ssmFilter `json:"Filters"`
		MaxResults            int         `json:"MaxResults"`
		NextToken             string      `json:"NextToken"`
		ReverseOrder          bool        `json:"ReverseOrder"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	a, err := findAutomation(c, in.AutomationExecutionID)
	if err != nil {
		return nil, err
	}
	steps := append([]*AutomationStep(nil), a.Steps...)
	if in.ReverseOrder {
		for i, j := 0, len(steps)-1; i < j; i, j = i+1, j-1 {
			steps[i], steps[j] = steps[j], steps[i]
		}
	}
	kept, err := ssmKeep(steps, in.Filters, func(s *AutomationStep, f ssmFilter) (bool, error) {
		switch f.Key {
		case "StepName":
			return ssmContains(f.Values, s.Name), nil
		case "Action":
			return ssmContains(f.Values, s.Action), nil
		case "StepExecutionId":
			return ssmContains(f.Values, s.ID), nil
		case "StepExecutionStatus":
			return ssmContains(f.Values, s.Status), nil
		}
		return false, Errorf("InvalidFilterKey", "The filter key %s is not supported by the sandbox.", f.Key)
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(kept, in.NextToken, in.MaxResults, 50, 50, "steps:"+a.ID)
	if err != nil {
		return nil, err
	}
	return ssmList("StepExecutions", pg, next, stepOut), nil
}

func ssmStopAutomationExecution(c *Call) (any, error) {
	var in struct {
		AutomationExecutionID string `json:"AutomationExecutionId"`
		Type                  string `json:"Type"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	a, err := findAutomation(c, in.AutomationExecutionID)
	if err != nil {
		return nil, err
	}
	if a.Status != "InProgress" && a.Status != "Pending" {
		return nil, Errorf("InvalidAutomationStatusUpdateException", "The automation execution %s is already %s.", a.ID, a.Status)
	}
	for _, s := range a.Steps {
		if s.Status == "InProgress" || s.Status == "Pending" {
			s.Status = "Cancelled"
			if !s.Start.IsZero() {
				s.End = c.Now
			}
		}
	}
	a.Status, a.End = "Cancelled", c.Now
	// AWS-UpdateLinuxAmi's instance does not outlive the execution; what a
	// custom runbook launched stays, as on AWS: its caller cleans up.
	if inst := c.World.EC2.Instances[a.InstanceID]; inst != nil && a.Doc == nil {
		c.World.TerminateInstance(inst, c.Now)
	}
	return nil, nil
}
