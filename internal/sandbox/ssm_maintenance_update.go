package sandbox

import "maps"

// GetMaintenanceWindowTask and the two in-place updates of a window's
// targets and tasks. Both updates follow SSM's Replace rule: without it,
// only the members given change; with it, every optional member not given
// is cleared (and the members RegisterTaskWithMaintenanceWindow requires
// are required).

type mwRunCommandIn struct {
	Comment         *string             `json:"Comment"`
	DocumentVersion *string             `json:"DocumentVersion"`
	Parameters      map[string][]string `json:"Parameters"`
	ServiceRoleArn  *string             `json:"ServiceRoleArn"`
	TimeoutSeconds  *int                `json:"TimeoutSeconds"`
}

func ssmGetMaintenanceWindowTask(c *Call) (any, error) {
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
	task := findWindowTask(mw, in.WindowTaskID)
	if task == nil {
		return nil, Errorf("DoesNotExistException", "Window task %s does not exist in window %s.", in.WindowTaskID, mw.ID)
	}
	return windowTaskOut(mw, task), nil
}

func findWindowTask(mw *MaintenanceWindow, id string) *WindowTask {
	for _, task := range mw.Tasks {
		if task.ID == id {
			return task
		}
	}
	return nil
}

func windowTaskOut(mw *MaintenanceWindow, task *WindowTask) map[string]any {
	out := map[string]any{"WindowId": mw.ID, "WindowTaskId": task.ID, "TaskArn": task.TaskArn, "TaskType": task.Type,
		"Priority": task.Priority, "CutoffBehavior": task.CutoffBehavior}
	if len(task.Targets) > 0 {
		out["Targets"] = task.Targets
	}
	for k, v := range map[string]string{"MaxConcurrency": task.MaxConcurrency, "MaxErrors": task.MaxErrors,
		"ServiceRoleArn": task.ServiceRoleArn, "Name": task.Name, "Description": task.Description} {
		if v != "" {
			out[k] = v
		}
	}
	if len(task.TaskParams) > 0 {
		params := map[string]any{}
		for k, v := range task.TaskParams {
			params[k] = map[string]any{"Values": v}
		}
		out["TaskParameters"] = params
	}
	if task.RunCommand != nil {
		rc := map[string]any{}
		for k, v := range task.RunCommand {
			switch x := v.(type) {
			case string:
				if x != "" {
					rc[k] = x
				}
			case int:
				if x != 0 {
					rc[k] = x
				}
			case map[string][]string:
				if len(x) > 0 {
					rc[k] = x
				}
			}
		}
		out["TaskInvocationParameters"] = map[string]any{"RunCommand": rc}
	}
	return out
}

