package window

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/amibake/amibake/internal/cmd/patch/applyflow"
	"github.com/amibake/amibake/internal/config"
)

// What every window task runs.
const (
	PatchDocument  = "AWS-RunPatchBaseline"
	TaskType       = "RUN_COMMAND"
	CutoffBehavior = "CONTINUE_TASK"
	Timezone       = "UTC"
	// ProjectTag marks the windows this project owns: only they are
	// updated or deleted.
	ProjectTag = "amibake:project"
	// FleetOwner is the OwnerInformation of a fleet's target: SSM passes it
	// to the task's invocations, so a run says which fleet it patched.
	FleetOwner    = "amibake:fleet="
	patchGroupTag = "Patch Group"
	taskPriority  = 1
)

// Window is one maintenance window as amibake wants it (or as SSM holds it).
type Window struct {
	Name string `json:"name"`
	// Spec is the fleets' rollout.maintenance_window ("sun-02:00-04:00").
	Spec        string   `json:"maintenance_window,omitempty"`
	Schedule    string   `json:"schedule"`
	Timezone    string   `json:"timezone"`
	Duration    int      `json:"duration"`
	Cutoff      int      `json:"cutoff"`
	Description string   `json:"description"`
	Enabled     bool     `json:"enabled"`
	Fleets      []*Fleet `json:"fleets"`
	ID          string   `json:"id,omitempty"`
}

// Fleet is one fleet's target and patch task in a window.
type Fleet struct {
	Fleet          string   `json:"fleet"`
	Targets        []Target `json:"targets"`
	MaxConcurrency string   `json:"max_concurrency"`
	MaxErrors      string   `json:"max_errors"`
	RebootOption   string   `json:"reboot_option"`

	// Observed state: ids, and what the task holds where it differs in
	// shape from the HCL (the document, its parameters, the target it
	// runs on).
	TargetID      string              `json:"-"`
	TargetOwner   string              `json:"-"`
	TaskID        string              `json:"-"`
	TaskDocument  string              `json:"-"`
	TaskTargetIDs []string            `json:"-"`
	TaskParams    map[string][]string `json:"-"`
	TaskPriority  int                 `json:"-"`
	TaskCutoff    string              `json:"-"`
	HasTask       bool                `json:"-"`
	HasTarget     bool                `json:"-"`
}

// Target is an SSM target (tag:K).
type Target = applyflow.Target

// Skipped is a fleet with a maintenance window that gets no window task.
type Skipped struct {
	Fleet  string `json:"fleet"`
	Reason string `json:"reason"`
}

// Prefix is the name prefix of the project's windows.
func Prefix(project string) string { return "amibake-" + project + "-" }

// TargetName and TaskName name a fleet's target and task in its window.
func TargetName(fleet string) string { return "amibake-" + fleet }

// TaskName is the name of a fleet's patch task.
func TaskName(fleet string) string { return "amibake-" + fleet + "-patch" }

