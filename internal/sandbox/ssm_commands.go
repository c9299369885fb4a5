package sandbox

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Command is one SendCommand: a document run on a set of instances, with
// one invocation per instance.
type Command struct {
	ID                 string              `json:"id"`
	Account            string              `json:"account"`
	Region             string              `json:"region"`
	DocumentName       string              `json:"document_name"`
	DocumentVersion    string              `json:"document_version"`
	Comment            string              `json:"comment,omitempty"`
	Parameters         map[string][]string `json:"parameters"`
	InstanceIDs        []string            `json:"instance_ids,omitempty"` // as requested
	Targets            []ssmTarget         `json:"targets,omitempty"`
	RequestedAt        time.Time           `json:"requested_at"`
	TimeoutSeconds     int                 `json:"timeout_seconds"` // delivery timeout
	MaxConcurrency     string              `json:"max_concurrency"`
	MaxErrors          string              `json:"max_errors"`
	OutputS3Region     string              `json:"output_s3_region,omitempty"`
	OutputS3BucketName string              `json:"output_s3_bucket_name,omitempty"`
	OutputS3KeyPrefix  string              `json:"output_s3_key_prefix,omitempty"`
	ServiceRole        string              `json:"service_role,omitempty"`
	Status             string              `json:"status"`
	StatusDetails      string              `json:"status_details"`
	Invocations        []*Invocation       `json:"invocations"`
	// Cursor is the virtual time the state machine has been simulated to.
	Cursor time.Time `json:"cursor"`
	// Stopped is set once the errors exceed MaxErrors: nothing more is sent.
	Stopped         bool      `json:"stopped,omitempty"`
	CancelRequested bool      `json:"cancel_requested,omitempty"`
	FinishedAt      time.Time `json:"finished_at,omitzero"`
	VisibleAt       time.Time `json:"visible_at,omitzero"`
	// Source says what sent it when not a SendCommand call
	// ("maintenance-window:<execution>", "automation:<id>").
	Source string `json:"source,omitempty"`
}

// Invocation is a command on one instance.
type Invocation struct {
	InstanceID    string     `json:"instance_id"`
	InstanceName  string     `json:"instance_name,omitempty"`
	Status        string     `json:"status"`
	StatusDetails string     `json:"status_details"`
	StartedAt     time.Time  `json:"started_at,omitzero"`
	EndsAt        time.Time  `json:"ends_at,omitzero"`
	FinishedAt    time.Time  `json:"finished_at,omitzero"`
	ResponseCode  int        `json:"response_code"`
	Stdout        string     `json:"stdout,omitempty"`
	Stderr        string     `json:"stderr,omitempty"`
	Script        *ScriptRun `json:"script,omitempty"`
	// TimesOut marks an execution that will hit executionTimeout.
	TimesOut bool `json:"times_out,omitempty"`
}

// Invocation statuses (Status / StatusDetails as AWS reports them).
const (
	invPending    = "Pending"
	invDelayed    = "Delayed"
	invInProgress = "InProgress"
	invSuccess    = "Success"
	invFailed     = "Failed"
	invTimedOut   = "TimedOut"
	invCancelled  = "Cancelled"
)

func (inv *Invocation) terminal() bool {
	switch inv.Status {
	case invSuccess, invFailed, invTimedOut, invCancelled:
		return true
	}
	return false
}

// isError: counts against MaxErrors (Failed and Execution Timed Out;
// Undeliverable and Delivery Timed Out do not).
func (inv *Invocation) isError() bool {
	return (inv.Status == invFailed && inv.StatusDetails == "Failed") ||
		(inv.Status == invTimedOut && inv.StatusDetails == "ExecutionTimedOut")
}

func (cmd *Command) terminal() bool {
	switch cmd.Status {
	case invSuccess, invFailed, invTimedOut, invCancelled:
		return true
	}
	return false
}

// ---- documents --------------------------------------------------------

type docParam struct {
	Required bool
	Default  string
	Allowed  []string
}

type ssmDocument struct {
	Name    string
	Plugins []string // plugin (step) names; Run is the one that runs on Linux
	Run     string
	Params  map[string]docParam
}

var ssmDocuments = map[string]*ssmDocument{
	"AWS-RunShellScript": {
		Name: "AWS-RunShellScript", Plugins: []string{"aws:runShellScript"}, Run: "aws:runShellScript",
		Params: map[string]docParam{
			"commands":         {Required: true},
			"workingDirectory": {},
			"executionTimeout": {Default: "3600"},
		},
	},
	"AWS-RunPatchBaseline": {
		Name: "AWS-RunPatchBaseline", Plugins: []string{"PatchWindows", "PatchLinux", "PatchMacOS"}, Run: "PatchLinux",
		Params: map[string]docParam{
			"Operation":           {Default: "Scan", Allowed: []string{"Scan", "Install"}},
			"SnapshotId":          {},
			"InstallOverrideList": {},
			"AssociationId":       {},
			"BaselineOverride":    {},
			"RebootOption":        {Default: "RebootIfNeeded", Allowed: []string{"RebootIfNeeded", "NoReboot"}},
		},
	},
}

// lookupDocument accepts a name or an ARN of an AWS-owned document.
func lookupDocument(name string) *ssmDocument {
	if i := strings.LastIndex(name, ":document/"); i >= 0 {
		name = name[i+len(":document/"):]
	}
	return ssmDocuments[name]
}

