package sandbox

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaintenanceWindow is an SSM maintenance window with its targets and
// tasks. It runs when the virtual clock passes a scheduled time.
type MaintenanceWindow struct {
	ID                       string          `json:"id"`
	Account                  string          `json:"account"`
	Region                   string          `json:"region"`
	Name                     string          `json:"name"`
	Description              string          `json:"description,omitempty"`
	Schedule                 string          `json:"schedule"`
	ScheduleTimezone         string          `json:"schedule_timezone,omitempty"`
	ScheduleOffset           int             `json:"schedule_offset,omitempty"`
	StartDate                string          `json:"start_date,omitempty"`
	EndDate                  string          `json:"end_date,omitempty"`
	Duration                 int             `json:"duration"`
	Cutoff                   int             `json:"cutoff"`
	AllowUnassociatedTargets bool            `json:"allow_unassociated_targets"`
	Enabled                  bool            `json:"enabled"`
	Created                  time.Time       `json:"created"`
	Modified                 time.Time       `json:"modified"`
	NextRun                  time.Time       `json:"next_run,omitzero"`
	Targets                  []*WindowTarget `json:"targets,omitempty"`
	Tasks                    []*WindowTask   `json:"tasks,omitempty"`
	Tags                     Tags            `json:"tags,omitempty"`
}

// WindowTarget is a registered target of a window.
type WindowTarget struct {
	ID               string      `json:"id"`
	ResourceType     string      `json:"resource_type"`
	Targets          []ssmTarget `json:"targets"`
	OwnerInformation string      `json:"owner_information,omitempty"`
	Name             string      `json:"name,omitempty"`
	Description      string      `json:"description,omitempty"`
}

// WindowTask is a registered task of a window.
type WindowTask struct {
	ID             string              `json:"id"`
	TaskArn        string              `json:"task_arn"`
	Type           string              `json:"type"`
	Targets        []ssmTarget         `json:"targets"`
	Priority       int                 `json:"priority"`
	MaxConcurrency string              `json:"max_concurrency,omitempty"`
	MaxErrors      string              `json:"max_errors,omitempty"`
	ServiceRoleArn string              `json:"service_role_arn,omitempty"`
	Name           string              `json:"name,omitempty"`
	Description    string              `json:"description,omitempty"`
	CutoffBehavior string              `json:"cutoff_behavior,omitempty"`
	Parameters     map[string][]string `json:"parameters,omitempty"` // RunCommand document parameters
	// TaskParams are the (deprecated) TaskParameters as given; Parameters
	// merges them with the RunCommand parameters.
	TaskParams     map[string][]string `json:"task_params,omitempty"`
	Comment        string              `json:"comment,omitempty"`
	TimeoutSeconds int                 `json:"timeout_seconds,omitempty"`
	RunCommand     map[string]any      `json:"run_command,omitempty"` // as given, echoed back
}

// WindowExecution is one run of a maintenance window.
type WindowExecution struct {
	ID            string                 `json:"id"`
	WindowID      string                 `json:"window_id"`
	Account       string                 `json:"account"`
	Region        string                 `json:"region"`
	Status        string                 `json:"status"`
	StatusDetails string                 `json:"status_details,omitempty"`
	Start         time.Time              `json:"start"`
	End           time.Time              `json:"end,omitzero"`
	Tasks         []*WindowTaskExecution `json:"tasks"`
}

// WindowTaskExecution is one task of a window execution; RUN_COMMAND tasks
// run as a command.
type WindowTaskExecution struct {
	ID            string    `json:"id"`
	TaskID        string    `json:"task_id"`
	TaskArn       string    `json:"task_arn"`
	Type          string    `json:"type"`
	Status        string    `json:"status"`
	StatusDetails string    `json:"status_details,omitempty"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end,omitzero"`
	CommandID     string    `json:"command_id,omitempty"`
	InvocationID  string    `json:"invocation_id,omitempty"`
	Parameters    string    `json:"parameters,omitempty"`
}

const (
	mwPending    = "PENDING"
	mwInProgress = "IN_PROGRESS"
	mwSuccess    = "SUCCESS"
	mwFailed     = "FAILED"
	mwTimedOut   = "TIMED_OUT"
	mwCancelled  = "CANCELLED"
	mwSkipped    = "SKIPPED_OVERLAPPING"
	// maxCatchUp bounds how many missed occurrences one tick runs.
	maxCatchUp = 500
)