// Desired is one window per distinct maintenance_window of the in-place
// fleets, sorted by name, each with a target and an Install task per
// fleet. Replace fleets are skipped: they are replaced, never patched in
// place, so a window would patch instances their next rollout discards.
func Desired(cfg *config.Config) ([]*Window, []Skipped, error) {
	bySpec := map[string]*Window{}
	var skipped []Skipped
	for _, name := range sortedKeys(cfg.Fleets) {
		fl := cfg.Fleets[name]
		spec := fl.Rollout.MaintenanceWindow
		if spec == "" {
			continue
		}
		if fl.Strategy != config.StrategyInPlace {
			skipped = append(skipped, Skipped{Fleet: name, Reason: fmt.Sprintf("a %s fleet is replaced by its rollouts, not patched in place", fl.Strategy)})
			continue
		}
		w := bySpec[spec]
		if w == nil {
			sched, dur, cutoff, err := Schedule(spec)
			if err != nil {
				return nil, nil, fmt.Errorf("fleet %s: %w", name, err)
			}
			w = &Window{Name: Prefix(cfg.Project.Name) + slug(spec), Spec: spec, Schedule: sched, Timezone: Timezone,
				Duration: dur, Cutoff: cutoff, Enabled: true}
			bySpec[spec] = w
		}
		targets, err := fleetTargets(fl)
		if err != nil {
			return nil, nil, err
		}
		f := &Fleet{Fleet: name, Targets: targets, MaxConcurrency: fl.Rollout.MaxConcurrency, MaxErrors: fl.Rollout.MaxErrors,
			RebootOption: "RebootIfNeeded"}
		// The same defaults as `amibake rollout` in place: SSM requires
		// rate control on a task with targets.
		if f.MaxConcurrency == "" {
			f.MaxConcurrency = "10%"
		}
		if f.MaxErrors == "" {
			f.MaxErrors = "0"
		}
		if fl.Rollout.Reboot == "never" {
			f.RebootOption = "NoReboot"
		}
		w.Fleets = append(w.Fleets, f)
	}
	out := make([]*Window, 0, len(bySpec))
	for _, w := range bySpec {
		w.Description = description(cfg.Project.Name, w)
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, skipped, nil
}

func description(project string, w *Window) string {
	return fmt.Sprintf("amibake %s: AWS-RunPatchBaseline Install on fleet(s) %s, %s UTC (amibake patch window apply)",
		project, strings.Join(w.fleetNames(), " "), w.Spec)
}

func (w *Window) fleetNames() []string {
	var out []string
	for _, f := range w.Fleets {
		out = append(out, f.Fleet)
	}
	sort.Strings(out)
	return out
}

// fleetTargets: the fleet's targets { tags }, else its patch group.
func fleetTargets(fl *config.Fleet) ([]Target, error) {
	if out := applyflow.TagTargets(fl.TargetTags); len(out) > 0 {
		return out, nil
	}
	if fl.Patch != nil && fl.Patch.PatchGroup != "" {
		return []Target{{Key: "tag:" + patchGroupTag, Values: []string{fl.Patch.PatchGroup}}}, nil
	}
	return nil, fmt.Errorf("fleet %s: no targets { tags } or patch group to target its instances", fl.Name)
}

var cronDays = map[string]string{"sun": "SUN", "mon": "MON", "tue": "TUE", "wed": "WED", "thu": "THU", "fri": "FRI", "sat": "SAT"}

// Schedule turns "DAY-HH:MM-HH:MM" (UTC; an end before the start runs
// past midnight) into SSM's cron expression, duration and cutoff in whole
// hours. SSM counts both in hours: the duration is rounded up so the
// window is never shorter than asked, and the cutoff keeps new tasks from
// starting after the asked end — and, in a window of two hours or more,
// in its last hour, which an install and a reboot need.
func Schedule(spec string) (cron string, duration, cutoff int, err error) {
	parts := strings.SplitN(spec, "-", 3)
	if len(parts) != 3 {
		return "", 0, 0, fmt.Errorf("maintenance window %q: want DAY-HH:MM-HH:MM", spec)
	}
	day, ok := cronDays[parts[0]]
	if !ok {
		return "", 0, 0, fmt.Errorf("maintenance window %q: unknown day %q", spec, parts[0])
	}
	start, err := minutes(parts[1])
	if err != nil {
		return "", 0, 0, fmt.Errorf("maintenance window %q: %w", spec, err)
	}
	end, err := minutes(parts[2])
	if err != nil {
		return "", 0, 0, fmt.Errorf("maintenance window %q: %w", spec, err)
	}
	length := end - start
	if length <= 0 {
		length += 24 * 60
	}
	duration = (length + 59) / 60
	cutoff = duration - length/60
	if duration >= 2 {
		cutoff = max(cutoff, 1)
	}
	cutoff = min(cutoff, duration-1)
	return fmt.Sprintf("cron(%d %d ? * %s *)", start%60, start/60, day), duration, cutoff, nil
}

func minutes(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// slug makes a window name part: "sun-02:00-04:00" → "sun-0200-0400".
func slug(spec string) string { return strings.ReplaceAll(spec, ":", "") }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