// validateDocParams fills defaults and checks the parameters of a document.
func validateDocParams(doc *ssmDocument, in map[string][]string) (map[string][]string, error) {
	out := map[string][]string{}
	for k, v := range in {
		p, ok := doc.Params[k]
		if !ok {
			return nil, Errorf("InvalidParameters", "Parameter %q is not defined in document %s.", k, doc.Name)
		}
		if len(p.Allowed) > 0 {
			for _, x := range v {
				if !ssmContains(p.Allowed, x) {
					return nil, Errorf("InvalidParameters", "Parameter %q has value %q not in the allowed values %v.", k, x, p.Allowed)
				}
			}
		}
		out[k] = append([]string(nil), v...)
	}
	for k, p := range doc.Params {
		if _, ok := out[k]; ok {
			continue
		}
		if p.Required {
			return nil, Errorf("InvalidParameters", "Parameter %q is required by document %s.", k, doc.Name)
		}
		if p.Default != "" {
			out[k] = []string{p.Default}
		}
	}
	return out, nil
}

// ---- registration -----------------------------------------------------

func (s *Server) registerSSMCommands() {
	s.handle(svcSSM, "SendCommand", ssmSendCommand)
	s.handle(svcSSM, "ListCommands", ssmListCommands)
	s.handle(svcSSM, "ListCommandInvocations", ssmListCommandInvocations)
	s.handle(svcSSM, "GetCommandInvocation", ssmGetCommandInvocation)
	s.handle(svcSSM, "CancelCommand", ssmCancelCommand)
	s.handle(svcSSM, "DescribeInstanceInformation", ssmDescribeInstanceInformation)
}

var (
	maxConcurrencyRE = regexp.MustCompile(`^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$`)
	maxErrorsRE      = regexp.MustCompile(`^([1-9][0-9]*|0|[1-9][0-9]%|[0-9]%|100%)$`)
)

// CommandRequest is SendCommand's input, also used by maintenance windows
// and automation to send commands from inside the sandbox.
type CommandRequest struct {
	InstanceIDs        []string            `json:"InstanceIds"`
	Targets            []ssmTarget         `json:"Targets"`
	DocumentName       string              `json:"DocumentName"`
	DocumentVersion    string              `json:"DocumentVersion"`
	TimeoutSeconds     int                 `json:"TimeoutSeconds"`
	Comment            string              `json:"Comment"`
	Parameters         map[string][]string `json:"Parameters"`
	OutputS3Region     string              `json:"OutputS3Region"`
	OutputS3BucketName string              `json:"OutputS3BucketName"`
	OutputS3KeyPrefix  string              `json:"OutputS3KeyPrefix"`
	MaxConcurrency     string              `json:"MaxConcurrency"`
	MaxErrors          string              `json:"MaxErrors"`
	ServiceRoleArn     string              `json:"ServiceRoleArn"`
}

func ssmSendCommand(c *Call) (any, error) {
	var in CommandRequest
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	cmd, err := c.World.SendCommand(c.Account, c.Region, in, c.Now)
	if err != nil {
		return nil, err
	}
	cmd.VisibleAt = c.Now.Add(c.InvisibleFor())
	return map[string]any{"Command": commandJSON(cmd)}, nil
}

// SendCommand validates a request and creates the command with its
// invocations (all Pending); the ticker runs them.
func (w *World) SendCommand(account, region string, in CommandRequest, now time.Time) (*Command, error) {
	doc := lookupDocument(in.DocumentName)
	if doc == nil {
		if in.DocumentName == "" {
			return nil, errValidationException("1 validation error detected: Value null at 'documentName' failed to satisfy constraint: Member must not be null")
		}
		return nil, Errorf("InvalidDocument", "Document with name %s does not exist.", in.DocumentName)
	}
	switch in.DocumentVersion {
	case "", "$DEFAULT", "$LATEST", "1":
	default:
		return nil, Errorf("InvalidDocumentVersion", "Document %s has no version %s.", doc.Name, in.DocumentVersion)
	}
	params, err := validateDocParams(doc, in.Parameters)
	if err != nil {
		return nil, err
	}
	if doc.Name == "AWS-RunShellScript" {
		if t := firstValue(params["executionTimeout"]); t != "" {
			if n, err := strconv.Atoi(t); err != nil || n < 1 || n > 172800 {
				return nil, Errorf("InvalidParameters", "Parameter \"executionTimeout\" must be a number of seconds between 1 and 172800.")
			}
		}
	}
	if (len(in.InstanceIDs) == 0) == (len(in.Targets) == 0) {
		return nil, errValidationException("Exactly one of InstanceIds or Targets must be specified.")
	}
	if len(in.InstanceIDs) > 50 {
		return nil, errValidationException("1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	if len(in.Targets) > 5 {
		return nil, errValidationException("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length less than or equal to 5")
	}
	if in.TimeoutSeconds == 0 {
		in.TimeoutSeconds = 3600
	}
	if in.TimeoutSeconds < 30 || in.TimeoutSeconds > 2592000 {
		return nil, errValidationException("1 validation error detected: Value '%d' at 'timeoutSeconds' failed to satisfy constraint: Member must have value between 30 and 2592000", in.TimeoutSeconds)
	}
	if in.MaxConcurrency == "" {
		in.MaxConcurrency = "50"
	}
	if in.MaxErrors == "" {
		in.MaxErrors = "0"
	}
	if !maxConcurrencyRE.MatchString(in.MaxConcurrency) {
		return nil, errValidationException("1 validation error detected: Value '%s' at 'maxConcurrency' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([1-9][0-9]*|[1-9][0-9]%%|[1-9]%%|100%%)$", in.MaxConcurrency)
	}
	if !maxErrorsRE.MatchString(in.MaxErrors) {
		return nil, errValidationException("1 validation error detected: Value '%s' at 'maxErrors' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([1-9][0-9]*|[0]|[1-9][0-9]%%|[0-9]%%|100%%)$", in.MaxErrors)
	}
	if len(in.Comment) > 100 {
		return nil, errValidationException("1 validation error detected: Value at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100")
	}

	var insts []*Instance
	if len(in.InstanceIDs) > 0 {
		var bad []string
		seen := map[string]bool{}
		for _, id := range in.InstanceIDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			inst := w.EC2.Instances[id]
			if inst == nil || inst.Account != account || inst.Region != region || inst.VisibleAt.After(now) || !w.managedInstance(inst) {
				bad = append(bad, id)
				continue
			}
			insts = append(insts, inst)
		}
		if len(bad) > 0 {
			return nil, Errorf("InvalidInstanceId", "Instances [[%s]] not in a valid state for account %s", strings.Join(bad, ", "), account)
		}
	} else {
		insts, err = w.resolveTargets(account, region, in.Targets, now)
		if err != nil {
			return nil, err
		}
	}

	sc := w.ssmScope(account, region)
	version := in.DocumentVersion
	if version == "" {
		version = "$DEFAULT"
	}
	cmd := &Command{
		ID: w.NewUUID(), Account: account, Region: region, DocumentName: doc.Name, DocumentVersion: version,
		Comment: in.Comment, Parameters: params, InstanceIDs: append([]string(nil), in.InstanceIDs...), Targets: in.Targets,
		RequestedAt: now, Cursor: now, TimeoutSeconds: in.TimeoutSeconds, MaxConcurrency: in.MaxConcurrency, MaxErrors: in.MaxErrors,
		OutputS3Region: in.OutputS3Region, OutputS3BucketName: in.OutputS3BucketName, OutputS3KeyPrefix: in.OutputS3KeyPrefix,
		ServiceRole: in.ServiceRoleArn, Status: invPending, StatusDetails: invPending,
	}
	if cmd.InstanceIDs == nil {
		cmd.InstanceIDs = []string{}
	}
	for _, inst := range insts {
		cmd.Invocations = append(cmd.Invocations, &Invocation{
			InstanceID: inst.ID, InstanceName: computerName(inst), Status: invPending, StatusDetails: invPending, ResponseCode: -1,
		})
	}
	sc.Commands[cmd.ID] = cmd
	sc.CommandOrder = append(sc.CommandOrder, cmd.ID)
	w.SSM.Active = append(w.SSM.Active, CommandRef{Scope: account + "/" + region, ID: cmd.ID})
	w.advanceCommand(cmd, now)
	return cmd, nil
}

