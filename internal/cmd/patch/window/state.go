package window

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/cmd/patch/applyflow"
)

// Actions and kinds of a change.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"

	KindWindow = "window"
	KindTarget = "target"
	KindTask   = "task"
)

// FieldChange is one field of an update (or of a create: Old is empty).
type FieldChange = applyflow.FieldChange

// Change is one step of the plan.
type Change struct {
	Action   string        `json:"action"`
	Kind     string        `json:"kind"`
	Window   string        `json:"window"`
	WindowID string        `json:"window_id,omitempty"`
	Name     string        `json:"name"`
	ID       string        `json:"id,omitempty"`
	Fleet    string        `json:"fleet,omitempty"`
	Fields   []FieldChange `json:"fields,omitempty"`
	Reason   string        `json:"reason,omitempty"`

	window *Window
	fleet  *Fleet
}

// Observe reads the project's windows: named with prefix and tagged
// amibake:project=project (a window someone else named alike is left
// alone), with the targets and tasks amibake names.
func Observe(ctx context.Context, api awsapi.SSMWindows, project string) ([]*Window, error) {
	prefix := Prefix(project)
	var out []*Window
	p := ssm.NewDescribeMaintenanceWindowsPaginator(api, &ssm.DescribeMaintenanceWindowsInput{MaxResults: aws.Int32(50)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe maintenance windows: %w", err)
		}
		for _, id := range page.WindowIdentities {
			if !strings.HasPrefix(aws.ToString(id.Name), prefix) {
				continue
			}
			tags, err := api.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingMaintenanceWindow,
				ResourceId: id.WindowId})
			if err != nil {
				return nil, fmt.Errorf("tags of maintenance window %s (%s): %w", aws.ToString(id.Name), aws.ToString(id.WindowId), err)
			}
			owned := false
			for _, t := range tags.TagList {
				owned = owned || aws.ToString(t.Key) == ProjectTag && aws.ToString(t.Value) == project
			}
			if !owned {
				continue
			}
			w := &Window{ID: aws.ToString(id.WindowId), Name: aws.ToString(id.Name), Schedule: aws.ToString(id.Schedule),
				Timezone: aws.ToString(id.ScheduleTimezone), Duration: int(aws.ToInt32(id.Duration)), Cutoff: int(id.Cutoff),
				Description: aws.ToString(id.Description), Enabled: id.Enabled}
			if err := observeFleets(ctx, api, w); err != nil {
				return nil, err
			}
			out = append(out, w)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func observeFleets(ctx context.Context, api awsapi.SSMWindows, w *Window) error {
	byFleet := map[string]*Fleet{}
	get := func(name string) *Fleet {
		if byFleet[name] == nil {
			byFleet[name] = &Fleet{Fleet: name}
		}
		return byFleet[name]
	}
	targets := ssm.NewDescribeMaintenanceWindowTargetsPaginator(api, &ssm.DescribeMaintenanceWindowTargetsInput{WindowId: aws.String(w.ID),
		MaxResults: aws.Int32(100)})
	for targets.HasMorePages() {
		page, err := targets.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("targets of maintenance window %s (%s): %w", w.Name, w.ID, err)
		}
		for _, t := range page.Targets {
			fleet, ok := strings.CutPrefix(aws.ToString(t.Name), "amibake-")
			if !ok || fleet == "" {
				continue
			}
			f := get(fleet)
			f.HasTarget, f.TargetID, f.TargetOwner = true, aws.ToString(t.WindowTargetId), aws.ToString(t.OwnerInformation)
			f.Targets = nil
			for _, st := range t.Targets {
				f.Targets = append(f.Targets, Target{Key: aws.ToString(st.Key), Values: st.Values})
			}
		}
	}
	tasks := ssm.NewDescribeMaintenanceWindowTasksPaginator(api, &ssm.DescribeMaintenanceWindowTasksInput{WindowId: aws.String(w.ID),
		MaxResults: aws.Int32(100)})
	for tasks.HasMorePages() {
		page, err := tasks.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("tasks of maintenance window %s (%s): %w", w.Name, w.ID, err)
		}
		for _, t := range page.Tasks {
			name := aws.ToString(t.Name)
			fleet, ok := strings.CutSuffix(strings.TrimPrefix(name, "amibake-"), "-patch")
			if !ok || !strings.HasPrefix(name, "amibake-") || fleet == "" {
				continue
			}
			// The task's RunCommand parameters are only in GetMaintenanceWindowTask.
			got, err := api.GetMaintenanceWindowTask(ctx, &ssm.GetMaintenanceWindowTaskInput{WindowId: aws.String(w.ID), WindowTaskId: t.WindowTaskId})
			if err != nil {
				return fmt.Errorf("task %s of maintenance window %s: %w", name, w.Name, err)
			}
			f := get(fleet)
			f.HasTask, f.TaskID, f.TaskDocument = true, aws.ToString(got.WindowTaskId), aws.ToString(got.TaskArn)
			f.MaxConcurrency, f.MaxErrors = aws.ToString(got.MaxConcurrency), aws.ToString(got.MaxErrors)
			f.TaskPriority, f.TaskCutoff = int(got.Priority), string(got.CutoffBehavior)
			f.TaskTargetIDs = nil
			for _, st := range got.Targets {
				if aws.ToString(st.Key) == "WindowTargetIds" {
					f.TaskTargetIDs = append(f.TaskTargetIDs, st.Values...)
				}
			}
			f.TaskParams = nil
			if tip := got.TaskInvocationParameters; tip != nil && tip.RunCommand != nil {
				f.TaskParams = tip.RunCommand.Parameters
			}
		}
	}
	for _, name := range sortedKeys(byFleet) {
		w.Fleets = append(w.Fleets, byFleet[name])
	}
	return nil
}