func (s *Server) registerSSMWindows() {
	s.handle(svcSSM, "CreateMaintenanceWindow", ssmCreateMaintenanceWindow)
	s.handle(svcSSM, "GetMaintenanceWindow", ssmGetMaintenanceWindow)
	s.handle(svcSSM, "UpdateMaintenanceWindow", ssmUpdateMaintenanceWindow)
	s.handle(svcSSM, "DescribeMaintenanceWindows", ssmDescribeMaintenanceWindows)
	s.handle(svcSSM, "DeleteMaintenanceWindow", ssmDeleteMaintenanceWindow)
	s.handle(svcSSM, "RegisterTargetWithMaintenanceWindow", ssmRegisterTargetWithMaintenanceWindow)
	s.handle(svcSSM, "DeregisterTargetFromMaintenanceWindow", ssmDeregisterTargetFromMaintenanceWindow)
	s.handle(svcSSM, "DescribeMaintenanceWindowTargets", ssmDescribeMaintenanceWindowTargets)
	s.handle(svcSSM, "RegisterTaskWithMaintenanceWindow", ssmRegisterTaskWithMaintenanceWindow)
	s.handle(svcSSM, "DeregisterTaskFromMaintenanceWindow", ssmDeregisterTaskFromMaintenanceWindow)
	s.handle(svcSSM, "DescribeMaintenanceWindowTasks", ssmDescribeMaintenanceWindowTasks)
	s.handle(svcSSM, "GetMaintenanceWindowTask", ssmGetMaintenanceWindowTask)
	s.handle(svcSSM, "UpdateMaintenanceWindowTarget", ssmUpdateMaintenanceWindowTarget)
	s.handle(svcSSM, "UpdateMaintenanceWindowTask", ssmUpdateMaintenanceWindowTask)
	s.handle(svcSSM, "DescribeMaintenanceWindowExecutions", ssmDescribeMaintenanceWindowExecutions)
	s.handle(svcSSM, "GetMaintenanceWindowExecution", ssmGetMaintenanceWindowExecution)
	s.handle(svcSSM, "DescribeMaintenanceWindowExecutionTasks", ssmDescribeMaintenanceWindowExecutionTasks)
	s.handle(svcSSM, "DescribeMaintenanceWindowExecutionTaskInvocations", ssmDescribeMaintenanceWindowExecutionTaskInvocations)
}

// ---- scheduling -------------------------------------------------------

func (mw *MaintenanceWindow) schedule() *ssmSchedule {
	s, err := parseSSMSchedule(mw.Schedule, mw.ScheduleTimezone, mw.ScheduleOffset)
	if err != nil {
		return nil
	}
	return s
}

func parseMWDate(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// planNext computes the next run after t (respecting start and end dates).
func (mw *MaintenanceWindow) planNext(t time.Time) {
	mw.NextRun = time.Time{}
	if !mw.Enabled {
		return
	}
	sch := mw.schedule()
	if sch == nil {
		return
	}
	anchor := mw.Created
	if start := parseMWDate(mw.StartDate); !start.IsZero() {
		anchor = start
		if t.Before(start) {
			t = start.Add(-time.Nanosecond)
		}
	}
	next := sch.next(t, anchor)
	if end := parseMWDate(mw.EndDate); !end.IsZero() && !next.IsZero() && next.After(end) {
		return
	}
	mw.NextRun = next
}

// tickWindows runs every window whose next run has come.
func (w *World) tickWindows(now time.Time) {
	for _, key := range sortedKeys(w.SSM.Scopes) {
		sc := w.SSM.Scopes[key]
		for _, id := range sortedKeys(sc.Windows) {
			mw := sc.Windows[id]
			for n := 0; !mw.NextRun.IsZero() && !mw.NextRun.After(now); n++ {
				if n >= maxCatchUp {
					// Too far behind: the rest of the missed occurrences are dropped.
					mw.planNext(now)
					break
				}
				at := mw.NextRun
				w.runWindow(sc, mw, at)
				mw.planNext(at)
			}
		}
	}
}

// runWindow starts one execution of a window at t.
func (w *World) runWindow(sc *SSMScope, mw *MaintenanceWindow, t time.Time) {
	ex := &WindowExecution{ID: w.NewUUID(), WindowID: mw.ID, Account: mw.Account, Region: mw.Region, Status: mwInProgress, Start: t}
	sc.WindowExecutions[ex.ID] = ex
	for _, other := range sc.WindowExecutions {
		if other != ex && other.WindowID == mw.ID && (other.Status == mwInProgress || other.Status == mwPending) {
			w.advanceWindowExecution(sc, other, t)
			if other.Status == mwInProgress {
				ex.Status, ex.StatusDetails, ex.End = mwSkipped, "The previous execution of this maintenance window was still running.", t
				return
			}
		}
	}
	tasks := append([]*WindowTask(nil), mw.Tasks...)
	sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].Priority < tasks[j].Priority })
	if len(tasks) == 0 {
		ex.Status, ex.StatusDetails, ex.End = mwSuccess, "No tasks to run.", t
		return
	}
	for _, task := range tasks {
		te := &WindowTaskExecution{ID: w.NewUUID(), TaskID: task.ID, TaskArn: task.TaskArn, Type: task.Type, Status: mwInProgress, Start: t}
		ex.Tasks = append(ex.Tasks, te)
		if task.Type != "RUN_COMMAND" {
			te.Status, te.StatusDetails, te.End = mwFailed, "The sandbox runs RUN_COMMAND tasks only.", t
			continue
		}
		targets, err := mw.expandTargets(task.Targets)
		if err != nil {
			te.Status, te.StatusDetails, te.End = mwFailed, err.Error(), t
			continue
		}
		req := CommandRequest{DocumentName: task.TaskArn, Parameters: task.Parameters, Comment: task.Comment,
			TimeoutSeconds: task.TimeoutSeconds, MaxConcurrency: task.MaxConcurrency, MaxErrors: task.MaxErrors,
			ServiceRoleArn: task.ServiceRoleArn}
		if len(targets) == 0 {
			te.Status, te.StatusDetails, te.End = mwSuccess, "No targets to run the task on.", t
			continue
		}
		req.Targets = targets
		cmd, err := w.SendCommand(mw.Account, mw.Region, req, t)
		if err != nil {
			te.Status, te.StatusDetails, te.End = mwFailed, err.Error(), t
			continue
		}
		cmd.Source = "maintenance-window:" + ex.ID
		te.CommandID, te.InvocationID = cmd.ID, w.NewUUID()
		te.Parameters = "{\"comment\":\"" + task.Comment + "\",\"documentName\":\"" + task.TaskArn + "\"}"
	}
	w.advanceWindowExecution(sc, ex, t)
}

