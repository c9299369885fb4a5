// Package retire garbage-collects a project's AMIs: deprecate, wait out a
// grace period, then deregister and delete the snapshots that belonged only
// to the image, in every region the build was copied to.
//
// It never touches an AMI in use. The in-use set is computed before any
// decision, from paged, batched reads of every region:
//
//   - instances in any state but terminated (one paged DescribeInstances sweep);
//   - every launch-template version, not only $Default and $Latest
//     (DescribeLaunchTemplates, then DescribeLaunchTemplateVersions per template);
//   - every Auto Scaling group's template (and mixed instances overrides);
//   - every channel parameter's current value and its newest versions
//     (GetParametersByPath, GetParameterHistory);
//   - launch permissions the caller asked to keep (DescribeImageAttribute,
//     only for the builds that would otherwise go);
//   - the lineage of every kept AMI: the parent of a kept child stays.
//
// The unit of decision is a build (layer + amibake:build-id): its copies in
// every region are kept or removed together.
package retire

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
)

// Actions a retire plan gives each build.
const (
	ActionKeep       = "keep"
	ActionDeprecate  = "deprecate"  // removal starts: deprecated now
	ActionGrace      = "grace"      // deprecated, waiting out the grace period
	ActionDeregister = "deregister" // deregistered with its own snapshots
)

// DefaultGrace is how long a deprecated AMI waits before it is deregistered
// when neither the fleet nor --grace says.
const DefaultGrace = 168 * time.Hour

// Request says what to retire.
type Request struct {
	// Layers limits removal to these layers; empty means every layer. AMIs
	// of other layers are always kept (and still keep their parents).
	Layers []string
	// Keep is how many of the newest builds of each layer are kept (≥ 1).
	Keep int
	// KeepByLayer overrides Keep per layer (the fleets' retire.keep).
	KeepByLayer map[string]int
	// OlderThan keeps builds younger than this (0: no age limit).
	OlderThan time.Duration
	// Grace is how long a deprecated AMI waits before it is deregistered.
	Grace time.Duration
	// GraceByLayer overrides Grace per layer (the fleets' retire.grace).
	GraceByLayer map[string]time.Duration
	// ChannelHistory is how many of the newest versions of each channel
	// count as in use (rollback targets); 0 means the channel's layer's keep.
	ChannelHistory int
	// KeepSharedWith keeps AMIs with a launch permission for one of these
	// accounts ("all" = any permission, public included).
	KeepSharedWith []string
	// Only restricts removal to the builds holding one of these AMI ids
	// (a rollout retires what it replaced and nothing else).
	Only []string
	// Apply acts; without it retire only plans.
	Apply bool
}

// Retirer reads and changes AMIs of one project.
type Retirer struct {
	EC2         func(region string) awsapi.EC2
	AutoScaling func(region string) awsapi.AutoScaling
	SSM         func(region string) awsapi.SSM
	Paths       lineage.Paths
	// Regions of the project, build region first.
	Regions []string
	Now     func() time.Time
}

// Copy is one region's AMI of a build.
type Copy struct {
	Region          string    `json:"region"`
	AMI             string    `json:"ami"`
	State           string    `json:"state"`
	Snapshots       []string  `json:"snapshots,omitempty"`
	DeprecationTime time.Time `json:"deprecation_time,omitzero"`
}

// Build is one candidate: a build of a layer with its copies and the
// decision about it.
type Build struct {
	Layer     string    `json:"layer"`
	BuildID   string    `json:"build_id,omitempty"`
	AMI       string    `json:"ami"` // the build-region AMI (what children and channels name)
	Created   time.Time `json:"created"`
	ParentAMI string    `json:"parent_ami,omitempty"`
	Copies    []Copy    `json:"copies"`
	Action    string    `json:"action"`
	Reasons   []string  `json:"reasons"`
	// Done lists what --apply changed, in order.
	Done []string `json:"done,omitempty"`
	// Error is set when applying the action failed.
	Error string `json:"error,omitempty"`

	key      string
	selected bool
}

// Result is a retire plan, and with Apply what it did.
type Result struct {
	Applied          bool     `json:"applied"`
	Builds           []*Build `json:"builds"`
	Deprecated       int      `json:"deprecated"`
	Deregistered     int      `json:"deregistered"`
	SnapshotsDeleted int      `json:"snapshots_deleted"`
	Errors           int      `json:"errors"`
	// InUse maps every AMI found in use to why (for the report and tests).
	InUse map[string][]string `json:"in_use"`
}

// Failed reports whether applying some build failed.
func (r *Result) Failed() bool { return r.Errors > 0 }

// run is the context the steps share.
type run struct {
	r     *Retirer
	req   Request
	now   time.Time
	res   *Result
	byKey map[string]*Build
	byAMI map[string]*Build // every copy's id → its build
}

// step is one stage of a retire (STYLE.md §4).
type step interface {
	fmt.Stringer
	Run(ctx context.Context, rn *run) error
}

// Run plans, and with req.Apply carries out, a retire.
func (r *Retirer) Run(ctx context.Context, req Request) (*Result, error) {
	if req.Keep < 1 {
		req.Keep = 1
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	rn := &run{r: r, req: req, now: now().UTC(), res: &Result{Applied: req.Apply, InUse: map[string][]string{}},
		byKey: map[string]*Build{}, byAMI: map[string]*Build{}}
	steps := []step{
		inventory{},      // every AMI of the project, grouped into builds
		instancesInUse{}, // instances in any state but terminated
		templatesInUse{}, // every launch-template version, and what ASGs use
		channelsInUse{},  // channel values and their newest history
		decide{},         // keep / remove, launch permissions, lineage
	}
	if req.Apply {
		steps = append(steps, apply{}) // deprecate, deregister, delete snapshots
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return rn.res, fmt.Errorf("retire stopped before %s: %w", s, err)
		}
		if err := s.Run(ctx, rn); err != nil {
			return rn.res, fmt.Errorf("retire: %s: %w", s, err)
		}
	}
	return rn.res, nil
}

func (rn *run) inUse(ami, why string) {
	if ami == "" {
		return
	}
	for _, w := range rn.res.InUse[ami] {
		if w == why {
			return
		}
	}
	rn.res.InUse[ami] = append(rn.res.InUse[ami], why)
}

func (rn *run) keepFor(layer string) int {
	if k, ok := rn.req.KeepByLayer[layer]; ok && k > 0 {
		return k
	}
	return rn.req.Keep
}

func (rn *run) graceFor(layer string) time.Duration {
	if g, ok := rn.req.GraceByLayer[layer]; ok {
		return g
	}
	return rn.req.Grace
}

// sortedBuilds returns the builds by layer, newest first.
func (rn *run) sortedBuilds() []*Build {
	out := make([]*Build, 0, len(rn.byKey))
	for _, b := range rn.byKey {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Layer != out[j].Layer {
			return out[i].Layer < out[j].Layer
		}
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].AMI < out[j].AMI
	})
	return out
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func joinReasons(rs []string) string { return strings.Join(rs, "; ") }
