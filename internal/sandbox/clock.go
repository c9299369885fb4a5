package sandbox

import (
	"sync"
	"time"
)

// Clock is the sandbox's virtual time. Every state machine reads it, so a
// test can make a 10-minute image build finish in a millisecond (Instant),
// a demo can look real (Scaled), and a test can step through a rollout by
// hand (Manual + Advance).
type Clock struct {
	mu        sync.Mutex
	base      time.Time // virtual time at realStart
	realStart time.Time
	scale     float64 // virtual seconds per real second; 0 = manual
	offset    time.Duration
	real      func() time.Time
}

// ClockMode selects how virtual time moves.
type ClockMode string

const (
	// ClockInstant: time follows the wall clock and every transition delay
	// is zero, so resources settle on the next request.
	ClockInstant ClockMode = "instant"
	// ClockScaled: time runs Scale times faster than the wall clock.
	ClockScaled ClockMode = "scaled"
	// ClockManual: time stands still until Advance.
	ClockManual ClockMode = "manual"
)

// NewClock starts virtual time at start.
func NewClock(start time.Time, scale float64) *Clock {
	return &Clock{base: start, realStart: time.Now(), scale: scale, real: time.Now}
}

// Now is the current virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	elapsed := c.real().Sub(c.realStart)
	return c.base.Add(time.Duration(float64(elapsed)*c.scale) + c.offset).UTC()
}

// Advance moves virtual time forward by d.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// SetScale changes the speed from now on without a jump.
func (c *Clock) SetScale(scale float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.nowLocked()
	c.base, c.realStart, c.offset, c.scale = now, c.real(), 0, scale
}

// Timing holds how long each transition takes in virtual time. Instant mode
// uses ZeroTiming.
type Timing struct {
	InstancePending  time.Duration `json:"instance_pending"`  // pending → running
	InstanceStopping time.Duration `json:"instance_stopping"` // stopping → stopped
	InstanceShutdown time.Duration `json:"instance_shutdown"` // shutting-down → terminated
	ImageCreate      time.Duration `json:"image_create"`      // image pending → available
	ImageCopy        time.Duration `json:"image_copy"`
	SnapshotCreate   time.Duration `json:"snapshot_create"`
	CommandRun       time.Duration `json:"command_run"`   // per invocation InProgress → done
	PatchScan        time.Duration `json:"patch_scan"`    // AWS-RunPatchBaseline Scan
	PatchInstall     time.Duration `json:"patch_install"` // AWS-RunPatchBaseline Install
	HealthGrace      time.Duration `json:"health_grace"`  // ASG health check grace
	RefreshStep      time.Duration `json:"refresh_step"`  // one instance replaced during a refresh
}

// RealisticTiming is what the demo shows, scaled.
func RealisticTiming() Timing {
	return Timing{
		InstancePending:  20 * time.Second,
		InstanceStopping: 30 * time.Second,
		InstanceShutdown: 20 * time.Second,
		ImageCreate:      3 * time.Minute,
		ImageCopy:        5 * time.Minute,
		SnapshotCreate:   2 * time.Minute,
		CommandRun:       20 * time.Second,
		PatchScan:        40 * time.Second,
		PatchInstall:     2 * time.Minute,
		HealthGrace:      60 * time.Second,
		RefreshStep:      90 * time.Second,
	}
}

// ZeroTiming settles everything on the next request.
func ZeroTiming() Timing { return Timing{} }