// Diff compares desired and current windows. A desired window with no
// current one of its name takes over a stale current window that serves
// the same fleets (a fleet's window moved): it is updated in place, so its
// execution history stays.
func Diff(desired, current []*Window) []Change {
	byName := map[string]*Window{}
	for _, c := range current {
		if byName[c.Name] == nil {
			byName[c.Name] = c
		}
	}
	used := map[*Window]bool{}
	match := map[*Window]*Window{}
	for _, d := range desired {
		if c := byName[d.Name]; c != nil {
			match[d], used[c] = c, true
		}
	}
	for _, d := range desired {
		if match[d] != nil {
			continue
		}
		for _, c := range current {
			if !used[c] && slices.Equal(c.fleetNames(), d.fleetNames()) {
				match[d], used[c] = c, true
				break
			}
		}
	}
	changes := []Change{}
	for _, d := range desired {
		c := match[d]
		if c == nil {
			changes = append(changes, Change{Action: ActionCreate, Kind: KindWindow, Window: d.Name, Name: d.Name,
				Fields: fields(nil, windowFields(d)), window: d})
			for _, f := range d.Fleets {
				changes = append(changes,
					Change{Action: ActionCreate, Kind: KindTarget, Window: d.Name, Name: TargetName(f.Fleet), Fleet: f.Fleet,
						Fields: fields(nil, targetFields(f)), window: d, fleet: f},
					Change{Action: ActionCreate, Kind: KindTask, Window: d.Name, Name: TaskName(f.Fleet), Fleet: f.Fleet,
						Fields: fields(nil, taskFields(f, nil)), window: d, fleet: f})
			}
			continue
		}
		d.ID = c.ID
		if fs := fields(windowFields(c), windowFields(d)); len(fs) > 0 {
			changes = append(changes, Change{Action: ActionUpdate, Kind: KindWindow, Window: d.Name, WindowID: c.ID, Name: d.Name,
				Fields: fs, window: d})
		}
		want := map[string]*Fleet{}
		for _, f := range d.Fleets {
			want[f.Fleet] = f
		}
		for _, cf := range c.Fleets {
			if want[cf.Fleet] != nil {
				continue
			}
			reason := "fleet " + cf.Fleet + " no longer uses this window"
			if cf.HasTask {
				changes = append(changes, Change{Action: ActionDelete, Kind: KindTask, Window: d.Name, WindowID: c.ID, Name: TaskName(cf.Fleet),
					ID: cf.TaskID, Fleet: cf.Fleet, Reason: reason, window: d})
			}
			if cf.HasTarget {
				changes = append(changes, Change{Action: ActionDelete, Kind: KindTarget, Window: d.Name, WindowID: c.ID, Name: TargetName(cf.Fleet),
					ID: cf.TargetID, Fleet: cf.Fleet, Reason: reason, window: d})
			}
		}
		cur := map[string]*Fleet{}
		for _, cf := range c.Fleets {
			cur[cf.Fleet] = cf
		}
		for _, f := range d.Fleets {
			cf := cur[f.Fleet]
			if cf == nil {
				cf = &Fleet{Fleet: f.Fleet}
			}
			f.TargetID, f.TaskID = cf.TargetID, cf.TaskID
			tc := Change{Kind: KindTarget, Window: d.Name, WindowID: c.ID, Name: TargetName(f.Fleet), ID: cf.TargetID, Fleet: f.Fleet, window: d, fleet: f}
			switch {
			case !cf.HasTarget:
				tc.Action, tc.Fields = ActionCreate, fields(nil, targetFields(f))
				changes = append(changes, tc)
			default:
				if fs := fields(targetFields(cf), targetFields(f)); len(fs) > 0 {
					tc.Action, tc.Fields = ActionUpdate, fs
					changes = append(changes, tc)
				}
			}
			kc := Change{Kind: KindTask, Window: d.Name, WindowID: c.ID, Name: TaskName(f.Fleet), ID: cf.TaskID, Fleet: f.Fleet, window: d, fleet: f}
			switch {
			case !cf.HasTask:
				kc.Action, kc.Fields = ActionCreate, fields(nil, taskFields(f, nil))
				changes = append(changes, kc)
			default:
				if fs := fields(taskFields(cf, cf), taskFields(f, nil)); len(fs) > 0 {
					kc.Action, kc.Fields = ActionUpdate, fs
					changes = append(changes, kc)
				}
			}
		}
	}
	for _, c := range current {
		if !used[c] {
			changes = append(changes, Change{Action: ActionDelete, Kind: KindWindow, Window: c.Name, WindowID: c.ID, Name: c.Name,
				Reason: "no in-place fleet's maintenance_window wants it"})
		}
	}
	return changes
}

