// Package lock is the project lease that keeps two amibake runs from acting
// on the same project at once. The lease is a Parameter Store parameter
// (<prefix>/<project>/lock) created with Overwrite=false, which AWS makes
// atomic: of two runs racing to create it, exactly one succeeds.
package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/crashpoint"
)

// Lease is the JSON value of the lock parameter.
type Lease struct {
	ID       string    `json:"id"`
	Holder   string    `json:"holder"` // user@host, or the CI job
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Command  string    `json:"command"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
	// Version is the parameter version the lease was read from.
	Version int64 `json:"-"`
}

// Expired reports whether the lease ran out at now.
func (l *Lease) Expired(now time.Time) bool { return !now.Before(l.Expires) }

func (l *Lease) String() string {
	return fmt.Sprintf("%s (pid %d on %s, %q, since %s, expires %s)",
		l.Holder, l.PID, l.Host, l.Command, l.Acquired.UTC().Format(time.RFC3339), l.Expires.UTC().Format(time.RFC3339))
}

// HeldError says another run holds the lock. It maps to exit code 4.
type HeldError struct {
	Name  string
	Lease *Lease
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("project lock %s is held by %s; wait for it, retry with --lock-timeout, or run 'amibake lock release --force' if that run is gone", e.Name, e.Lease)
}

// ExitCode is the DESIGN.md lock-held code.
func (e *HeldError) ExitCode() int { return 4 }

// ErrLost is returned by Held.Err when the lease was taken over while held.
var ErrLost = errors.New("project lock lost: another run took it over")

// Locker takes and inspects the lease of one project.
type Locker struct {
	SSM  awsapi.SSM
	Name string // parameter name
	// TTL is how long a lease lives without renewal (default 5m). A crashed
	// run blocks others for at most this long.
	TTL time.Duration
	// Settle is how long to wait before re-reading a lease just written, to
	// detect a concurrent takeover (default 0; a takeover of an expired
	// lease always waits at least TakeoverSettle).
	Settle time.Duration
	// Poll is the wait between attempts while --lock-timeout waits (default 5s).
	Poll    time.Duration
	Holder  string
	Command string
	Now     func() time.Time
}

func (l *Locker) defaults() {
	if l.TTL == 0 {
		l.TTL = 5 * time.Minute
	}
	if l.Poll == 0 {
		l.Poll = 5 * time.Second
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.Holder == "" {
		l.Holder = DefaultHolder()
	}
}

// DefaultHolder names this run: $AMIBAKE_LOCK_HOLDER, a CodeBuild build id,
// or user@host.
func DefaultHolder() string {
	if h := os.Getenv("AMIBAKE_LOCK_HOLDER"); h != "" {
		return h
	}
	if id := os.Getenv("CODEBUILD_BUILD_ID"); id != "" {
		return "codebuild:" + id
	}
	host, _ := os.Hostname()
	user := os.Getenv("USER")
	if user == "" {
		user = "unknown"
	}
	return user + "@" + host
}

// Acquire takes the lease. If another run holds it, Acquire waits up to
// timeout (0: do not wait) and then returns *HeldError. An expired lease is
// taken over.
func (l *Locker) Acquire(ctx context.Context, timeout time.Duration) (*Held, error) {
	l.defaults()
	deadline := l.Now().Add(timeout)
	for {
		held, err := l.tryAcquire(ctx)
		if err == nil {
			crashpoint.Hit("lock.acquired")
			return held, nil
		}
		var he *HeldError
		if !errors.As(err, &he) || !l.Now().Before(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(l.Poll):
		}
	}
}

func (l *Locker) tryAcquire(ctx context.Context) (*Held, error) {
	host, _ := os.Hostname()
	now := l.Now().UTC()
	lease := &Lease{
		ID: newID(), Holder: l.Holder, Host: host, PID: os.Getpid(), Command: l.Command,
		Acquired: now, Expires: now.Add(l.TTL),
	}
	settle := l.Settle
	wrote, err := l.put(ctx, lease, false)
	var exists *ssmtypes.ParameterAlreadyExists
	if errors.As(err, &exists) {
		cur, rerr := l.read(ctx)
		if rerr != nil {
			if errors.Is(rerr, errNoLease) {
				return l.tryAcquire(ctx) // released between our put and read
			}
			return nil, rerr
		}
		if !cur.Expired(l.Now()) {
			return nil, &HeldError{Name: l.Name, Lease: cur}
		}
		// Take over an expired lease by overwriting it, never by deleting
		// it: while the parameter exists, a run arriving now cannot create
		// its own lease beside the takeover (its Overwrite=false put fails)
		// and joins the takeover instead. Of several runs overwriting at
		// once the last write wins; Parameter Store has no conditional
		// write, so every taker waits TakeoverSettle and re-reads: only the
		// run that finds its own lease proceeds, the others get HeldError.
		if wrote, err = l.put(ctx, lease, true); err != nil {
			return nil, fmt.Errorf("take over expired project lock %s: %w", l.Name, err)
		}
		settle, err = max(settle, TakeoverSettle), nil
	}
	if err != nil {
		return nil, fmt.Errorf("acquire project lock %s: %w", l.Name, err)
	}
	if err := l.verify(ctx, lease, settle, wrote); err != nil {
		return nil, err
	}
	return &Held{locker: l, lease: lease}, nil
}

// verify re-reads the lease after settle: a concurrent takeover that
// replaced ours shows up as someone else's lease. Parameter Store may lag
// its own writes (read-after-write), so until the read shows the version we
// wrote (or a newer one) it keeps reading for up to VisibleWithin.
func (l *Locker) verify(ctx context.Context, lease *Lease, settle time.Duration, wrote int64) error {
	if settle > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settle):
		}
	}
	deadline := time.Now().Add(VisibleWithin)
	for {
		cur, err := l.read(ctx)
		if err != nil && !errors.Is(err, errNoLease) {
			return err
		}
		if err == nil && cur.Version >= wrote {
			if cur.ID != lease.ID {
				return &HeldError{Name: l.Name, Lease: cur}
			}
			lease.Version = cur.Version
			return nil
		}
		// Not visible yet: ours (or a newer write) is still on its way.
		if !time.Now().Before(deadline) {
			if err == nil {
				return &HeldError{Name: l.Name, Lease: cur}
			}
			return fmt.Errorf("acquire project lock %s: %w", l.Name, ErrLost)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(visiblePoll):
		}
	}
}

// VisibleWithin is how long verify waits for Parameter Store to show the
// lease it has just written.
var VisibleWithin = 10 * time.Second

const visiblePoll = 200 * time.Millisecond

var errNoLease = errors.New("no lease")

// TakeoverSettle is the least a run that took over an expired lease waits
// before re-reading it (see tryAcquire).
var TakeoverSettle = time.Second

// Status returns the current lease, or nil when the project is unlocked.
func (l *Locker) Status(ctx context.Context) (*Lease, error) {
	l.defaults()
	cur, err := l.read(ctx)
	if errors.Is(err, errNoLease) {
		return nil, nil
	}
	return cur, err
}

// ForceRelease deletes the lease whoever holds it (lock release --force).
func (l *Locker) ForceRelease(ctx context.Context) (*Lease, error) {
	l.defaults()
	cur, err := l.Status(ctx)
	if err != nil || cur == nil {
		return nil, err
	}
	if err := l.deleteIf(ctx, cur); err != nil {
		return nil, err
	}
	return cur, nil
}

func (l *Locker) read(ctx context.Context) (*Lease, error) {
	out, err := l.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(l.Name)})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		return nil, errNoLease
	}
	if err != nil {
		return nil, fmt.Errorf("read project lock %s: %w", l.Name, err)
	}
	var lease Lease
	if err := json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &lease); err != nil {
		// A lease we cannot read is treated as expired rather than blocking
		// the project forever.
		lease = Lease{Holder: "unreadable lease", Expires: time.Time{}}
	}
	lease.Version = out.Parameter.Version
	return &lease, nil
}

func (l *Locker) put(ctx context.Context, lease *Lease, overwrite bool) (int64, error) {
	data, err := json.Marshal(lease)
	if err != nil {
		return 0, err
	}
	out, err := l.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name:        aws.String(l.Name),
		Value:       aws.String(string(data)),
		Type:        ssmtypes.ParameterTypeString,
		Overwrite:   aws.Bool(overwrite),
		Description: aws.String("amibake project lock (lease JSON); see 'amibake lock status'"),
	})
	if err != nil {
		return 0, err
	}
	return out.Version, nil
}

// deleteIf deletes the lease only if it is still want (same id and
// version); otherwise another run holds it now.
func (l *Locker) deleteIf(ctx context.Context, want *Lease) error {
	cur, err := l.read(ctx)
	if errors.Is(err, errNoLease) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.ID != want.ID || cur.Version != want.Version {
		return &HeldError{Name: l.Name, Lease: cur}
	}
	_, err = l.SSM.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(l.Name)})
	var nf *ssmtypes.ParameterNotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete project lock %s: %w", l.Name, err)
	}
	return nil
}

// Held is a lease this run holds.
type Held struct {
	locker *Locker
	mu     sync.Mutex
	lease  *Lease
	lost   error
	stop   chan struct{}
	done   chan struct{}
}

// Lease returns a copy of the held lease.
func (h *Held) Lease() Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return *h.lease
}

// Renew extends the lease by TTL, failing with ErrLost if it is no longer ours.
func (h *Held) Renew(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.locker
	cur, err := l.read(ctx)
	if errors.Is(err, errNoLease) || (err == nil && cur.ID != h.lease.ID) {
		h.lost = ErrLost
		return ErrLost
	}
	if err != nil {
		return err
	}
	// An expired lease is fair game for a takeover; renewing it now could
	// overwrite a taker's lease after its check, leaving two holders. It
	// is lost, even if nobody has taken it yet.
	if cur.Expired(l.Now()) {
		h.lost = ErrLost
		return ErrLost
	}
	next := *h.lease
	next.Expires = l.Now().UTC().Add(l.TTL)
	if _, err := l.put(ctx, &next, true); err != nil {
		return fmt.Errorf("renew project lock %s: %w", l.Name, err)
	}
	h.lease = &next
	return nil
}

// KeepAlive renews the lease every TTL/3 until Release. When the lease is
// lost, onLost is called once (typically cancelling the run's context).
func (h *Held) KeepAlive(ctx context.Context, onLost func(error)) {
	h.mu.Lock()
	if h.stop != nil {
		h.mu.Unlock()
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	h.stop, h.done = stop, done
	h.mu.Unlock()
	interval := h.locker.TTL / 3
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		failures := 0
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				err := h.Renew(ctx)
				if errors.Is(err, ErrLost) {
					if onLost != nil {
						onLost(err)
					}
					return
				}
				if err != nil {
					// Transient errors are retried on the next tick; give up
					// before the lease could expire under us.
					failures++
					if failures >= 2 && onLost != nil {
						onLost(fmt.Errorf("cannot renew project lock: %w", err))
						return
					}
					continue
				}
				failures = 0
			}
		}
	}()
}

// Release stops renewal and deletes the lease if it is still ours. It uses
// its own context so that an interrupted run still releases.
func (h *Held) Release(ctx context.Context) error {
	h.mu.Lock()
	stop, done := h.stop, h.done
	h.stop = nil
	h.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil {
		return nil
	}
	cur, err := h.locker.read(ctx)
	if errors.Is(err, errNoLease) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.ID != h.lease.ID {
		return nil
	}
	if err := h.locker.deleteIf(ctx, cur); err != nil {
		return err
	}
	crashpoint.Hit("lock.released")
	return nil
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
