package sandbox

import (
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"
)

// State Manager associations (issue 10). An association binds a document
// (AWS-RunPatchBaseline, AWS-GatherSoftwareInventory, AWS-RunShellScript)
// to targets on a schedule (cron/rate, the maintenance-window parser). On
// the virtual clock a due association runs: AWS-RunPatchBaseline and
// AWS-RunShellScript become a SendCommand with the association's targets,
// parameters and rate control (so patch states and compliance appear);
// AWS-GatherSoftwareInventory succeeds on every resolved target at once,
// since the sandbox derives inventory from instance content. Each new
// association and each new version run once right away unless
// ApplyOnlyAtCronInterval is set.
//
// The state lives beside the World (keyed by it, dropped with it) rather
// than in it: it is not part of the persisted state file.

// Association is one State Manager association.
type Association struct {
	ID                      string              `json:"id"`
	Account                 string              `json:"account"`
	Region                  string              `json:"region"`
	Name                    string              `json:"name"` // document
	AssociationName         string              `json:"association_name,omitempty"`
	Version                 int                 `json:"version"`
	DocumentVersion         string              `json:"document_version"`
	Parameters              map[string][]string `json:"parameters,omitempty"`
	Targets                 []ssmTarget         `json:"targets"`
	ScheduleExpression      string              `json:"schedule_expression,omitempty"`
	ScheduleOffset          int                 `json:"schedule_offset,omitempty"`
	MaxConcurrency          string              `json:"max_concurrency,omitempty"`
	MaxErrors               string              `json:"max_errors,omitempty"`
	ComplianceSeverity      string              `json:"compliance_severity,omitempty"`
	SyncCompliance          string              `json:"sync_compliance,omitempty"`
	ApplyOnlyAtCronInterval bool                `json:"apply_only_at_cron_interval,omitempty"`
	Created                 time.Time           `json:"created"`
	Updated                 time.Time           `json:"updated"`
	LastExecution           time.Time           `json:"last_execution,omitzero"`
	LastSuccess             time.Time           `json:"last_success,omitzero"`
	NextRun                 time.Time           `json:"next_run,omitzero"`
	RunNow                  bool                `json:"run_now,omitempty"`
	Executions              []*AssociationExecution
}

// AssociationExecution is one run of an association.
type AssociationExecution struct {
	ID             string
	Version        int
	Status         string // Pending, InProgress, Success, Failed
	DetailedStatus string
	Created        time.Time
	CommandID      string
	Counts         map[string]int // target status → count
}

type assocScope struct {
	assocs map[string]*Association
	order  []string
}

type assocWorld struct {
	scopes map[string]*assocScope // "account/region"
}

var (
	assocMu     sync.Mutex
	assocWorlds = map[weak.Pointer[World]]*assocWorld{}
)

// associations returns the association state of a world (created on first
// use, dropped when the world is collected). Callers hold the server lock.
func (w *World) associations() *assocWorld {
	key := weak.Make(w)
	assocMu.Lock()
	defer assocMu.Unlock()
	aw := assocWorlds[key]
	if aw == nil {
		aw = &assocWorld{scopes: map[string]*assocScope{}}
		assocWorlds[key] = aw
		runtime.AddCleanup(w, func(k weak.Pointer[World]) {
			assocMu.Lock()
			delete(assocWorlds, k)
			assocMu.Unlock()
		}, key)
	}
	return aw
}

func (w *World) assocScope(account, region string) *assocScope {
	aw := w.associations()
	key := account + "/" + region
	sc := aw.scopes[key]
	if sc == nil {
		sc = &assocScope{assocs: map[string]*Association{}}
		aw.scopes[key] = sc
	}
	return sc
}

// Associations lists the associations of an account in a region (tests).
func (w *World) Associations(account, region string) []*Association {
	sc := w.assocScope(account, region)
	out := make([]*Association, 0, len(sc.order))
	for _, id := range sc.order {
		out = append(out, sc.assocs[id])
	}
	return out
}