type field struct{ name, value string }

func fields(cur, want []field) []FieldChange {
	var out []FieldChange
	for i, w := range want {
		old := ""
		if cur != nil {
			old = cur[i].value
		}
		if old != w.value {
			out = append(out, FieldChange{Field: w.name, Old: old, New: w.value})
		}
	}
	return out
}

func windowFields(w *Window) []field {
	return []field{{"name", w.Name}, {"schedule", w.Schedule}, {"timezone", w.Timezone}, {"duration", hours(w.Duration)},
		{"cutoff", hours(w.Cutoff)}, {"enabled", strconv.FormatBool(w.Enabled)}, {"description", w.Description}}
}

func hours(n int) string { return strconv.Itoa(n) + "h" }

func targetFields(f *Fleet) []field {
	owner := f.TargetOwner
	if !f.HasTarget && f.TargetOwner == "" {
		owner = FleetOwner + f.Fleet
	}
	return []field{{"targets", applyflow.FormatTargets(f.Targets)}, {"owner_information", owner}}
}

// taskFields: cur is the observed fleet (nil for the desired one, whose
// values are what amibake registers).
func taskFields(f, cur *Fleet) []field {
	doc, target, params, priority, cutoff := PatchDocument, TargetName(f.Fleet), applyflow.FormatParams(desiredParams(f)), strconv.Itoa(taskPriority), CutoffBehavior
	if cur != nil {
		doc, params, priority, cutoff = cur.TaskDocument, applyflow.FormatParams(cur.TaskParams), strconv.Itoa(cur.TaskPriority), cur.TaskCutoff
		target = "WindowTargetIds=" + strings.Join(cur.TaskTargetIDs, ",")
		if cur.HasTarget && slices.Equal(cur.TaskTargetIDs, []string{cur.TargetID}) {
			target = TargetName(f.Fleet)
		}
	}
	return []field{{"document", doc}, {"targets", target}, {"parameters", params}, {"max_concurrency", f.MaxConcurrency},
		{"max_errors", f.MaxErrors}, {"priority", priority}, {"cutoff_behavior", cutoff}}
}