// expandTargets turns a task's targets (WindowTargetIds or InstanceIds)
// into command targets.
func (mw *MaintenanceWindow) expandTargets(targets []ssmTarget) ([]ssmTarget, error) {
	var out []ssmTarget
	for _, t := range targets {
		switch t.Key {
		case "WindowTargetIds":
			for _, id := range t.Values {
				found := false
				for _, wt := range mw.Targets {
					if wt.ID == id {
						found = true
						out = append(out, wt.Targets...)
					}
				}
				if !found {
					return nil, Errorf("DoesNotExistException", "Window target %s does not exist in window %s.", id, mw.ID)
				}
			}
		default:
			out = append(out, t)
		}
	}
	return out, nil
}

// tickWindowExecutions settles executions whose commands have finished.
func (w *World) tickWindowExecutions(now time.Time) {
	for _, key := range sortedKeys(w.SSM.Scopes) {
		sc := w.SSM.Scopes[key]
		for _, ex := range sc.WindowExecutions {
			if ex.Status == mwInProgress {
				w.advanceWindowExecution(sc, ex, now)
			}
		}
	}
}

func (w *World) advanceWindowExecution(sc *SSMScope, ex *WindowExecution, now time.Time) {
	done := true
	var end time.Time
	status := mwSuccess
	for _, te := range ex.Tasks {
		if te.Status == mwInProgress && te.CommandID != "" {
			cmd := sc.Commands[te.CommandID]
			if cmd == nil {
				te.Status, te.StatusDetails, te.End = mwFailed, "The command was lost.", now
			} else {
				w.advanceCommand(cmd, now)
				if cmd.terminal() {
					te.End = cmd.FinishedAt
					te.StatusDetails = cmd.StatusDetails
					switch cmd.Status {
					case invSuccess:
						te.Status = mwSuccess
					case invTimedOut:
						te.Status = mwTimedOut
					case invCancelled:
						te.Status = mwCancelled
					default:
						te.Status = mwFailed
					}
				}
			}
		}
		switch te.Status {
		case mwInProgress:
			done = false
		case mwSuccess:
		case mwTimedOut:
			if status == mwSuccess {
				status = mwTimedOut
			}
		default:
			status = mwFailed
		}
		if te.End.After(end) {
			end = te.End
		}
	}
	if done {
		ex.Status, ex.End = status, laterOf(end, ex.Start)
		if status != mwSuccess && ex.StatusDetails == "" {
			ex.StatusDetails = "One or more tasks in the orchestration failed."
		}
	}
}

// ---- actions ----------------------------------------------------------

var mwNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-.]{3,128}$`)

type mwInput struct {
	WindowID                 string   `json:"WindowId"`
	Name                     *string  `json:"Name"`
	Description              *string  `json:"Description"`
	StartDate                *string  `json:"StartDate"`
	EndDate                  *string  `json:"EndDate"`
	Schedule                 *string  `json:"Schedule"`
	ScheduleTimezone         *string  `json:"ScheduleTimezone"`
	ScheduleOffset           *int     `json:"ScheduleOffset"`
	Duration                 *int     `json:"Duration"`
	Cutoff                   *int     `json:"Cutoff"`
	AllowUnassociatedTargets *bool    `json:"AllowUnassociatedTargets"`
	Enabled                  *bool    `json:"Enabled"`
	Replace                  bool     `json:"Replace"`
	ClientToken              string   `json:"ClientToken"`
	Tags                     []ssmTag `json:"Tags"`
}

func applyMWInput(mw *MaintenanceWindow, in *mwInput) error {
	if in.Name != nil {
		if !mwNameRE.MatchString(*in.Name) {
			return errValidationException("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$", *in.Name)
		}
		mw.Name = *in.Name
	}
	if in.Description != nil {
		mw.Description = *in.Description
	}
	if in.StartDate != nil {
		if *in.StartDate != "" && parseMWDate(*in.StartDate).IsZero() {
			return errValidationException("StartDate %s is not an ISO-8601 date-time.", *in.StartDate)
		}
		mw.StartDate = *in.StartDate
	}
	if in.EndDate != nil {
		if *in.EndDate != "" && parseMWDate(*in.EndDate).IsZero() {
			return errValidationException("EndDate %s is not an ISO-8601 date-time.", *in.EndDate)
		}
		mw.EndDate = *in.EndDate
	}
	if in.Schedule != nil {
		mw.Schedule = *in.Schedule
	}
	if in.ScheduleTimezone != nil {
		mw.ScheduleTimezone = *in.ScheduleTimezone
	}
	if in.ScheduleOffset != nil {
		mw.ScheduleOffset = *in.ScheduleOffset
	}
	if in.Duration != nil {
		mw.Duration = *in.Duration
	}
	if in.Cutoff != nil {
		mw.Cutoff = *in.Cutoff
	}
	if in.AllowUnassociatedTargets != nil {
		mw.AllowUnassociatedTargets = *in.AllowUnassociatedTargets
	}
	if in.Enabled != nil {
		mw.Enabled = *in.Enabled
	}
	if _, err := parseSSMSchedule(mw.Schedule, mw.ScheduleTimezone, mw.ScheduleOffset); err != nil {
		return errValidationException("Invalid schedule %q: %v", mw.Schedule, err)
	}
	if mw.Duration < 1 || mw.Duration > 24 {
		return errValidationException("1 validation error detected: Value '%d' at 'duration' failed to satisfy constraint: Member must have value between 1 and 24", mw.Duration)
	}
	if mw.Cutoff < 0 || mw.Cutoff > 23 {
		return errValidationException("1 validation error detected: Value '%d' at 'cutoff' failed to satisfy constraint: Member must have value between 0 and 23", mw.Cutoff)
	}
	if mw.Cutoff >= mw.Duration {
		return errValidationException("The cutoff must be less than the duration.")
	}
	return nil
}

func ssmCreateMaintenanceWindow(c *Call) (any, error) {
	var in mwInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		ok   bool
		name string
	}{{in.Name != nil, "name"}, {in.Schedule != nil, "schedule"}, {in.Duration != nil, "duration"}, {in.Cutoff != nil, "cutoff"}, {in.AllowUnassociatedTargets != nil, "allowUnassociatedTargets"}} {
		if !f.ok {
			return nil, errValidationException("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", f.name)
		}
	}
	tags, err := validateTags(in.Tags)
	if err != nil {
		return nil, err
	}
	sc := c.ssm()
	mw := &MaintenanceWindow{ID: c.World.NewID("mw"), Account: c.Account, Region: c.Region, Enabled: true, Created: c.Now, Modified: c.Now, Tags: tags}
	if err := applyMWInput(mw, &in); err != nil {
		return nil, err
	}
	if len(sc.Windows) >= 50 {
		return nil, Errorf("ResourceLimitExceededException", "You can have at most 50 maintenance windows.")
	}
	mw.planNext(c.Now)
	sc.Windows[mw.ID] = mw
	return map[string]any{"WindowId": mw.ID}, nil
}

func findWindow(c *Call, id string) (*MaintenanceWindow, error) {
	mw := c.ssm().Windows[id]
	if mw == nil {
		return nil, Errorf("DoesNotExistException", "Maintenance window %s does not exist", id)
	}
	return mw, nil
}

func windowOut(mw *MaintenanceWindow, full bool) map[string]any {
	out := map[string]any{"WindowId": mw.ID, "Name": mw.Name, "Description": mw.Description, "Schedule": mw.Schedule,
		"Duration": mw.Duration, "Cutoff": mw.Cutoff, "Enabled": mw.Enabled}
	if mw.ScheduleTimezone != "" {
		out["ScheduleTimezone"] = mw.ScheduleTimezone
	}
	if mw.ScheduleOffset != 0 {
		out["ScheduleOffset"] = mw.ScheduleOffset
	}
	if mw.StartDate != "" {
		out["StartDate"] = mw.StartDate
	}
	if mw.EndDate != "" {
		out["EndDate"] = mw.EndDate
	}
	if !mw.NextRun.IsZero() {
		loc := time.UTC
		if sch := mw.schedule(); sch != nil {
			loc = sch.loc
		}
		out["NextExecutionTime"] = mw.NextRun.In(loc).Format("2006-01-02T15:04Z07:00")
	}
	if full {
		out["AllowUnassociatedTargets"] = mw.AllowUnassociatedTargets
		out["CreatedDate"], out["ModifiedDate"] = epochAt(mw.Created), epochAt(mw.Modified)
	}
	return out
}

func ssmGetMaintenanceWindow(c *Call) (any, error) {
	var in mwInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	return windowOut(mw, true), nil
}

func ssmUpdateMaintenanceWindow(c *Call) (any, error) {
	var in mwInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	cp := *mw
	if in.Replace {
		cp.Description, cp.StartDate, cp.EndDate, cp.ScheduleTimezone, cp.ScheduleOffset = "", "", "", "", 0
	}
	if err := applyMWInput(&cp, &in); err != nil {
		return nil, err
	}
	cp.Modified = c.Now
	*mw = cp
	mw.planNext(c.Now)
	out := windowOut(mw, true)
	delete(out, "NextExecutionTime")
	delete(out, "CreatedDate")
	delete(out, "ModifiedDate")
	return out, nil
}

func ssmDescribeMaintenanceWindows(c *Call) (any, error) {
	var in ssmListInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.MaxResults != 0 && (in.MaxResults < 10 || in.MaxResults > 100) {
		return nil, errValidationException("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 10 and 100", in.MaxResults)
	}
	sc := c.ssm()
	kept, err := ssmKeep(sortedValues(sc.Windows), in.Filters, func(mw *MaintenanceWindow, f ssmFilter) (bool, error) {
		switch f.Key {
		case "Name":
			return ssmContains(f.Values, mw.Name), nil
		case "Enabled":
			return ssmContains(f.Values, strconv.FormatBool(mw.Enabled)), nil
		}
		return false, errValidationException("Filter key %s is not valid. Valid keys: Name, Enabled.", f.Key)
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(kept, in.NextToken, in.MaxResults, 10, 100, "windows")
	if err != nil {
		return nil, err
	}
	return ssmList("WindowIdentities", pg, next, func(mw *MaintenanceWindow) map[string]any {
		return windowOut(mw, false)
	}), nil
}

func ssmDeleteMaintenanceWindow(c *Call) (any, error) {
	var in mwInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	sc := c.ssm()
	if _, err := findWindow(c, in.WindowID); err != nil {
		return nil, err
	}
	delete(sc.Windows, in.WindowID)
	return map[string]any{"WindowId": in.WindowID}, nil
}

func ssmRegisterTargetWithMaintenanceWindow(c *Call) (any, error) {
	var in struct {
		WindowID         string      `json:"WindowId"`
		ResourceType     string      `json:"ResourceType"`
		Targets          []ssmTarget `json:"Targets"`
		OwnerInformation string      `json:"OwnerInformation"`
		Name             string      `json:"Name"`
		Description      string      `json:"Description"`
		ClientToken      string      `json:"ClientToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	switch in.ResourceType {
	case "INSTANCE":
	case "RESOURCE_GROUP":
		return nil, errValidationException("RESOURCE_GROUP targets are not modelled by the sandbox.")
	default:
		return nil, errValidationException("1 validation error detected: Value '%s' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set: [INSTANCE, RESOURCE_GROUP]", in.ResourceType)
	}
	if len(in.Targets) == 0 {
		return nil, errValidationException("1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null")
	}
	for _, t := range in.Targets {
		if t.Key != "InstanceIds" && t.Key != "tag-key" && !strings.HasPrefix(t.Key, "tag:") {
			return nil, Errorf("InvalidTarget", "Target key %s is not valid for maintenance window targets.", t.Key)
		}
	}
	wt := &WindowTarget{ID: c.World.NewUUID(), ResourceType: in.ResourceType, Targets: in.Targets,
		OwnerInformation: in.OwnerInformation, Name: in.Name, Description: in.Description}
	mw.Targets = append(mw.Targets, wt)
	return map[string]any{"WindowTargetId": wt.ID}, nil
}

