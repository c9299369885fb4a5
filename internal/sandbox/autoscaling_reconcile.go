package sandbox

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// asgMaxSettleRounds bounds how many reconcile rounds one instant may run.
// In instant mode (zero delays) a round's launches are running in the next
// round, so a group settles within one request; the bound keeps a large
// instant-mode refresh from doing everything in one request.
const asgMaxSettleRounds = 64

// asgMaxEventSteps bounds the intermediate instants one tick replays.
const asgMaxEventSteps = 10000

// tickAutoScaling is the reconciler. Virtual time can jump (AdvanceClock,
// a scaled clock between requests), so it replays every instant since the
// last tick at which something it watches happens (an instance finishing a
// transition, a grace period or warm-up ending, a checkpoint delay
// expiring) before settling at now: an hour's jump plays out a rollout's
// batches as an hour of real time would.
func (w *World) tickAutoScaling(now time.Time) {
	w.ASG.ensure()
	if last := w.ASG.LastTick; !last.IsZero() {
		for step := 0; step < asgMaxEventSteps; step++ {
			at, ok := w.asgNextEvent(last, now)
			if !ok {
				break
			}
			w.asgSettleAt(at)
			last = at
		}
	}
	w.asgSettleAt(now)
	if now.After(w.ASG.LastTick) {
		w.ASG.LastTick = now
	}
}

// asgSettleAt runs reconcile rounds at one instant until nothing changes.
func (w *World) asgSettleAt(now time.Time) {
	for round := 0; round < asgMaxSettleRounds; round++ {
		w.tickInstances(now)
		changed := false
		for _, g := range w.sortedGroups() {
			if w.asgReconcile(g, now) {
				changed = true
			}
		}
		if !changed {
			return
		}
	}
}