func desiredParams(f *Fleet) map[string][]string {
	return map[string][]string{"Operation": {"Install"}, "RebootOption": {f.RebootOption}}
}

// Apply makes the changes in order: a window before its targets, a target
// before the task that runs on it, a task before the target it ran on.
func Apply(ctx context.Context, api awsapi.SSMWindows, project string, changes []Change) error {
	windowID := map[string]string{}
	targetID := map[string]string{} // window name + "/" + fleet
	for _, ch := range changes {
		if ch.WindowID != "" {
			windowID[ch.Window] = ch.WindowID
		}
		if ch.fleet != nil && ch.fleet.TargetID != "" {
			targetID[ch.Window+"/"+ch.Fleet] = ch.fleet.TargetID
		}
	}
	for _, ch := range changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := applyOne(ctx, api, project, ch, windowID, targetID); err != nil {
			return err
		}
	}
	return nil
}

func applyOne(ctx context.Context, api awsapi.SSMWindows, project string, ch Change, windowID, targetID map[string]string) error {
	wid := aws.String(windowID[ch.Window])
	d, f := ch.window, ch.fleet
	switch {
	case ch.Kind == KindWindow && ch.Action == ActionCreate:
		out, err := api.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String(d.Name), Schedule: aws.String(d.Schedule),
			ScheduleTimezone: aws.String(d.Timezone), Duration: aws.Int32(int32(d.Duration)), Cutoff: int32(d.Cutoff),
			Description: aws.String(d.Description), AllowUnassociatedTargets: false,
			Tags: []ssmtypes.Tag{{Key: aws.String(ProjectTag), Value: aws.String(project)}}})
		if err != nil {
			return fmt.Errorf("create maintenance window %s: %w", d.Name, err)
		}
		windowID[ch.Window] = aws.ToString(out.WindowId)
	case ch.Kind == KindWindow && ch.Action == ActionUpdate:
		if _, err := api.UpdateMaintenanceWindow(ctx, &ssm.UpdateMaintenanceWindowInput{WindowId: wid, Name: aws.String(d.Name),
			Schedule: aws.String(d.Schedule), ScheduleTimezone: aws.String(d.Timezone), Duration: aws.Int32(int32(d.Duration)),
			Cutoff: aws.Int32(int32(d.Cutoff)), Description: aws.String(d.Description), Enabled: aws.Bool(true),
			AllowUnassociatedTargets: aws.Bool(false)}); err != nil {
			return fmt.Errorf("update maintenance window %s (%s): %w", d.Name, *wid, err)
		}
	case ch.Kind == KindWindow:
		if _, err := api.DeleteMaintenanceWindow(ctx, &ssm.DeleteMaintenanceWindowInput{WindowId: aws.String(ch.WindowID)}); err != nil {
			return fmt.Errorf("delete maintenance window %s (%s): %w", ch.Name, ch.WindowID, err)
		}
	case ch.Kind == KindTarget && ch.Action == ActionCreate:
		out, err := api.RegisterTargetWithMaintenanceWindow(ctx, &ssm.RegisterTargetWithMaintenanceWindowInput{WindowId: wid,
			ResourceType: ssmtypes.MaintenanceWindowResourceTypeInstance, Targets: sdkTargets(f.Targets), Name: aws.String(ch.Name),
			OwnerInformation: aws.String(FleetOwner + f.Fleet), Description: aws.String("instances of fleet " + f.Fleet)})
		if err != nil {
			return fmt.Errorf("register target %s with maintenance window %s: %w", ch.Name, ch.Window, err)
		}
		targetID[ch.Window+"/"+ch.Fleet] = aws.ToString(out.WindowTargetId)
	case ch.Kind == KindTarget && ch.Action == ActionUpdate:
		// Replace: every member is sent, so what someone added by hand goes.
		if _, err := api.UpdateMaintenanceWindowTarget(ctx, &ssm.UpdateMaintenanceWindowTargetInput{WindowId: wid, WindowTargetId: aws.String(ch.ID),
			Targets: sdkTargets(f.Targets), Name: aws.String(ch.Name), OwnerInformation: aws.String(FleetOwner + f.Fleet),
			Description: aws.String("instances of fleet " + f.Fleet), Replace: aws.Bool(true)}); err != nil {
			return fmt.Errorf("update target %s (%s) of maintenance window %s: %w", ch.Name, ch.ID, ch.Window, err)
		}
	case ch.Kind == KindTarget:
		if _, err := api.DeregisterTargetFromMaintenanceWindow(ctx, &ssm.DeregisterTargetFromMaintenanceWindowInput{WindowId: wid,
			WindowTargetId: aws.String(ch.ID)}); err != nil {
			return fmt.Errorf("deregister target %s (%s) from maintenance window %s: %w", ch.Name, ch.ID, ch.Window, err)
		}
	case ch.Kind == KindTask && ch.Action == ActionDelete:
		if _, err := api.DeregisterTaskFromMaintenanceWindow(ctx, &ssm.DeregisterTaskFromMaintenanceWindowInput{WindowId: wid,
			WindowTaskId: aws.String(ch.ID)}); err != nil {
			return fmt.Errorf("deregister task %s (%s) from maintenance window %s: %w", ch.Name, ch.ID, ch.Window, err)
		}
	case ch.Kind == KindTask:
		tid := targetID[ch.Window+"/"+ch.Fleet]
		if tid == "" {
			return fmt.Errorf("task %s of maintenance window %s: fleet %s has no registered target", ch.Name, ch.Window, ch.Fleet)
		}
		targets := []ssmtypes.Target{{Key: aws.String("WindowTargetIds"), Values: []string{tid}}}
		tip := &ssmtypes.MaintenanceWindowTaskInvocationParameters{RunCommand: &ssmtypes.MaintenanceWindowRunCommandParameters{
			Parameters: desiredParams(f), Comment: aws.String("amibake patch window: fleet " + f.Fleet)}}
		desc := aws.String("AWS-RunPatchBaseline Install on fleet " + f.Fleet)
		if ch.Action == ActionCreate {
			if _, err := api.RegisterTaskWithMaintenanceWindow(ctx, &ssm.RegisterTaskWithMaintenanceWindowInput{WindowId: wid,
				TaskArn: aws.String(PatchDocument), TaskType: ssmtypes.MaintenanceWindowTaskType(TaskType), Targets: targets,
				MaxConcurrency: aws.String(f.MaxConcurrency), MaxErrors: aws.String(f.MaxErrors), Priority: aws.Int32(taskPriority),
				Name: aws.String(ch.Name), Description: desc, CutoffBehavior: ssmtypes.MaintenanceWindowTaskCutoffBehavior(CutoffBehavior),
				TaskInvocationParameters: tip}); err != nil {
				return fmt.Errorf("register task %s with maintenance window %s: %w", ch.Name, ch.Window, err)
			}
			return nil
		}
		if _, err := api.UpdateMaintenanceWindowTask(ctx, &ssm.UpdateMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: aws.String(ch.ID),
			TaskArn: aws.String(PatchDocument), Targets: targets, MaxConcurrency: aws.String(f.MaxConcurrency), MaxErrors: aws.String(f.MaxErrors),
			Priority: aws.Int32(taskPriority), Name: aws.String(ch.Name), Description: desc,
			CutoffBehavior: ssmtypes.MaintenanceWindowTaskCutoffBehavior(CutoffBehavior), TaskInvocationParameters: tip,
			Replace: aws.Bool(true)}); err != nil {
			return fmt.Errorf("update task %s (%s) of maintenance window %s: %w", ch.Name, ch.ID, ch.Window, err)
		}
	}
	return nil
}

func sdkTargets(ts []Target) []ssmtypes.Target {
	out := make([]ssmtypes.Target, 0, len(ts))
	for _, t := range ts {
		out = append(out, ssmtypes.Target{Key: aws.String(t.Key), Values: t.Values})
	}
	return out
}