func ssmDeregisterTargetFromMaintenanceWindow(c *Call) (any, error) {
	var in struct {
		WindowID       string `json:"WindowId"`
		WindowTargetID string `json:"WindowTargetId"`
		Safe           bool   `json:"Safe"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	idx := -1
	for i, wt := range mw.Targets {
		if wt.ID == in.WindowTargetID {
			idx = i
		}
	}
	if idx < 0 {
		return nil, Errorf("DoesNotExistException", "Window target %s does not exist in window %s.", in.WindowTargetID, mw.ID)
	}
	if in.Safe {
		for _, task := range mw.Tasks {
			for _, t := range task.Targets {
				if t.Key == "WindowTargetIds" && ssmContains(t.Values, in.WindowTargetID) {
					return nil, Errorf("TargetInUseException", "Window target %s is referenced by task %s.", in.WindowTargetID, task.ID)
				}
			}
		}
	}
	mw.Targets = append(mw.Targets[:idx], mw.Targets[idx+1:]...)
	return map[string]any{"WindowId": mw.ID, "WindowTargetId": in.WindowTargetID}, nil
}

func ssmDescribeMaintenanceWindowTargets(c *Call) (any, error) {
	var in struct {
		WindowID   string      `json:"WindowId"`
		Filters    []ssmFilter `json:"Filters"`
		MaxResults int         `json:"MaxResults"`
		NextToken  string      `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	kept, err := ssmKeep(mw.Targets, in.Filters, func(wt *WindowTarget, f ssmFilter) (bool, error) {
		switch f.Key {
		case "WindowTargetId":
			return ssmContains(f.Values, wt.ID), nil
		case "OwnerInformation":
			return ssmContains(f.Values, wt.OwnerInformation), nil
		case "Type":
			return ssmContains(f.Values, wt.ResourceType), nil
		}
		return false, errValidationException("Filter key %s is not valid. Valid keys: Type, WindowTargetId, OwnerInformation.", f.Key)
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(kept, in.NextToken, in.MaxResults, 10, 100, "mwtargets:"+mw.ID)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, wt := range pg {
		out = append(out, map[string]any{"WindowId": mw.ID, "WindowTargetId": wt.ID, "ResourceType": wt.ResourceType,
			"Targets": wt.Targets, "OwnerInformation": wt.OwnerInformation, "Name": wt.Name, "Description": wt.Description})
	}
	return ssmListOf("Targets", out, next), nil
}

func ssmRegisterTaskWithMaintenanceWindow(c *Call) (any, error) {
	var in struct {
		WindowID                 string      `json:"WindowId"`
		Targets                  []ssmTarget `json:"Targets"`
		TaskArn                  string      `json:"TaskArn"`
		ServiceRoleArn           string      `json:"ServiceRoleArn"`
		TaskType                 string      `json:"TaskType"`
		TaskInvocationParameters *struct {
			RunCommand *struct {
				Comment         string              `json:"Comment"`
				DocumentVersion string              `json:"DocumentVersion"`
				Parameters      map[string][]string `json:"Parameters"`
				ServiceRoleArn  string              `json:"ServiceRoleArn"`
				TimeoutSeconds  int                 `json:"TimeoutSeconds"`
			} `json:"RunCommand"`
		} `json:"TaskInvocationParameters"`
		TaskParameters map[string]struct {
			Values []string `json:"Values"`
		} `json:"TaskParameters"`
		Priority       *int   `json:"Priority"`
		MaxConcurrency string `json:"MaxConcurrency"`
		MaxErrors      string `json:"MaxErrors"`
		Name           string `json:"Name"`
		Description    string `json:"Description"`
		ClientToken    string `json:"ClientToken"`
		CutoffBehavior string `json:"CutoffBehavior"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	switch in.TaskType {
	case "RUN_COMMAND", "AUTOMATION", "STEP_FUNCTIONS", "LAMBDA":
	default:
		return nil, errValidationException("1 validation error detected: Value '%s' at 'taskType' failed to satisfy constraint: Member must satisfy enum value set: [RUN_COMMAND, AUTOMATION, STEP_FUNCTIONS, LAMBDA]", in.TaskType)
	}
	if in.TaskArn == "" {
		return nil, errValidationException("1 validation error detected: Value null at 'taskArn' failed to satisfy constraint: Member must not be null")
	}
	task := &WindowTask{ID: c.World.NewUUID(), TaskArn: in.TaskArn, Type: in.TaskType, Targets: in.Targets, Priority: 1,
		MaxConcurrency: in.MaxConcurrency, MaxErrors: in.MaxErrors, ServiceRoleArn: in.ServiceRoleArn, Name: in.Name,
		Description: in.Description, CutoffBehavior: in.CutoffBehavior, Parameters: map[string][]string{}}
	if in.Priority != nil {
		if *in.Priority < 0 {
			return nil, errValidationException("Priority must be zero or more.")
		}
		task.Priority = *in.Priority
	}
	if task.CutoffBehavior == "" {
		task.CutoffBehavior = "CONTINUE_TASK"
	}
	if len(in.Targets) > 0 {
		if in.MaxConcurrency == "" || in.MaxErrors == "" {
			return nil, errValidationException("MaxConcurrency and MaxErrors are required for tasks with targets.")
		}
		if !maxConcurrencyRE.MatchString(in.MaxConcurrency) || !maxErrorsRE.MatchString(in.MaxErrors) {
			return nil, errValidationException("MaxConcurrency or MaxErrors is not valid.")
		}
		if _, err := mw.expandTargets(in.Targets); err != nil {
			return nil, err
		}
	}
	for k, v := range in.TaskParameters {
		task.Parameters[k] = v.Values
		if task.TaskParams == nil {
			task.TaskParams = map[string][]string{}
		}
		task.TaskParams[k] = v.Values
	}
	if tip := in.TaskInvocationParameters; tip != nil && tip.RunCommand != nil {
		rc := tip.RunCommand
		for k, v := range rc.Parameters {
			task.Parameters[k] = v
		}
		task.Comment, task.TimeoutSeconds = rc.Comment, rc.TimeoutSeconds
		task.RunCommand = map[string]any{"Comment": rc.Comment, "DocumentVersion": rc.DocumentVersion, "Parameters": rc.Parameters,
			"ServiceRoleArn": rc.ServiceRoleArn, "TimeoutSeconds": rc.TimeoutSeconds}
	}
	if in.TaskType == "RUN_COMMAND" {
		doc := lookupDocument(in.TaskArn)
		if doc == nil {
			return nil, Errorf("InvalidDocument", "Document with name %s does not exist.", in.TaskArn)
		}
		if _, err := validateDocParams(doc, task.Parameters); err != nil {
			return nil, err
		}
	}
	mw.Tasks = append(mw.Tasks, task)
	return map[string]any{"WindowTaskId": task.ID}, nil
}

func ssmDeregisterTaskFromMaintenanceWindow(c *Call) (any, error) {
	var in struct {
		WindowID     string `json:"WindowId"`
		WindowTaskID string `json:"WindowTaskId"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	for i, task := range mw.Tasks {
		if task.ID == in.WindowTaskID {
			mw.Tasks = append(mw.Tasks[:i], mw.Tasks[i+1:]...)
			return map[string]any{"WindowId": mw.ID, "WindowTaskId": in.WindowTaskID}, nil
		}
	}
	return nil, Errorf("DoesNotExistException", "Window task %s does not exist in window %s.", in.WindowTaskID, mw.ID)
}

func ssmDescribeMaintenanceWindowTasks(c *Call) (any, error) {
	var in struct {
		WindowID   string      `json:"WindowId"`
		Filters    []ssmFilter `json:"Filters"`
		MaxResults int         `json:"MaxResults"`
		NextToken  string      `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	kept, err := ssmKeep(mw.Tasks, in.Filters, func(task *WindowTask, f ssmFilter) (bool, error) {
		switch f.Key {
		case "WindowTaskId":
			return ssmContains(f.Values, task.ID), nil
		case "TaskArn":
			return ssmContains(f.Values, task.TaskArn), nil
		case "Type", "TaskType":
			return ssmContains(f.Values, task.Type), nil
		}
		return false, errValidationException("Filter key %s is not valid. Valid keys: WindowTaskId, TaskArn, Type.", f.Key)
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(kept, in.NextToken, in.MaxResults, 10, 100, "mwtasks:"+mw.ID)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, task := range pg {
		params := map[string]any{}
		for k, v := range task.Parameters {
			params[k] = map[string]any{"Values": v}
		}
		row := map[string]any{"WindowId": mw.ID, "WindowTaskId": task.ID, "TaskArn": task.TaskArn, "Type": task.Type,
			"Targets": task.Targets, "TaskParameters": params, "Priority": task.Priority, "ServiceRoleArn": task.ServiceRoleArn,
			"MaxConcurrency": task.MaxConcurrency, "MaxErrors": task.MaxErrors, "Name": task.Name, "Description": task.Description,
			"CutoffBehavior": task.CutoffBehavior}
		if row["Targets"] == nil {
			row["Targets"] = []ssmTarget{}
		}
		out = append(out, row)
	}
	return ssmListOf("Tasks", out, next), nil
}

func executionOut(ex *WindowExecution) map[string]any {
	out := map[string]any{"WindowId": ex.WindowID, "WindowExecutionId": ex.ID, "Status": ex.Status, "StartTime": epochAt(ex.Start)}
	if ex.StatusDetails != "" {
		out["StatusDetails"] = ex.StatusDetails
	}
	if !ex.End.IsZero() {
		out["EndTime"] = epochAt(ex.End)
	}
	return out
}

func ssmDescribeMaintenanceWindowExecutions(c *Call) (any, error) {
	var in struct {
		WindowID   string      `json:"WindowId"`
		Filters    []ssmFilter `json:"Filters"`
		MaxResults int         `json:"MaxResults"`
		NextToken  string      `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if _, err := findWindow(c, in.WindowID); err != nil {
		return nil, err
	}
	if in.MaxResults != 0 && (in.MaxResults < 10 || in.MaxResults > 100) {
		return nil, errValidationException("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 10 and 100", in.MaxResults)
	}
	var exs []*WindowExecution
	for _, ex := range c.ssm().WindowExecutions {
		if ex.WindowID != in.WindowID {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			if len(f.Values) != 1 {
				return nil, errValidationException("Filter %s takes one value.", f.Key)
			}
			t := parseMWDate(f.Values[0])
			if t.IsZero() {
				return nil, errValidationException("Filter %s value %s is not a date-time.", f.Key, f.Values[0])
			}
			switch f.Key {
			case "ExecutedBefore":
				ok = ok && ex.Start.Before(t)
			case "ExecutedAfter":
				ok = ok && !ex.Start.Before(t)
			default:
				return nil, errValidationException("Filter key %s is not valid. Valid keys: ExecutedBefore, ExecutedAfter.", f.Key)
			}
		}
		if ok {
			exs = append(exs, ex)
		}
	}
	sort.Slice(exs, func(i, j int) bool {
		if !exs[i].Start.Equal(exs[j].Start) {
			return exs[i].Start.After(exs[j].Start)
		}
		return exs[i].ID < exs[j].ID
	})
	pg, next, err := ssmPage(exs, in.NextToken, in.MaxResults, 50, 100, "mwexec:"+in.WindowID)
	if err != nil {
		return nil, err
	}
	return ssmList("WindowExecutions", pg, next, executionOut), nil
}

func findExecution(c *Call, id string) (*WindowExecution, error) {
	ex := c.ssm().WindowExecutions[id]
	if ex == nil {
		return nil, Errorf("DoesNotExistException", "Maintenance window execution %s does not exist", id)
	}
	return ex, nil
}

func ssmGetMaintenanceWindowExecution(c *Call) (any, error) {
	var in struct {
		WindowExecutionID string `json:"WindowExecutionId"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	ex, err := findExecution(c, in.WindowExecutionID)
	if err != nil {
		return nil, err
	}
	out := executionOut(ex)
	delete(out, "WindowId")
	ids := []string{}
	for _, te := range ex.Tasks {
		ids = append(ids, te.ID)
	}
	out["TaskIds"] = ids
	return out, nil
}

func taskExecutionOut(ex *WindowExecution, te *WindowTaskExecution) map[string]any {
	out := map[string]any{"WindowExecutionId": ex.ID, "TaskExecutionId": te.ID, "Status": te.Status, "StartTime": epochAt(te.Start),
		"TaskArn": te.TaskArn, "TaskType": te.Type}
	if te.StatusDetails != "" {
		out["StatusDetails"] = te.StatusDetails
	}
	if !te.End.IsZero() {
		out["EndTime"] = epochAt(te.End)
	}
	return out
}

func ssmDescribeMaintenanceWindowExecutionTasks(c *Call) (any, error) {
	var in struct {
		WindowExecutionID string `json:"WindowExecutionId"`
		MaxResults        int    `json:"MaxResults"`
		NextToken         string `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	ex, err := findExecution(c, in.WindowExecutionID)
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(ex.Tasks, in.NextToken, in.MaxResults, 10, 100, "mwexectasks:"+ex.ID)
	if err != nil {
		return nil, err
	}
	return ssmList("WindowExecutionTaskIdentities", pg, next, func(te *WindowTaskExecution) map[string]any {
		return taskExecutionOut(ex, te)
	}), nil
}

func ssmDescribeMaintenanceWindowExecutionTaskInvocations(c *Call) (any, error) {
	var in struct {
		WindowExecutionID string `json:"WindowExecutionId"`
		TaskID            string `json:"TaskId"`
		MaxResults        int    `json:"MaxResults"`
		NextToken         string `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	ex, err := findExecution(c, in.WindowExecutionID)
	if err != nil {
		return nil, err
	}
	var te *WindowTaskExecution
	for _, x := range ex.Tasks {
		if x.ID == in.TaskID {
			te = x
		}
	}
	if te == nil {
		return nil, Errorf("DoesNotExistException", "Task execution %s does not exist in %s", in.TaskID, ex.ID)
	}
	var rows []map[string]any
	if te.CommandID != "" {
		row := taskExecutionOut(ex, te)
		delete(row, "TaskArn")
		row["InvocationId"], row["ExecutionId"], row["Parameters"] = te.InvocationID, te.CommandID, te.Parameters
		rows = append(rows, row)
	}
	pg, next, err := ssmPage(rows, in.NextToken, in.MaxResults, 10, 100, "mwinv:"+te.ID)
	if err != nil {
		return nil, err
	}
	return ssmListOf("WindowExecutionTaskInvocationIdentities", pg, next), nil
}