func (s *Server) registerSSMAssociations() {
	s.addTicker(func(w *World, now time.Time) { w.tickAssociations(now) })
	s.handle(svcSSM, "CreateAssociation", ssmCreateAssociation)
	s.handle(svcSSM, "UpdateAssociation", ssmUpdateAssociation)
	s.handle(svcSSM, "DescribeAssociation", ssmDescribeAssociation)
	s.handle(svcSSM, "ListAssociations", ssmListAssociations)
	s.handle(svcSSM, "DeleteAssociation", ssmDeleteAssociation)
	s.handle(svcSSM, "DescribeAssociationExecutions", ssmDescribeAssociationExecutions)
}

// docGatherInventory is the inventory document; its parameters are
// accepted as AWS lists them and otherwise ignored.
const docGatherInventory = "AWS-GatherSoftwareInventory"

var assocNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-.]{3,128}$`)

var gatherInventoryParams = []string{"applications", "awsComponents", "files", "networkConfig", "windowsUpdates",
	"instanceDetailedInformation", "services", "windowsRegistry", "windowsRoles", "customInventory", "billingInfo"}

// ---- scheduling -------------------------------------------------------

func (a *Association) schedule() *ssmSchedule {
	if a.ScheduleExpression == "" {
		return nil
	}
	s, err := parseSSMSchedule(a.ScheduleExpression, "", a.ScheduleOffset)
	if err != nil {
		return nil
	}
	return s
}

func (a *Association) planNext(t time.Time) {
	a.NextRun = time.Time{}
	if s := a.schedule(); s != nil {
		a.NextRun = s.next(t, a.Updated)
	}
}

func validateAssocSchedule(expr string, offset int, onlyAtCron bool) error {
	if expr == "" {
		if onlyAtCron {
			return errValidationException("ApplyOnlyAtCronInterval requires a ScheduleExpression.")
		}
		if offset != 0 {
			return errValidationException("ScheduleOffset requires a cron ScheduleExpression.")
		}
		return nil
	}
	if strings.HasPrefix(strings.TrimSpace(expr), "at(") {
		return Errorf("InvalidSchedule", "Schedule expression %s is not valid for an association.", expr)
	}
	s, err := parseSSMSchedule(expr, "", offset)
	if err != nil {
		return Errorf("InvalidSchedule", "Schedule expression %s is not valid: %v", expr, err)
	}
	if s.kind == "rate" {
		if s.every < 30*time.Minute {
			return Errorf("InvalidSchedule", "Schedule expression %s is not valid: the minimum rate is 30 minutes.", expr)
		}
		if onlyAtCron {
			return errValidationException("ApplyOnlyAtCronInterval is not supported with rate expressions.")
		}
	}
	return nil
}

// tickAssociations runs every association that is due.
func (w *World) tickAssociations(now time.Time) {
	aw := w.associations()
	for _, key := range sortedKeys(aw.scopes) {
		sc := aw.scopes[key]
		for _, id := range sc.order {
			a := sc.assocs[id]
			if a.RunNow {
				a.RunNow = false
				w.runAssociation(a, a.Updated)
			}
			for n := 0; !a.NextRun.IsZero() && !a.NextRun.After(now); n++ {
				if n >= maxCatchUp {
					a.planNext(now)
					break
				}
				at := a.NextRun
				w.runAssociation(a, at)
				a.planNext(at)
			}
			for _, ex := range a.Executions {
				w.advanceAssocExecution(a, ex, now)
			}
		}
	}
}

// runAssociation starts one execution at t.
func (w *World) runAssociation(a *Association, t time.Time) {
	ex := &AssociationExecution{ID: w.NewUUID(), Version: a.Version, Status: "Pending", Created: t, Counts: map[string]int{}}
	a.Executions = append(a.Executions, ex)
	a.LastExecution = t
	if a.Name == docGatherInventory {
		insts, err := w.resolveTargets(a.Account, a.Region, a.Targets, t)
		if err != nil {
			ex.Status, ex.DetailedStatus = "Failed", err.Error()
			return
		}
		if len(insts) > 0 {
			ex.Counts["Success"] = len(insts)
		}
		ex.Status, ex.DetailedStatus = "Success", "Success"
		a.LastSuccess = t
		return
	}
	params := map[string][]string{}
	for k, v := range a.Parameters {
		params[k] = v
	}
	if a.Name == "AWS-RunPatchBaseline" {
		params["AssociationId"] = []string{a.ID}
	}
	req := CommandRequest{DocumentName: a.Name, Parameters: params, Targets: a.Targets,
		MaxConcurrency: a.MaxConcurrency, MaxErrors: a.MaxErrors, Comment: "association " + a.ID}
	insts, err := w.resolveTargets(a.Account, a.Region, a.Targets, t)
	if err == nil && len(insts) == 0 {
		ex.Status, ex.DetailedStatus = "Success", "No targets"
		a.LastSuccess = t
		return
	}
	cmd, err := w.SendCommand(a.Account, a.Region, req, t)
	if err != nil {
		ex.Status, ex.DetailedStatus = "Failed", err.Error()
		return
	}
	cmd.Source = "association:" + a.ID
	ex.CommandID, ex.Status = cmd.ID, "InProgress"
	w.advanceAssocExecution(a, ex, t)
}

// advanceAssocExecution follows the execution's command.
func (w *World) advanceAssocExecution(a *Association, ex *AssociationExecution, now time.Time) {
	if ex.CommandID == "" || ex.Status == "Success" || ex.Status == "Failed" {
		return
	}
	cmd := w.ssmScope(a.Account, a.Region).Commands[ex.CommandID]
	if cmd == nil {
		ex.Status, ex.DetailedStatus = "Failed", "command vanished"
		return
	}
	w.advanceCommand(cmd, now)
	counts := map[string]int{}
	for _, inv := range cmd.Invocations {
		counts[inv.Status]++
	}
	ex.Counts = counts
	if !cmd.terminal() {
		ex.Status = "InProgress"
		return
	}
	if cmd.Status == "Success" {
		ex.Status, ex.DetailedStatus = "Success", "Success"
		if ex.Created.After(a.LastSuccess) {
			a.LastSuccess = ex.Created
		}
		return
	}
	ex.Status, ex.DetailedStatus = "Failed", cmd.StatusDetails
}

// ---- input ------------------------------------------------------------

type assocInput struct {
	AssociationId           string              `json:"AssociationId"`
	AssociationVersion      string              `json:"AssociationVersion"`
	Name                    *string             `json:"Name"`
	InstanceId              string              `json:"InstanceId"`
	DocumentVersion         *string             `json:"DocumentVersion"`
	Parameters              map[string][]string `json:"Parameters"`
	Targets                 []ssmTarget         `json:"Targets"`
	ScheduleExpression      *string             `json:"ScheduleExpression"`
	ScheduleOffset          *int                `json:"ScheduleOffset"`
	AssociationName         *string             `json:"AssociationName"`
	MaxErrors               *string             `json:"MaxErrors"`
	MaxConcurrency          *string             `json:"MaxConcurrency"`
	ComplianceSeverity      *string             `json:"ComplianceSeverity"`
	SyncCompliance          *string             `json:"SyncCompliance"`
	ApplyOnlyAtCronInterval *bool               `json:"ApplyOnlyAtCronInterval"`
}

var complianceSeverities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED"}

// checkAssocDocument validates the document and its parameters, filling
// defaults as SendCommand would.
func checkAssocDocument(name string, params map[string][]string) (map[string][]string, error) {
	if name == docGatherInventory || strings.HasSuffix(name, ":document/"+docGatherInventory) {
		out := map[string][]string{}
		for k, v := range params {
			if !ssmContains(gatherInventoryParams, k) {
				return nil, Errorf("InvalidParameters", "Parameter %q is not defined in document %s.", k, docGatherInventory)
			}
			out[k] = append([]string(nil), v...)
		}
		return out, nil
	}
	doc := lookupDocument(name)
	if doc == nil {
		return nil, Errorf("InvalidDocument", "Document with name %s does not exist.", name)
	}
	// Keep only what was given: DescribeAssociation echoes the request.
	if _, err := validateDocParams(doc, params); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for k, v := range params {
		out[k] = append([]string(nil), v...)
	}
	return out, nil
}

func docName(name string) string {
	if i := strings.LastIndex(name, ":document/"); i >= 0 {
		return name[i+len(":document/"):]
	}
	return name
}

func validateAssocTargets(in []ssmTarget, instanceID string) ([]ssmTarget, error) {
	if instanceID != "" {
		if len(in) > 0 {
			return nil, errValidationException("Specify either InstanceId or Targets, not both.")
		}
		return []ssmTarget{{Key: "InstanceIds", Values: []string{instanceID}}}, nil
	}
	if len(in) == 0 {
		return nil, errValidationException("Targets must be specified.")
	}
	if len(in) > 5 {
		return nil, errValidationException("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length less than or equal to 5")
	}
	for _, t := range in {
		if len(t.Values) == 0 {
			return nil, Errorf("InvalidTarget", "Target %s has no values", t.Key)
		}
		if t.Key != "InstanceIds" && t.Key != "tag-key" && !strings.HasPrefix(t.Key, "tag:") {
			return nil, Errorf("InvalidTarget", "Target key %s is not valid", t.Key)
		}
	}
	return append([]ssmTarget(nil), in...), nil
}

func validateRateControl(mc, me string) error {
	if mc != "" && !maxConcurrencyRE.MatchString(mc) {
		return errValidationException("1 validation error detected: Value '%s' at 'maxConcurrency' failed to satisfy constraint", mc)
	}
	if me != "" && !maxErrorsRE.MatchString(me) {
		return errValidationException("1 validation error detected: Value '%s' at 'maxErrors' failed to satisfy constraint", me)
	}
	return nil
}

// ---- handlers ---------------------------------------------------------

func ssmCreateAssociation(c *Call) (any, error) {
	var in assocInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.Name == nil || *in.Name == "" {
		return nil, errValidationException("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	name := docName(*in.Name)
	params, err := checkAssocDocument(name, in.Parameters)
	if err != nil {
		return nil, err
	}
	targets, err := validateAssocTargets(in.Targets, in.InstanceId)
	if err != nil {
		return nil, err
	}
	a := &Association{Account: c.Account, Region: c.Region, Name: name, Version: 1, DocumentVersion: "$DEFAULT",
		Parameters: params, Targets: targets, Created: c.Now, Updated: c.Now}
	if err := applyAssocInput(a, &in); err != nil {
		return nil, err
	}
	sc := c.World.assocScope(c.Account, c.Region)
	for _, id := range sc.order {
		o := sc.assocs[id]
		if o.Name == a.Name && reflect.DeepEqual(o.Targets, a.Targets) && reflect.DeepEqual(o.Parameters, a.Parameters) &&
			o.AssociationName == a.AssociationName && o.ScheduleExpression == a.ScheduleExpression {
			return nil, Errorf("AssociationAlreadyExists", "The specified association already exists.")
		}
	}
	if len(sc.order) >= 2000 {
		return nil, Errorf("AssociationLimitExceeded", "You can have at most 2,000 associations.")
	}
	a.ID = c.World.NewUUID()
	a.RunNow = !a.ApplyOnlyAtCronInterval
	a.planNext(c.Now)
	sc.assocs[a.ID] = a
	sc.order = append(sc.order, a.ID)
	return map[string]any{"AssociationDescription": assocDescription(a)}, nil
}

// applyAssocInput copies the optional members that were given.
func applyAssocInput(a *Association, in *assocInput) error {
	if in.DocumentVersion != nil {
		switch *in.DocumentVersion {
		case "$DEFAULT", "$LATEST", "1":
			a.DocumentVersion = *in.DocumentVersion
		default:
			return Errorf("InvalidDocumentVersion", "Document %s has no version %s.", a.Name, *in.DocumentVersion)
		}
	}
	if in.AssociationName != nil {
		if !assocNameRE.MatchString(*in.AssociationName) {
			return errValidationException("AssociationName must match ^[a-zA-Z0-9_\\-.]{3,128}$")
		}
		a.AssociationName = *in.AssociationName
	}
	if in.ScheduleExpression != nil {
		a.ScheduleExpression = *in.ScheduleExpression
	}
	if in.ScheduleOffset != nil {
		a.ScheduleOffset = *in.ScheduleOffset
	}
	if in.ApplyOnlyAtCronInterval != nil {
		a.ApplyOnlyAtCronInterval = *in.ApplyOnlyAtCronInterval
	}
	if err := validateAssocSchedule(a.ScheduleExpression, a.ScheduleOffset, a.ApplyOnlyAtCronInterval); err != nil {
		return err
	}
	if in.MaxConcurrency != nil {
		a.MaxConcurrency = *in.MaxConcurrency
	}
	if in.MaxErrors != nil {
		a.MaxErrors = *in.MaxErrors
	}
	if err := validateRateControl(a.MaxConcurrency, a.MaxErrors); err != nil {
		return err
	}
	if in.ComplianceSeverity != nil {
		if !ssmContains(complianceSeverities, *in.ComplianceSeverity) {
			return errValidationException("ComplianceSeverity must be one of %v", complianceSeverities)
		}
		a.ComplianceSeverity = *in.ComplianceSeverity
	}
	if in.SyncCompliance != nil {
		if *in.SyncCompliance != "AUTO" && *in.SyncCompliance != "MANUAL" {
			return errValidationException("SyncCompliance must be AUTO or MANUAL")
		}
		a.SyncCompliance = *in.SyncCompliance
	}
	return nil
}

func findAssociation(c *Call, id string) (*Association, error) {
	if id == "" {
		return nil, errValidationException("1 validation error detected: Value null at 'associationId' failed to satisfy constraint: Member must not be null")
	}
	a := c.World.assocScope(c.Account, c.Region).assocs[id]
	if a == nil {
		return nil, Errorf("AssociationDoesNotExist", "The specified association does not exist.")
	}
	return a, nil
}

func ssmUpdateAssociation(c *Call) (any, error) {
	var in assocInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	a, err := findAssociation(c, in.AssociationId)
	if err != nil {
		return nil, err
	}
	if in.AssociationVersion != "" && in.AssociationVersion != "$LATEST" && in.AssociationVersion != strconv.Itoa(a.Version) {
		return nil, Errorf("InvalidAssociationVersion", "Association version %s is not the latest version %d.", in.AssociationVersion, a.Version)
	}
	// As on AWS, UpdateAssociation overwrites the optional members that are
	// not given with nothing ("You must specify all optional parameters in
	// the call, even if you are not changing the parameters"); the sandbox
	// keeps the document and the targets when they are left out.
	next := *a
	if in.Name != nil && *in.Name != "" {
		next.Name = docName(*in.Name)
	}
	next.Parameters = in.Parameters
	next.AssociationName, next.ScheduleExpression, next.ScheduleOffset = "", "", 0
	next.MaxConcurrency, next.MaxErrors, next.ComplianceSeverity, next.SyncCompliance = "", "", "", ""
	next.ApplyOnlyAtCronInterval = false
	if next.Parameters, err = checkAssocDocument(next.Name, next.Parameters); err != nil {
		return nil, err
	}
	if in.Targets != nil {
		if next.Targets, err = validateAssocTargets(in.Targets, ""); err != nil {
			return nil, err
		}
	}
	if err := applyAssocInput(&next, &in); err != nil {
		return nil, err
	}
	if next.Version >= 1000 {
		return nil, Errorf("AssociationVersionLimitExceeded", "You have reached the maximum number of versions allowed for an association.")
	}
	next.Version++
	next.Updated = c.Now
	next.RunNow = !next.ApplyOnlyAtCronInterval
	next.planNext(c.Now)
	*a = next
	return map[string]any{"AssociationDescription": assocDescription(a)}, nil
}

func ssmDescribeAssociation(c *Call) (any, error) {
	var in assocInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.AssociationId == "" && in.Name != nil && in.InstanceId != "" {
		sc := c.World.assocScope(c.Account, c.Region)
		for _, id := range sc.order {
			a := sc.assocs[id]
			if a.Name == docName(*in.Name) && len(a.Targets) == 1 && a.Targets[0].Key == "InstanceIds" && ssmContains(a.Targets[0].Values, in.InstanceId) {
				return map[string]any{"AssociationDescription": assocDescription(a)}, nil
			}
		}
		return nil, Errorf("AssociationDoesNotExist", "The specified association does not exist.")
	}
	a, err := findAssociation(c, in.AssociationId)
	if err != nil {
		return nil, err
	}
	if in.AssociationVersion != "" && in.AssociationVersion != "$LATEST" && in.AssociationVersion != strconv.Itoa(a.Version) {
		return nil, Errorf("InvalidAssociationVersion", "The sandbox keeps only the latest version (%d) of an association.", a.Version)
	}
	return map[string]any{"AssociationDescription": assocDescription(a)}, nil
}

func ssmDeleteAssociation(c *Call) (any, error) {
	var in assocInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	a, err := findAssociation(c, in.AssociationId)
	if err != nil {
		return nil, err
	}
	sc := c.World.assocScope(c.Account, c.Region)
	delete(sc.assocs, a.ID)
	for i, id := range sc.order {
		if id == a.ID {
			sc.order = append(sc.order[:i:i], sc.order[i+1:]...)
			break
		}
	}
	return map[string]any{}, nil
}

type assocFilter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func ssmListAssociations(c *Call) (any, error) {
	var in struct {
		AssociationFilterList []assocFilter `json:"AssociationFilterList"`
		MaxResults            int           `json:"MaxResults"`
		NextToken             string        `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	var match []func(*Association) bool
	for _, f := range in.AssociationFilterList {
		v := f.Value
		switch f.Key {
		case "Name":
			match = append(match, func(a *Association) bool { return a.Name == docName(v) })
		case "AssociationName":
			match = append(match, func(a *Association) bool { return a.AssociationName == v })
		case "AssociationId":
			match = append(match, func(a *Association) bool { return a.ID == v })
		case "InstanceId":
			match = append(match, func(a *Association) bool {
				for _, t := range a.Targets {
					if t.Key == "InstanceIds" && ssmContains(t.Values, v) {
						return true
					}
				}
				return false
			})
		case "AssociationStatusName":
			match = append(match, func(a *Association) bool { return assocStatus(a) == v })
		case "LastExecutedBefore", "LastExecutedAfter":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, errValidationException("Filter %s needs an RFC 3339 time", f.Key)
			}
			before := f.Key == "LastExecutedBefore"
			match = append(match, func(a *Association) bool {
				if a.LastExecution.IsZero() {
					return false
				}
				if before {
					return a.LastExecution.Before(t)
				}
				return a.LastExecution.After(t)
			})
		default:
			return nil, errValidationException("Filter key %s is not valid", f.Key)
		}
	}
	sc := c.World.assocScope(c.Account, c.Region)
	var items []map[string]any
	for _, id := range sc.order {
		a := sc.assocs[id]
		ok := true
		for _, m := range match {
			ok = ok && m(a)
		}
		if ok {
			items = append(items, assocSummary(a))
		}
	}
	page, next, err := ssmPage(items, in.NextToken, in.MaxResults, 50, 50, "associations")
	if err != nil {
		return nil, err
	}
	return ssmListOf("Associations", page, next), nil
}