// asgNextEvent is the earliest instant strictly between after and before
// at which a group's state could change.
func (w *World) asgNextEvent(after, before time.Time) (time.Time, bool) {
	var best time.Time
	consider := func(t time.Time) {
		if t.After(after) && t.Before(before) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	tm := w.Timing
	for _, g := range w.ASG.Groups {
		grace := g.gracePeriod(tm)
		var r *InstanceRefresh
		if !g.Deleting {
			r = w.asgActiveRefresh(g)
		}
		for _, m := range g.Instances {
			if inst := w.EC2.Instances[m.ID]; inst != nil {
				switch inst.State {
				case StatePending:
					consider(inst.StateSince.Add(tm.InstancePending))
				case StateStopping:
					consider(inst.StateSince.Add(tm.InstanceStopping))
				case StateShuttingDown:
					consider(inst.StateSince.Add(tm.InstanceShutdown))
				default:
					consider(inst.StateSince) // a transition EC2 already applied
				}
				if m.HealthStatus == ASGHealthy && (inst.Unhealthy || inst.State == StateStopped || inst.State == StateStopping) {
					consider(m.LaunchTime.Add(grace).Add(time.Nanosecond))
				}
			}
			if g.MaxInstanceLifetime > 0 {
				consider(m.LaunchTime.Add(time.Duration(g.MaxInstanceLifetime) * time.Second))
			}
			if r != nil && !m.InServiceAt.IsZero() {
				consider(m.InServiceAt.Add(time.Duration(r.Preferences.InstanceWarmup) * time.Second))
			}
		}
		if r != nil {
			consider(r.PausedUntil)
			consider(r.BakeUntil)
			if !r.WaitingSince.IsZero() {
				consider(r.WaitingSince.Add(refreshProtectedWaitLimit))
			}
		}
	}
	return best, !best.IsZero()
}

// asgInstState is an instance's state as of now: when a tick replays an
// earlier instant, EC2 may already have applied a later transition.
func asgInstState(inst *Instance, now time.Time) string {
	if inst == nil {
		return StateTerminated
	}
	if inst.StateSince.After(now) {
		switch inst.State {
		case StateRunning:
			return StatePending
		case StateTerminated:
			return StateShuttingDown
		case StateStopped:
			return StateStopping
		}
	}
	return inst.State
}

// asgReconcile runs one round for a group: member lifecycle and health,
// the active instance refresh, then capacity. It reports whether anything
// changed.
func (w *World) asgReconcile(g *AutoScalingGroup, now time.Time) bool {
	changed := w.asgUpdateMembers(g, now)
	if g.Deleting {
		if w.asgFinishDelete(g) {
			return true
		}
		return changed
	}
	r := w.asgActiveRefresh(g)
	if r != nil && w.asgStepRefresh(g, r, now) {
		changed = true
	}
	if w.asgKeepCapacity(g, r, now) {
		changed = true
	}
	return changed
}

// asgUpdateMembers moves members through Pending → InService, marks them
// Unhealthy (EC2 health checks after the grace period, instances stopped or
// terminated outside the group), replaces unhealthy ones and removes
// terminated ones.
func (w *World) asgUpdateMembers(g *AutoScalingGroup, now time.Time) bool {
	changed := false
	grace := g.gracePeriod(w.Timing)
	kept := g.Instances[:0]
	for _, m := range g.Instances {
		inst := w.EC2.Instances[m.ID]
		state := asgInstState(inst, now)
		if m.LifecycleState == ASGTerminating {
			if state == StateTerminated {
				w.asgFinishActivity(m.TerminateActivity, now, "Successful", "")
				changed = true
				continue // removed from the group
			}
			kept = append(kept, m)
			continue
		}
		kept = append(kept, m)
		gone := state == StateShuttingDown || state == StateTerminated
		if m.LifecycleState == ASGPending && state == StateRunning {
			m.LifecycleState = ASGInService
			m.InServiceAt = inst.StateSince
			if m.InServiceAt.Before(m.LaunchTime) {
				m.InServiceAt = m.LaunchTime
			}
			w.asgFinishActivity(m.LaunchActivity, m.InServiceAt, "Successful", "")
			changed = true
		}
		if m.HealthStatus == ASGHealthy && !g.suspended("HealthCheck") {
			pastGrace := now.After(m.LaunchTime.Add(grace))
			switch {
			case gone:
				m.HealthStatus, m.HealthReason = ASGUnhealthy, "terminated"
				changed = true
			case (state == StateStopped || state == StateStopping) && pastGrace:
				m.HealthStatus, m.HealthReason = ASGUnhealthy, "stopped"
				changed = true
			case inst.Unhealthy && state == StateRunning && pastGrace:
				m.HealthStatus, m.HealthReason = ASGUnhealthy, "impaired"
				changed = true
			}
		}
		if m.HealthStatus == ASGUnhealthy && (gone || !g.suspended("ReplaceUnhealthy")) {
			w.asgTerminateMember(g, m, now, asgHealthCause(m, now))
			changed = true
			continue
		}
		if g.MaxInstanceLifetime > 0 && m.LifecycleState == ASGInService && !g.suspended("ReplaceUnhealthy") &&
			!now.Before(m.LaunchTime.Add(time.Duration(g.MaxInstanceLifetime)*time.Second)) {
			w.asgTerminateMember(g, m, now, fmt.Sprintf("At %s an instance was taken out of service in response to a maximum instance lifetime policy.  At %s instance %s was selected for termination.",
				asgStamp(now), asgStamp(now), m.ID))
			changed = true
		}
	}
	for i := len(kept); i < len(g.Instances); i++ {
		g.Instances[i] = nil
	}
	g.Instances = kept
	return changed
}

func asgHealthCause(m *ASGInstance, now time.Time) string {
	switch m.HealthReason {
	case "terminated", "stopped":
		return fmt.Sprintf("At %s an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.", asgStamp(now))
	case "user":
		return fmt.Sprintf("At %s an instance was taken out of service in response to a user health-check.", asgStamp(now))
	}
	return fmt.Sprintf("At %s an instance was taken out of service in response to an EC2 instance status check failure.", asgStamp(now))
}

// asgKeepCapacity launches or terminates so the group holds its desired
// capacity (plus the extra instances a refresh launches first).
func (w *World) asgKeepCapacity(g *AutoScalingGroup, r *InstanceRefresh, now time.Time) bool {
	cfg, refreshID, extra, cause := g.Config, "", 0, ""
	if r != nil {
		switch r.Status {
		case RefreshPending, RefreshInProgress, RefreshBaking:
			cfg, refreshID, extra = r.Target, r.ID, r.Extra
			cause = fmt.Sprintf("At %s an instance was launched in response to an instance refresh.", asgStamp(now))
		case RefreshRollbackInProgress:
			cfg, refreshID, extra = r.Previous, r.ID, r.Extra
			cause = fmt.Sprintf("At %s an instance was launched in response to an instance refresh rollback.", asgStamp(now))
		}
	}
	target := g.DesiredCapacity + extra
	active := len(g.activeMembers())
	changed := false
	if active < target && !g.suspended("Launch") {
		for n := active; n < target; n++ {
			c := cause
			if c == "" {
				c = fmt.Sprintf("%s  At %s an instance was started in response to a difference between desired and actual capacity, increasing the capacity from %d to %d.",
					g.Cause, asgStamp(now), active, target)
			}
			m, msg := w.asgLaunch(g, cfg, refreshID, now, c)
			if m == nil {
				if r != nil && msg != "" {
					w.asgRefreshLaunchFailed(g, r, now, msg)
				}
				break
			}
			changed = true
		}
	}
	if active > target && !g.suspended("Terminate") {
		current, _ := w.asgResolvedSpec(g.Account, g.Region, cfg)
		for _, m := range w.asgScaleInVictims(g, active-target, current) {
			w.asgTerminateMember(g, m, now, fmt.Sprintf("%s  At %s an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from %d to %d.  At %s instance %s was selected for termination.",
				g.Cause, asgStamp(now), active, target, asgStamp(now), m.ID))
			changed = true
		}
	}
	return changed
}

// asgLaunch launches one member from cfg through the shared EC2 model. On
// failure it logs a failed scaling activity (once per distinct error) and
// returns the error message.
func (w *World) asgLaunch(g *AutoScalingGroup, cfg ASGConfig, refreshID string, now time.Time, cause string) (*ASGInstance, string) {
	fail := func(msg string) (*ASGInstance, string) {
		msg += " Launching EC2 instance failed."
		if g.LaunchError != msg {
			g.LaunchError = msg
			a := w.asgActivity(g, now, "Launching a new EC2 instance.  Status Reason: "+msg, cause, "", "Failed")
			a.StatusMessage = msg
		}
		return nil, msg
	}
	lt, ver, err := w.asgResolveTemplate(g.Account, g.Region, cfg.template())
	if err != nil {
		return fail(err.Message)
	}
	imageID, itype := ver.ImageID, ver.InstanceType
	if mip := cfg.MixedInstancesPolicy; mip != nil && len(mip.Overrides) > 0 {
		if o := mip.Overrides[0]; o.InstanceType != "" {
			itype = o.InstanceType
		}
		if o := mip.Overrides[0]; o.ImageID != "" {
			imageID = o.ImageID
		}
	}
	if imageID == "" {
		return fail(fmt.Sprintf("The launch template %s version %d does not specify an image id.", lt.ID, ver.Number))
	}
	subnet := w.asgPickSubnet(g)
	if subnet == nil {
		return fail("No subnet is available in the group's Availability Zones.")
	}
	version := strconv.Itoa(ver.Number)
	tags := Tags{}
	for _, ts := range ver.TagSpecifications {
		if ts.ResourceType == "instance" {
			for k, v := range ts.Tags {
				tags[k] = v
			}
		}
	}
	for _, t := range g.Tags {
		if t.PropagateAtLaunch {
			tags[t.Key] = t.Value
		}
	}
	tags["aws:autoscaling:groupName"] = g.Name
	tags["aws:ec2launchtemplate:id"] = lt.ID
	tags["aws:ec2launchtemplate:version"] = version
	inst, rerr := w.RunInstance(LaunchSpec{
		Account: g.Account, Region: g.Region, ImageID: imageID, InstanceType: itype, SubnetID: subnet.ID,
		KeyName: ver.KeyName, SecurityGroupIDs: ver.SecurityGroupIDs, IAMInstanceProfile: ver.IAMInstanceProfile,
		Tags: tags, HTTPTokens: ver.HTTPTokens, LaunchTemplateID: lt.ID, LaunchTemplateVersion: version,
	}, now)
	if rerr != nil {
		return fail(rerr.Message)
	}
	g.LaunchError = ""
	m := &ASGInstance{
		ID: inst.ID, AZ: inst.AZ, SubnetID: inst.SubnetID, InstanceType: inst.InstanceType, ImageID: inst.ImageID,
		LaunchTemplate: ASGTemplateSpec{ID: lt.ID, Name: lt.Name, Version: version},
		LifecycleState: ASGPending, HealthStatus: ASGHealthy, Protected: g.NewInstancesProtectedFromScaleIn,
		LaunchTime: now, RefreshID: refreshID,
	}
	a := w.asgActivity(g, now, "Launching a new EC2 instance: "+inst.ID, cause,
		fmt.Sprintf(`{"Subnet ID":"%s","Availability Zone":"%s"}`, inst.SubnetID, inst.AZ), "InProgress")
	a.Progress = 20
	m.LaunchActivity = a.ID
	g.Instances = append(g.Instances, m)
	return m, ""
}

// asgPickSubnet spreads launches evenly over the group's zones: the subnet
// whose zone (then subnet) holds the fewest active members.
func (w *World) asgPickSubnet(g *AutoScalingGroup) *Subnet {
	var subnets []*Subnet
	if len(g.SubnetIDs) > 0 {
		for _, id := range g.SubnetIDs {
			if s := w.EC2.Subnets[id]; s != nil && s.Account == g.Account && s.Region == g.Region {
				subnets = append(subnets, s)
			}
		}
	} else {
		w.ensureDefaultVPC(g.Account, g.Region)
		for _, az := range g.AvailabilityZones {
			if s := w.asgDefaultSubnet(g.Account, g.Region, az); s != nil {
				subnets = append(subnets, s)
			}
		}
	}
	byAZ, bySubnet := map[string]int{}, map[string]int{}
	for _, m := range g.activeMembers() {
		byAZ[m.AZ]++
		bySubnet[m.SubnetID]++
	}
	var best *Subnet
	for _, s := range subnets {
		if best == nil || byAZ[s.AZ] < byAZ[best.AZ] || (byAZ[s.AZ] == byAZ[best.AZ] && bySubnet[s.ID] < bySubnet[best.ID]) {
			best = s
		}
	}
	return best
}

// asgTerminateMember takes a member out of service and terminates its EC2
// instance; it leaves the group once EC2 reports it terminated.
func (w *World) asgTerminateMember(g *AutoScalingGroup, m *ASGInstance, now time.Time, cause string) *ScalingActivity {
	m.LifecycleState = ASGTerminating
	if inst := w.EC2.Instances[m.ID]; inst != nil {
		w.TerminateInstance(inst, now)
	}
	w.asgFinishActivity(m.LaunchActivity, now, "Cancelled", "The instance was terminated before it entered service.")
	a := w.asgActivity(g, now, "Terminating EC2 instance: "+m.ID, cause,
		fmt.Sprintf(`{"Subnet ID":"%s","Availability Zone":"%s"}`, m.SubnetID, m.AZ), "InProgress")
	a.Progress = 50
	m.TerminateActivity = a.ID
	return a
}

// asgScaleInVictims picks n members to terminate on scale-in. As AWS does,
// every policy first keeps zones balanced (the zone with the most members
// loses one); then the group's first termination policy decides. Default:
// members not on the current launch template version first, then the
// newest. Members protected from scale-in are never picked.
func (w *World) asgScaleInVictims(g *AutoScalingGroup, n int, current ASGTemplateSpec) []*ASGInstance {
	policy := "Default"
	if len(g.TerminationPolicies) > 0 {
		policy = g.TerminationPolicies[0]
	}
	active := g.activeMembers()
	chosen := map[*ASGInstance]bool{}
	var out []*ASGInstance
	for len(out) < n {
		byAZ := map[string]int{}
		var cands []*ASGInstance
		for _, m := range active {
			if chosen[m] {
				continue
			}
			byAZ[m.AZ]++
			if !m.Protected {
				cands = append(cands, m)
			}
		}
		if len(cands) == 0 {
			break
		}
		sort.SliceStable(cands, func(i, j int) bool {
			a, b := cands[i], cands[j]
			if byAZ[a.AZ] != byAZ[b.AZ] {
				return byAZ[a.AZ] > byAZ[b.AZ]
			}
			switch policy {
			case "OldestInstance":
				return asgOlder(a, b)
			case "NewestInstance":
				return asgOlder(b, a)
			case "OldestLaunchTemplate", "OldestLaunchConfiguration":
				if a.matches(current) != b.matches(current) {
					return !a.matches(current)
				}
				va, _ := strconv.Atoi(a.LaunchTemplate.Version)
				vb, _ := strconv.Atoi(b.LaunchTemplate.Version)
				if va != vb {
					return va < vb
				}
				return asgOlder(b, a)
			default:
				if a.matches(current) != b.matches(current) {
					return !a.matches(current)
				}
				return asgOlder(b, a)
			}
		})
		chosen[cands[0]] = true
		out = append(out, cands[0])
	}
	return out
}

func asgOlder(a, b *ASGInstance) bool {
	if !a.LaunchTime.Equal(b.LaunchTime) {
		return a.LaunchTime.Before(b.LaunchTime)
	}
	return a.ID < b.ID
}