func firstValue(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// limit turns "N" or "N%" of total into a count; percentages of a
// concurrency round down but never below 1.
func ssmLimit(spec string, total int, atLeastOne bool) int {
	n := 0
	if strings.HasSuffix(spec, "%") {
		p, _ := strconv.Atoi(strings.TrimSuffix(spec, "%"))
		n = int(math.Floor(float64(total) * float64(p) / 100))
	} else {
		n, _ = strconv.Atoi(spec)
	}
	if atLeastOne && n < 1 {
		n = 1
	}
	return n
}

// ---- state machine ----------------------------------------------------

// tickCommands advances every active command to now.
func (w *World) tickCommands(now time.Time) {
	if len(w.SSM.Active) == 0 {
		return
	}
	kept := w.SSM.Active[:0]
	for _, ref := range w.SSM.Active {
		sc := w.SSM.Scopes[ref.Scope]
		if sc == nil || sc.Commands[ref.ID] == nil {
			continue
		}
		cmd := sc.Commands[ref.ID]
		w.advanceCommand(cmd, now)
		if !cmd.terminal() {
			kept = append(kept, ref)
		}
	}
	w.SSM.Active = kept
}

// advanceCommand simulates a command from its cursor to now, event by
// event, so a clock that jumps an hour sees every intermediate dispatch in
// the right order and at the right virtual time.
func (w *World) advanceCommand(cmd *Command, now time.Time) {
	if cmd.terminal() {
		return
	}
	total := len(cmd.Invocations)
	conc := ssmLimit(cmd.MaxConcurrency, total, true)
	maxErr := ssmLimit(cmd.MaxErrors, total, false)
	for guard := 0; guard < 10*total+10; guard++ {
		t := cmd.Cursor
		// Dispatch as many as concurrency allows at t.
		if !cmd.Stopped && !cmd.CancelRequested {
			inflight := 0
			for _, inv := range cmd.Invocations {
				if inv.Status == invInProgress || inv.Status == invDelayed {
					inflight++
				}
			}
			for _, inv := range cmd.Invocations {
				if inflight >= conc {
					break
				}
				if inv.Status != invPending {
					continue
				}
				w.startInvocation(cmd, inv, t)
				if inv.Status == invInProgress || inv.Status == invDelayed {
					inflight++
				}
			}
		}
		// Next event.
		var next *Invocation
		var nextAt time.Time
		for _, inv := range cmd.Invocations {
			var at time.Time
			switch inv.Status {
			case invInProgress:
				at = inv.EndsAt
			case invDelayed:
				at = cmd.RequestedAt.Add(time.Duration(cmd.TimeoutSeconds) * time.Second)
				if inst := w.EC2.Instances[inv.InstanceID]; inst != nil && inst.State == StateRunning {
					at = laterOf(inst.StateSince, t)
				} else if inst == nil || inst.State == StateTerminated {
					at = t
				}
			default:
				continue
			}
			if next == nil || at.Before(nextAt) {
				next, nextAt = inv, at
			}
		}
		if next == nil || nextAt.After(now) {
			break
		}
		if nextAt.After(cmd.Cursor) {
			cmd.Cursor = nextAt
		}
		w.invocationEvent(cmd, next, cmd.Cursor)
		if !cmd.Stopped && errorCount(cmd) > maxErr {
			cmd.Stopped = true
			for _, inv := range cmd.Invocations {
				if inv.Status == invPending {
					inv.Status, inv.StatusDetails, inv.FinishedAt = invCancelled, "Terminated", cmd.Cursor
				}
			}
		}
	}
	w.commandStatus(cmd, maxErr)
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func errorCount(cmd *Command) int {
	n := 0
	for _, inv := range cmd.Invocations {
		if inv.isError() {
			n++
		}
	}
	return n
}

// startInvocation sends the command to one instance at t.
func (w *World) startInvocation(cmd *Command, inv *Invocation, t time.Time) {
	inst := w.EC2.Instances[inv.InstanceID]
	switch {
	case inst == nil || inst.State == StateTerminated || inst.State == StateShuttingDown || !w.managedInstance(inst) && inst.State == StateRunning:
		inv.Status, inv.StatusDetails, inv.FinishedAt = invFailed, "Undeliverable", t
		inv.Stderr = "The command could not be delivered to the instance."
		return
	case inst.State != StateRunning:
		inv.Status, inv.StatusDetails = invDelayed, invDelayed
		return
	}
	inv.Status, inv.StatusDetails, inv.StartedAt = invInProgress, invInProgress, t
	timing := w.Timing
	var dur time.Duration
	switch cmd.DocumentName {
	case "AWS-RunShellScript":
		run := ReadScript(cmd.Parameters["commands"])
		inv.Script = run
		dur = timing.CommandRun + run.Sleep
		if limit, err := strconv.Atoi(firstValue(cmd.Parameters["executionTimeout"])); err == nil && limit > 0 {
			if d := time.Duration(limit) * time.Second; dur > d {
				dur, inv.TimesOut = d, true
			}
		}
	case "AWS-RunPatchBaseline":
		if firstValue(cmd.Parameters["Operation"]) == "Install" {
			dur = timing.PatchInstall
		} else {
			dur = timing.PatchScan
		}
	}
	inv.EndsAt = t.Add(dur)
}

// invocationEvent handles the next event of an in-flight invocation at t:
// completion, a delayed instance coming back, or a delivery timeout.
func (w *World) invocationEvent(cmd *Command, inv *Invocation, t time.Time) {
	inst := w.EC2.Instances[inv.InstanceID]
	if inv.Status == invDelayed {
		switch {
		case inst == nil || inst.State == StateTerminated:
			inv.Status, inv.StatusDetails, inv.FinishedAt = invFailed, "Undeliverable", t
		case inst.State == StateRunning:
			inv.Status = invPending
			w.startInvocation(cmd, inv, t)
		default:
			inv.Status, inv.StatusDetails, inv.FinishedAt = invTimedOut, "DeliveryTimedOut", t
		}
		return
	}
	inv.FinishedAt = t
	if inst == nil || (inst.State != StateRunning && !inst.StateSince.After(t)) {
		// The instance went away mid-run (stopped or terminated).
		inv.Status, inv.StatusDetails, inv.ResponseCode = invFailed, "Failed", -1
		inv.Stderr = "The instance stopped before the command finished."
		return
	}
	if inv.TimesOut {
		inv.Status, inv.StatusDetails, inv.ResponseCode = invTimedOut, "ExecutionTimedOut", -1
		inv.Stderr = "Command execution timed out."
		return
	}
	switch cmd.DocumentName {
	case "AWS-RunShellScript":
		run := inv.Script
		pkgOut := w.applyScriptRun(inst, run, t)
		inv.Stdout = pkgOut + run.Stdout
		inv.Stderr = run.Stderr
		inv.ResponseCode = run.ExitCode
		if run.Failed() {
			inv.Status, inv.StatusDetails = invFailed, "Failed"
		} else {
			inv.Status, inv.StatusDetails = invSuccess, invSuccess
		}
	case "AWS-RunPatchBaseline":
		out, code := w.runPatchBaseline(cmd, inv, inst, t)
		inv.Stdout, inv.ResponseCode = out, code
		if code == 0 {
			inv.Status, inv.StatusDetails = invSuccess, invSuccess
		} else {
			inv.Status, inv.StatusDetails = invFailed, "Failed"
			inv.Stderr = "Patch operation failed."
		}
	}
}

// commandStatus aggregates the invocations into the command's status.
func (w *World) commandStatus(cmd *Command, maxErr int) {
	var done, success, errs, timedOut, delivery, undeliverable, cancelled int
	started := false
	for _, inv := range cmd.Invocations {
		if inv.Status != invPending {
			started = true
		}
		if !inv.terminal() {
			continue
		}
		done++
		switch {
		case inv.Status == invSuccess:
			success++
		case inv.StatusDetails == "Undeliverable":
			undeliverable++
		case inv.StatusDetails == "DeliveryTimedOut":
			delivery++
		case inv.StatusDetails == "ExecutionTimedOut":
			errs++
			timedOut++
		case inv.Status == invFailed:
			errs++
		case inv.Status == invCancelled:
			cancelled++
		}
	}
	if done < len(cmd.Invocations) {
		if started {
			cmd.Status, cmd.StatusDetails = invInProgress, invInProgress
		} else {
			cmd.Status, cmd.StatusDetails = invPending, invPending
		}
		return
	}
	switch {
	case cmd.CancelRequested && cancelled > 0:
		cmd.Status, cmd.StatusDetails = invCancelled, invCancelled
	case errs > maxErr && timedOut == errs:
		cmd.Status, cmd.StatusDetails = invTimedOut, "ExecutionTimedOut"
	case errs > maxErr:
		cmd.Status, cmd.StatusDetails = invFailed, invFailed
	case delivery > maxErr:
		cmd.Status, cmd.StatusDetails = invTimedOut, "DeliveryTimedOut"
	case success+undeliverable == len(cmd.Invocations):
		cmd.Status, cmd.StatusDetails = invSuccess, invSuccess
	default:
		cmd.Status, cmd.StatusDetails = invFailed, "Incomplete"
	}
	if cmd.FinishedAt.IsZero() {
		cmd.FinishedAt = cmd.Cursor
	}
}

// ---- wire shapes ------------------------------------------------------

type commandOut struct {
	CommandID             string              `json:"CommandId"`
	DocumentName          string              `json:"DocumentName"`
	DocumentVersion       string              `json:"DocumentVersion"`
	Comment               string              `json:"Comment"`
	ExpiresAfter          awsTime             `json:"ExpiresAfter,omitzero"`
	Parameters            map[string][]string `json:"Parameters"`
	InstanceIDs           []string            `json:"InstanceIds"`
	Targets               []ssmTarget         `json:"Targets"`
	RequestedDateTime     awsTime             `json:"RequestedDateTime,omitzero"`
	Status                string              `json:"Status"`
	StatusDetails         string              `json:"StatusDetails"`
	OutputS3Region        string              `json:"OutputS3Region,omitempty"`
	OutputS3BucketName    string              `json:"OutputS3BucketName"`
	OutputS3KeyPrefix     string              `json:"OutputS3KeyPrefix"`
	MaxConcurrency        string              `json:"MaxConcurrency"`
	MaxErrors             string              `json:"MaxErrors"`
	TargetCount           int                 `json:"TargetCount"`
	CompletedCount        int                 `json:"CompletedCount"`
	ErrorCount            int                 `json:"ErrorCount"`
	DeliveryTimedOutCount int                 `json:"DeliveryTimedOutCount"`
	ServiceRole           string              `json:"ServiceRole,omitempty"`
	TimeoutSeconds        int                 `json:"TimeoutSeconds"`
	NotificationConfig    map[string]any      `json:"NotificationConfig"`
	CloudWatchOutputCfg   map[string]any      `json:"CloudWatchOutputConfig"`
}

func commandJSON(cmd *Command) commandOut {
	out := commandOut{
		CommandID: cmd.ID, DocumentName: cmd.DocumentName, DocumentVersion: cmd.DocumentVersion, Comment: cmd.Comment,
		ExpiresAfter: epochAt(cmd.RequestedAt.Add(time.Duration(cmd.TimeoutSeconds) * time.Second)), Parameters: cmd.Parameters,
		InstanceIDs: cmd.InstanceIDs, Targets: cmd.Targets, RequestedDateTime: epochAt(cmd.RequestedAt), Status: cmd.Status,
		StatusDetails: cmd.StatusDetails, OutputS3Region: cmd.OutputS3Region, OutputS3BucketName: cmd.OutputS3BucketName,
		OutputS3KeyPrefix: cmd.OutputS3KeyPrefix, MaxConcurrency: cmd.MaxConcurrency, MaxErrors: cmd.MaxErrors,
		TargetCount: len(cmd.Invocations), ServiceRole: cmd.ServiceRole, TimeoutSeconds: cmd.TimeoutSeconds,
		NotificationConfig:  map[string]any{"NotificationArn": "", "NotificationEvents": []string{}, "NotificationType": ""},
		CloudWatchOutputCfg: map[string]any{"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": false},
	}
	if out.Targets == nil {
		out.Targets = []ssmTarget{}
	}
	if out.OutputS3Region == "" {
		out.OutputS3Region = cmd.Region
	}
	for _, inv := range cmd.Invocations {
		if inv.terminal() {
			out.CompletedCount++
		}
		if inv.isError() {
			out.ErrorCount++
		}
		if inv.StatusDetails == "DeliveryTimedOut" {
			out.DeliveryTimedOutCount++
		}
	}
	return out
}

const (
	maxInvocationOutput = 24000 // GetCommandInvocation StandardOutputContent
	maxPluginOutput     = 2500  // ListCommandInvocations plugin Output
)

func truncateOutput(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

type pluginOut struct {
	Name                   string  `json:"Name"`
	Status                 string  `json:"Status"`
	StatusDetails          string  `json:"StatusDetails"`
	ResponseCode           int     `json:"ResponseCode"`
	ResponseStartDateTime  awsTime `json:"ResponseStartDateTime,omitzero"`
	ResponseFinishDateTime awsTime `json:"ResponseFinishDateTime,omitzero"`
	Output                 string  `json:"Output"`
	StandardOutputURL      string  `json:"StandardOutputUrl"`
	StandardErrorURL       string  `json:"StandardErrorUrl"`
	OutputS3Region         string  `json:"OutputS3Region"`
	OutputS3BucketName     string  `json:"OutputS3BucketName"`
	OutputS3KeyPrefix      string  `json:"OutputS3KeyPrefix"`
}

type invocationOut struct {
	CommandID          string         `json:"CommandId"`
	InstanceID         string         `json:"InstanceId"`
	InstanceName       string         `json:"InstanceName"`
	Comment            string         `json:"Comment"`
	DocumentName       string         `json:"DocumentName"`
	DocumentVersion    string         `json:"DocumentVersion"`
	RequestedDateTime  awsTime        `json:"RequestedDateTime,omitzero"`
	Status             string         `json:"Status"`
	StatusDetails      string         `json:"StatusDetails"`
	TraceOutput        string         `json:"TraceOutput"`
	StandardOutputURL  string         `json:"StandardOutputUrl"`
	StandardErrorURL   string         `json:"StandardErrorUrl"`
	CommandPlugins     []pluginOut    `json:"CommandPlugins"`
	ServiceRole        string         `json:"ServiceRole"`
	NotificationConfig map[string]any `json:"NotificationConfig"`
	CloudWatchOutput   map[string]any `json:"CloudWatchOutputConfig"`
}

// pluginOutput is stdout plus stderr as the console and the plugin Output
// field show them.
func pluginOutput(inv *Invocation) string {
	out := inv.Stdout
	if inv.Stderr != "" {
		out += "\n\n----------ERROR-------\n" + inv.Stderr
	}
	return out
}

func plugins(cmd *Command, inv *Invocation) []pluginOut {
	doc := lookupDocument(cmd.DocumentName)
	var out []pluginOut
	for _, name := range doc.Plugins {
		p := pluginOut{Name: name, Status: inv.Status, StatusDetails: inv.StatusDetails, ResponseCode: inv.ResponseCode,
			ResponseStartDateTime: epochAt(inv.StartedAt), ResponseFinishDateTime: epochAt(inv.FinishedAt),
			OutputS3Region: cmd.OutputS3Region, OutputS3BucketName: cmd.OutputS3BucketName, OutputS3KeyPrefix: cmd.OutputS3KeyPrefix}
		if p.OutputS3Region == "" {
			p.OutputS3Region = cmd.Region
		}
		if name == doc.Run {
			p.Output = truncateOutput(pluginOutput(inv), maxPluginOutput)
		} else if inv.terminal() && inv.Status != invCancelled {
			p.Status, p.StatusDetails, p.ResponseCode = invSuccess, invSuccess, 0
			p.Output = fmt.Sprintf("Step execution skipped due to unsatisfied preconditions: '\"StringEquals\": [platformType, %s]'. Step name: %s", strings.TrimPrefix(name, "Patch"), name)
		}
		out = append(out, p)
	}
	return out
}

func invocationJSON(cmd *Command, inv *Invocation, details bool) invocationOut {
	out := invocationOut{
		CommandID: cmd.ID, InstanceID: inv.InstanceID, InstanceName: inv.InstanceName, Comment: cmd.Comment,
		DocumentName: cmd.DocumentName, DocumentVersion: cmd.DocumentVersion, RequestedDateTime: epochAt(cmd.RequestedAt),
		Status: inv.Status, StatusDetails: inv.StatusDetails, ServiceRole: cmd.ServiceRole, CommandPlugins: []pluginOut{},
		NotificationConfig: map[string]any{"NotificationArn": "", "NotificationEvents": []string{}, "NotificationType": ""},
		CloudWatchOutput:   map[string]any{"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": false},
	}
	if details {
		out.CommandPlugins = plugins(cmd, inv)
	}
	return out
}

// ---- read actions -----------------------------------------------------

type commandFilter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// commandFilterMatch applies ListCommands/ListCommandInvocations filters.
func commandFilterMatch(cmd *Command, status string, filters []commandFilter) (bool, error) {
	for _, f := range filters {
		switch f.Key {
		case "InvokedAfter", "InvokedBefore":
			t, err := time.Parse(time.RFC3339, f.Value)
			if err != nil {
				return false, Errorf("InvalidFilterValue", "The filter value %q is not a valid timestamp (use 2024-01-31T00:00:00Z).", f.Value)
			}
			if f.Key == "InvokedAfter" && cmd.RequestedAt.Before(t) || f.Key == "InvokedBefore" && cmd.RequestedAt.After(t) {
				return false, nil
			}
		case "Status":
			switch f.Value {
			case "Pending", "InProgress", "Success", "Cancelled", "Failed", "TimedOut", "Cancelling", "Delayed":
			default:
				return false, Errorf("InvalidFilterValue", "The filter value %q is not a valid status.", f.Value)
			}
			if status != f.Value {
				return false, nil
			}
		case "ExecutionStage":
			switch f.Value {
			case "Executing":
				if cmd.terminal() {
					return false, nil
				}
			case "Complete":
				if !cmd.terminal() {
					return false, nil
				}
			default:
				return false, Errorf("InvalidFilterValue", "ExecutionStage must be Executing or Complete.")
			}
		case "DocumentName":
			if cmd.DocumentName != f.Value {
				return false, nil
			}
		default:
			return false, Errorf("InvalidFilterKey", "The filter key %q is not valid.", f.Key)
		}
	}
	return true, nil
}

// visibleCommands lists a scope's commands visible at now, newest first.
func visibleCommands(sc *SSMScope, now time.Time) []*Command {
	var out []*Command
	for i := len(sc.CommandOrder) - 1; i >= 0; i-- {
		cmd := sc.Commands[sc.CommandOrder[i]]
		if cmd != nil && !cmd.VisibleAt.After(now) {
			out = append(out, cmd)
		}
	}
	return out
}

var commandIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func findCommand(c *Call, id string) (*Command, error) {
	if !commandIDRE.MatchString(id) {
		return nil, Errorf("InvalidCommandId", "The command ID %q is not valid.", id)
	}
	cmd := c.ssm().Commands[id]
	if cmd == nil || cmd.VisibleAt.After(c.Now) {
		return nil, Errorf("InvalidCommandId", "The command ID %q is not valid.", id)
	}
	return cmd, nil
}

// listedCommands is what ListCommands and ListCommandInvocations look at:
// the command id names, or every visible command.
func listedCommands(c *Call, id string) ([]*Command, error) {
	if id == "" {
		return visibleCommands(c.ssm(), c.Now), nil
	}
	cmd, err := findCommand(c, id)
	if err != nil {
		return nil, err
	}
	return []*Command{cmd}, nil
}

func ssmListCommands(c *Call) (any, error) {
	var in struct {
		CommandID  string          `json:"CommandId"`
		InstanceID string          `json:"InstanceId"`
		MaxResults int             `json:"MaxResults"`
		NextToken  string          `json:"NextToken"`
		Filters    []commandFilter `json:"Filters"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	cmds, err := listedCommands(c, in.CommandID)
	if err != nil {
		return nil, err
	}
	var kept []*Command
	for _, cmd := range cmds {
		if in.InstanceID != "" {
			found := false
			for _, inv := range cmd.Invocations {
				found = found || inv.InstanceID == in.InstanceID
			}
			if !found {
				continue
			}
		}
		ok, err := commandFilterMatch(cmd, cmd.Status, in.Filters)
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, cmd)
		}
	}
	pg, next, err := ssmPage(kept, in.NextToken, in.MaxResults, 50, 50, "commands")
	if err != nil {
		return nil, err
	}
	return ssmList("Commands", pg, next, commandJSON), nil
}

func ssmListCommandInvocations(c *Call) (any, error) {
	var in struct {
		CommandID  string          `json:"CommandId"`
		InstanceID string          `json:"InstanceId"`
		MaxResults int             `json:"MaxResults"`
		NextToken  string          `json:"NextToken"`
		Filters    []commandFilter `json:"Filters"`
		Details    bool            `json:"Details"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	cmds, err := listedCommands(c, in.CommandID)
	if err != nil {
		return nil, err
	}
	type pair struct {
		cmd *Command
		inv *Invocation
	}
	var all []pair
	for _, cmd := range cmds {
		for _, inv := range cmd.Invocations {
			if in.InstanceID != "" && inv.InstanceID != in.InstanceID {
				continue
			}
			ok, err := commandFilterMatch(cmd, inv.Status, in.Filters)
			if err != nil {
				return nil, err
			}
			if ok {
				all = append(all, pair{cmd, inv})
			}
		}
	}
	pg, next, err := ssmPage(all, in.NextToken, in.MaxResults, 50, 50, "invocations:"+in.CommandID)
	if err != nil {
		return nil, err
	}
	return ssmList("CommandInvocations", pg, next, func(p pair) invocationOut {
		return invocationJSON(p.cmd, p.inv, in.Details)
	}), nil
}

func ssmGetCommandInvocation(c *Call) (any, error) {
	var in struct {
		CommandID  string `json:"CommandId"`
		InstanceID string `json:"InstanceId"`
		PluginName string `json:"PluginName"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if !commandIDRE.MatchString(in.CommandID) {
		return nil, Errorf("InvalidCommandId", "The command ID %q is not valid.", in.CommandID)
	}
	cmd := c.ssm().Commands[in.CommandID]
	if cmd == nil || cmd.VisibleAt.After(c.Now) {
		// AWS creates invocations asynchronously: a fresh command id reads
		// as "no such invocation", which the SDK waiter retries.
		return nil, Errorf("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation")
	}
	var inv *Invocation
	for _, x := range cmd.Invocations {
		if x.InstanceID == in.InstanceID {
			inv = x
		}
	}
	if inv == nil {
		if !strings.HasPrefix(in.InstanceID, "i-") && !strings.HasPrefix(in.InstanceID, "mi-") {
			return nil, Errorf("InvalidInstanceId", "Instance id %s is not valid.", in.InstanceID)
		}
		return nil, Errorf("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation")
	}
	doc := lookupDocument(cmd.DocumentName)
	plugin := doc.Run
	if in.PluginName != "" {
		if !ssmContains(doc.Plugins, in.PluginName) {
			return nil, Errorf("InvalidPluginName", "The plugin name %s is not valid for document %s.", in.PluginName, cmd.DocumentName)
		}
		plugin = in.PluginName
	}
	var ps pluginOut
	for _, p := range plugins(cmd, inv) {
		if p.Name == plugin {
			ps = p
		}
	}
	stdout, stderr := inv.Stdout, inv.Stderr
	if plugin != doc.Run {
		stdout, stderr = ps.Output, ""
	}
	elapsed := ""
	if !inv.StartedAt.IsZero() {
		end := inv.FinishedAt
		if end.IsZero() {
			end = c.Now
		}
		elapsed = fmt.Sprintf("PT%.3fS", end.Sub(inv.StartedAt).Seconds())
	}
	return map[string]any{
		"CommandId": cmd.ID, "InstanceId": inv.InstanceID, "Comment": cmd.Comment, "DocumentName": cmd.DocumentName,
		"DocumentVersion": cmd.DocumentVersion, "PluginName": plugin, "ResponseCode": ps.ResponseCode,
		"ExecutionStartDateTime": isoTime(inv.StartedAt), "ExecutionElapsedTime": elapsed,
		"ExecutionEndDateTime": isoTime(inv.FinishedAt), "Status": ps.Status, "StatusDetails": ps.StatusDetails,
		"StandardOutputContent": truncateOutput(stdout, maxInvocationOutput), "StandardOutputUrl": "",
		"StandardErrorContent": truncateOutput(stderr, maxInvocationOutput), "StandardErrorUrl": "",
		"CloudWatchOutputConfig": map[string]any{"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": false},
	}, nil
}

func ssmCancelCommand(c *Call) (any, error) {
	var in struct {
		CommandID   string   `json:"CommandId"`
		InstanceIDs []string `json:"InstanceIds"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	cmd, err := findCommand(c, in.CommandID)
	if err != nil {
		return nil, err
	}
	if cmd.terminal() {
		return nil, Errorf("InvalidCommandId", "The command %s has already completed and cannot be cancelled.", cmd.ID)
	}
	for _, id := range in.InstanceIDs {
		found := false
		for _, inv := range cmd.Invocations {
			found = found || inv.InstanceID == id
		}
		if !found {
			return nil, Errorf("InvalidInstanceId", "Instance %s is not a target of command %s.", id, cmd.ID)
		}
	}
	all := len(in.InstanceIDs) == 0
	for _, inv := range cmd.Invocations {
		if inv.terminal() || !(all || ssmContains(in.InstanceIDs, inv.InstanceID)) {
			continue
		}
		inv.Status, inv.StatusDetails, inv.FinishedAt = invCancelled, invCancelled, c.Now
		inv.Script, inv.TimesOut = nil, false
	}
	if all {
		cmd.CancelRequested = true
	}
	c.World.advanceCommand(cmd, c.Now)
	return nil, nil
}

// ---- DescribeInstanceInformation --------------------------------------

type instanceInfoOut struct {
	InstanceID       string  `json:"InstanceId"`
	PingStatus       string  `json:"PingStatus"`
	LastPingDateTime awsTime `json:"LastPingDateTime,omitzero"`
	AgentVersion     string  `json:"AgentVersion"`
	IsLatestVersion  bool    `json:"IsLatestVersion"`
	PlatformType     string  `json:"PlatformType"`
	PlatformName     string  `json:"PlatformName"`
	PlatformVersion  string  `json:"PlatformVersion"`
	IamRole          string  `json:"IamRole,omitempty"`
	RegistrationDate awsTime `json:"RegistrationDate,omitzero"`
	ResourceType     string  `json:"ResourceType"`
	IPAddress        string  `json:"IPAddress"`
	ComputerName     string  `json:"ComputerName"`
	SourceID         string  `json:"SourceId"`
	SourceType       string  `json:"SourceType"`
}

// agentVersion is the SSM agent version an instance runs.
func (w *World) agentVersion(inst *Instance) (string, bool) {
	v := inst.Content.Packages["amazon-ssm-agent"]
	if v == "" {
		v = w.Catalogue.Latest("amazon-ssm-agent", w.Catalogue.Start)
	}
	latest := w.Catalogue.Packages["amazon-ssm-agent"]
	isLatest := latest == nil || vercmp(v, latest.Versions[len(latest.Versions)-1].Version) >= 0
	ver, _ := splitVR(v)
	return ver, isLatest
}

func ssmDescribeInstanceInformation(c *Call) (any, error) {
	var in struct {
		InstanceInformationFilterList []struct {
			Key      string   `json:"key"`
			ValueSet []string `json:"valueSet"`
		} `json:"InstanceInformationFilterList"`
		Filters    []ssmFilter `json:"Filters"`
		MaxResults int         `json:"MaxResults"`
		NextToken  string      `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if len(in.InstanceInformationFilterList) > 0 && len(in.Filters) > 0 {
		return nil, errValidationException("You can use either InstanceInformationFilterList or Filters in a single request.")
	}
	if in.MaxResults != 0 && (in.MaxResults < 5 || in.MaxResults > 50) {
		return nil, errValidationException("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 5 and 50", in.MaxResults)
	}
	type filter struct {
		key    string
		values []string
	}
	var filters []filter
	for _, f := range in.InstanceInformationFilterList {
		if len(f.ValueSet) == 0 {
			return nil, Errorf("InvalidInstanceInformationFilterValue", "The filter %s has no values.", f.Key)
		}
		filters = append(filters, filter{f.Key, f.ValueSet})
	}
	for _, f := range in.Filters {
		if len(f.Values) == 0 {
			return nil, Errorf("InvalidInstanceInformationFilterValue", "The filter %s has no values.", f.Key)
		}
		filters = append(filters, filter{f.Key, f.Values})
	}
	var insts []*Instance
	for _, inst := range c.World.EC2.Instances {
		if inst.Account == c.Account && inst.Region == c.Region && !inst.VisibleAt.After(c.Now) && c.World.managedInstance(inst) {
			insts = append(insts, inst)
		}
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].ID < insts[j].ID })
	var kept []*Instance
	for _, inst := range insts {
		ok := true
		agent, _ := c.World.agentVersion(inst)
		for _, f := range filters {
			var have []string
			switch {
			case f.key == "InstanceIds":
				have = []string{inst.ID}
			case f.key == "AgentVersion":
				have = []string{agent}
			case f.key == "PingStatus":
				have = []string{pingStatus(inst)}
			case f.key == "PlatformTypes":
				have = []string{"Linux"}
			case f.key == "ResourceType":
				have = []string{"EC2Instance"}
			case f.key == "IamRole":
				have = []string{inst.IAMInstanceProfile}
			case f.key == "AssociationStatus" || f.key == "ActivationIds":
				have = nil
			case f.key == "tag-key":
				for k := range inst.Tags {
					have = append(have, k)
				}
			case strings.HasPrefix(f.key, "tag:"):
				if v, found := inst.Tags[f.key[4:]]; found {
					have = []string{v}
				}
			default:
				return nil, Errorf("InvalidInstanceInformationFilterValue", "The filter key %s is not valid.", f.key)
			}
			match := false
			for _, want := range f.values {
				for _, h := range have {
					if h == want {
						match = true
					}
				}
			}
			ok = ok && match
		}
		if ok {
			kept = append(kept, inst)
		}
	}
	pg, next, err := ssmPage(kept, in.NextToken, in.MaxResults, 50, 50, "instinfo")
	if err != nil {
		return nil, err
	}
	out := []instanceInfoOut{}
	for _, inst := range pg {
		agent, latest := c.World.agentVersion(inst)
		last := c.Now
		if inst.State != StateRunning {
			last = inst.StateSince
		}
		out = append(out, instanceInfoOut{
			InstanceID: inst.ID, PingStatus: pingStatus(inst), LastPingDateTime: epochAt(last), AgentVersion: agent,
			IsLatestVersion: latest, PlatformType: "Linux", PlatformName: "Amazon Linux", PlatformVersion: "2023",
			IamRole: inst.IAMInstanceProfile, RegistrationDate: epochAt(inst.LaunchTime), ResourceType: "EC2Instance",
			IPAddress: inst.PrivateIP, ComputerName: computerName(inst), SourceID: inst.ID, SourceType: "AWS::EC2::Instance",
		})
	}
	return ssmListOf("InstanceInformationList", out, next), nil
}