func ssmDescribeAssociationExecutions(c *Call) (any, error) {
	var in struct {
		AssociationId string `json:"AssociationId"`
		MaxResults    int    `json:"MaxResults"`
		NextToken     string `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	a, err := findAssociation(c, in.AssociationId)
	if err != nil {
		return nil, err
	}
	var items []map[string]any
	for i := len(a.Executions) - 1; i >= 0; i-- {
		ex := a.Executions[i]
		var counts []string
		for _, k := range sortedKeys(ex.Counts) {
			counts = append(counts, fmt.Sprintf("%s=%d", k, ex.Counts[k]))
		}
		item := map[string]any{"AssociationId": a.ID, "AssociationVersion": strconv.Itoa(ex.Version), "ExecutionId": ex.ID,
			"Status": ex.Status, "DetailedStatus": ex.DetailedStatus, "CreatedTime": epochAt(ex.Created),
			"ResourceCountByStatus": strings.Join(counts, ",")}
		items = append(items, item)
	}
	page, next, err := ssmPage(items, in.NextToken, in.MaxResults, 50, 50, "association-executions:"+a.ID)
	if err != nil {
		return nil, err
	}
	return ssmListOf("AssociationExecutions", page, next), nil
}

// ---- output -----------------------------------------------------------

// assocStatus is the association's overall status: Pending until it has run,
// then its last execution's Success or Failed.
func assocStatus(a *Association) string {
	if len(a.Executions) == 0 {
		return "Pending"
	}
	switch ex := a.Executions[len(a.Executions)-1]; ex.Status {
	case "Success", "Failed":
		return ex.Status
	}
	return "Pending"
}

func assocOverview(a *Association) map[string]any {
	st := assocStatus(a)
	counts := map[string]int32{}
	if n := len(a.Executions); n > 0 {
		for k, v := range a.Executions[n-1].Counts {
			counts[k] = int32(v)
		}
	}
	return map[string]any{"Status": st, "DetailedStatus": st, "AssociationStatusAggregatedCount": counts}
}

func assocTargets(a *Association) []ssmTarget {
	out := append([]ssmTarget(nil), a.Targets...)
	return out
}

func assocSummary(a *Association) map[string]any {
	m := map[string]any{"Name": a.Name, "AssociationId": a.ID, "AssociationVersion": strconv.Itoa(a.Version),
		"DocumentVersion": a.DocumentVersion, "Targets": assocTargets(a), "Overview": assocOverview(a)}
	if a.AssociationName != "" {
		m["AssociationName"] = a.AssociationName
	}
	if a.ScheduleExpression != "" {
		m["ScheduleExpression"] = a.ScheduleExpression
	}
	if a.ScheduleOffset != 0 {
		m["ScheduleOffset"] = a.ScheduleOffset
	}
	if !a.LastExecution.IsZero() {
		m["LastExecutionDate"] = epochAt(a.LastExecution)
	}
	return m
}

func assocDescription(a *Association) map[string]any {
	m := assocSummary(a)
	m["Date"] = epochAt(a.Created)
	m["LastUpdateAssociationDate"] = epochAt(a.Updated)
	m["Status"] = map[string]any{"Date": epochAt(a.Updated), "Name": assocStatus(a), "Message": assocStatus(a)}
	params := map[string][]string{}
	for _, k := range sortedKeys(a.Parameters) {
		params[k] = a.Parameters[k]
	}
	m["Parameters"] = params
	m["ApplyOnlyAtCronInterval"] = a.ApplyOnlyAtCronInterval
	for k, v := range map[string]string{"MaxConcurrency": a.MaxConcurrency, "MaxErrors": a.MaxErrors,
		"ComplianceSeverity": a.ComplianceSeverity, "SyncCompliance": a.SyncCompliance} {
		if v != "" {
			m[k] = v
		}
	}
	if !a.LastSuccess.IsZero() {
		m["LastSuccessfulExecutionDate"] = epochAt(a.LastSuccess)
	}
	return m
}