func ssmUpdateMaintenanceWindowTarget(c *Call) (any, error) {
	var in struct {
		WindowID         string      `json:"WindowId"`
		WindowTargetID   string      `json:"WindowTargetId"`
		Targets          []ssmTarget `json:"Targets"`
		OwnerInformation *string     `json:"OwnerInformation"`
		Name             *string     `json:"Name"`
		Description      *string     `json:"Description"`
		Replace          bool        `json:"Replace"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	var wt *WindowTarget
	for _, x := range mw.Targets {
		if x.ID == in.WindowTargetID {
			wt = x
		}
	}
	if wt == nil {
		return nil, Errorf("DoesNotExistException", "Window target %s does not exist in window %s.", in.WindowTargetID, mw.ID)
	}
	cp := *wt
	if in.Replace {
		if len(in.Targets) == 0 {
			return nil, errValidationException("Targets is required when Replace is true.")
		}
		cp.OwnerInformation, cp.Name, cp.Description = "", "", ""
	}
	if len(in.Targets) > 0 {
		for _, t := range in.Targets {
			if t.Key != "InstanceIds" && t.Key != "tag-key" && !isTagKey(t.Key) {
				return nil, Errorf("InvalidTarget", "Target key %s is not valid for maintenance window targets.", t.Key)
			}
		}
		cp.Targets = in.Targets
	}
	if in.OwnerInformation != nil {
		cp.OwnerInformation = *in.OwnerInformation
	}
	if in.Name != nil {
		if *in.Name != "" && !mwNameRE.MatchString(*in.Name) {
			return nil, errValidationException("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$", *in.Name)
		}
		cp.Name = *in.Name
	}
	if in.Description != nil {
		cp.Description = *in.Description
	}
	*wt = cp
	return map[string]any{"WindowId": mw.ID, "WindowTargetId": wt.ID, "Targets": wt.Targets, "OwnerInformation": wt.OwnerInformation,
		"Name": wt.Name, "Description": wt.Description}, nil
}

func isTagKey(k string) bool { return len(k) > 4 && k[:4] == "tag:" }

func ssmUpdateMaintenanceWindowTask(c *Call) (any, error) {
	var in struct {
		WindowID                 string      `json:"WindowId"`
		WindowTaskID             string      `json:"WindowTaskId"`
		Targets                  []ssmTarget `json:"Targets"`
		TaskArn                  *string     `json:"TaskArn"`
		ServiceRoleArn           *string     `json:"ServiceRoleArn"`
		TaskInvocationParameters *struct {
			RunCommand *mwRunCommandIn `json:"RunCommand"`
		} `json:"TaskInvocationParameters"`
		TaskParameters map[string]struct {
			Values []string `json:"Values"`
		} `json:"TaskParameters"`
		Priority       *int    `json:"Priority"`
		MaxConcurrency *string `json:"MaxConcurrency"`
		MaxErrors      *string `json:"MaxErrors"`
		Name           *string `json:"Name"`
		Description    *string `json:"Description"`
		CutoffBehavior *string `json:"CutoffBehavior"`
		Replace        bool    `json:"Replace"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	mw, err := findWindow(c, in.WindowID)
	if err != nil {
		return nil, err
	}
	task := findWindowTask(mw, in.WindowTaskID)
	if task == nil {
		return nil, Errorf("DoesNotExistException", "Window task %s does not exist in window %s.", in.WindowTaskID, mw.ID)
	}
	cp := *task
	cp.TaskParams = maps.Clone(task.TaskParams)
	cp.RunCommand = maps.Clone(task.RunCommand)
	if in.Replace {
		if in.TaskArn == nil {
			return nil, errValidationException("TaskArn is required when Replace is true.")
		}
		cp.Targets, cp.ServiceRoleArn, cp.MaxConcurrency, cp.MaxErrors, cp.Name, cp.Description = nil, "", "", "", "", ""
		cp.TaskParams, cp.RunCommand, cp.Comment, cp.TimeoutSeconds = nil, nil, "", 0
	}
	if in.Targets != nil {
		cp.Targets = in.Targets
	}
	if in.TaskArn != nil {
		cp.TaskArn = *in.TaskArn
	}
	for dst, src := range map[*string]*string{&cp.ServiceRoleArn: in.ServiceRoleArn, &cp.MaxConcurrency: in.MaxConcurrency,
		&cp.MaxErrors: in.MaxErrors, &cp.Name: in.Name, &cp.Description: in.Description, &cp.CutoffBehavior: in.CutoffBehavior} {
		if src != nil {
			*dst = *src
		}
	}
	if in.Priority != nil {
		if *in.Priority < 0 {
			return nil, errValidationException("Priority must be zero or more.")
		}
		cp.Priority = *in.Priority
	}
	switch cp.CutoffBehavior {
	case "":
		cp.CutoffBehavior = "CONTINUE_TASK"
	case "CONTINUE_TASK", "CANCEL_TASK":
	default:
		return nil, errValidationException("1 validation error detected: Value '%s' at 'cutoffBehavior' failed to satisfy constraint: Member must satisfy enum value set: [CONTINUE_TASK, CANCEL_TASK]", cp.CutoffBehavior)
	}
	if in.TaskParameters != nil {
		cp.TaskParams = map[string][]string{}
		for k, v := range in.TaskParameters {
			cp.TaskParams[k] = v.Values
		}
	}
	if tip := in.TaskInvocationParameters; tip != nil && tip.RunCommand != nil {
		rc := tip.RunCommand
		cp.RunCommand = map[string]any{"Parameters": rc.Parameters}
		cp.Comment, cp.TimeoutSeconds = "", 0
		if rc.Comment != nil {
			cp.Comment = *rc.Comment
		}
		if rc.TimeoutSeconds != nil {
			cp.TimeoutSeconds = *rc.TimeoutSeconds
		}
		cp.RunCommand["Comment"], cp.RunCommand["TimeoutSeconds"] = cp.Comment, cp.TimeoutSeconds
		for k, v := range map[string]*string{"DocumentVersion": rc.DocumentVersion, "ServiceRoleArn": rc.ServiceRoleArn} {
			if v != nil {
				cp.RunCommand[k] = *v
			}
		}
	}
	cp.Parameters = maps.Clone(cp.TaskParams)
	if cp.Parameters == nil {
		cp.Parameters = map[string][]string{}
	}
	if p, ok := cp.RunCommand["Parameters"].(map[string][]string); ok {
		maps.Copy(cp.Parameters, p)
	}
	if len(cp.Targets) > 0 {
		if cp.MaxConcurrency == "" || cp.MaxErrors == "" {
			return nil, errValidationException("MaxConcurrency and MaxErrors are required for tasks with targets.")
		}
		if !maxConcurrencyRE.MatchString(cp.MaxConcurrency) || !maxErrorsRE.MatchString(cp.MaxErrors) {
			return nil, errValidationException("MaxConcurrency or MaxErrors is not valid.")
		}
		if _, err := mw.expandTargets(cp.Targets); err != nil {
			return nil, err
		}
	}
	if cp.Type == "RUN_COMMAND" {
		doc := lookupDocument(cp.TaskArn)
		if doc == nil {
			return nil, Errorf("InvalidDocument", "Document with name %s does not exist.", cp.TaskArn)
		}
		if _, err := validateDocParams(doc, cp.Parameters); err != nil {
			return nil, err
		}
	}
	*task = cp
	out := windowTaskOut(mw, task)
	delete(out, "TaskType")
	return out, nil
}
