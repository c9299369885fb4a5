package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A batch lease lets the builds of one CodeBuild batch build-graph bake
// their layers at the same time under one project lock. The graph's first
// build takes the lease for the whole batch (holder BatchHolder(id), TTL
// the batch timeout); every layer build joins it (JoinBatch: the lease must
// name its batch and be live; it is never written); the graph's last build
// releases it (ReleaseBatch). Any other run meets an ordinary held lock
// (exit 4) until then.

// BatchHolderPrefix starts the holder of every batch lease.
const BatchHolderPrefix = "codebuild-batch:"

// BatchHolder is the lease holder of batch id.
func BatchHolder(id string) string { return BatchHolderPrefix + id }

// BatchError says a layer build of a batch may not proceed under the
// batch lease: it is missing, expired, or another run's. Exit code 4.
type BatchError struct {
	Name  string
	Batch string
	Lease *Lease // nil: no lease
}

func (e *BatchError) Error() string {
	switch {
	case e.Lease == nil:
		return fmt.Sprintf("project lock %s is not held by batch %s (no lease: the batch's lock build did not run, or the batch released it)", e.Name, e.Batch)
	case e.Lease.Holder == BatchHolder(e.Batch):
		return fmt.Sprintf("batch lease %s of batch %s expired at %s; a run may take it over — not building", e.Name, e.Batch, e.Lease.Expires.UTC().Format(time.RFC3339))
	default:
		return fmt.Sprintf("project lock %s is held by %s, not by batch %s", e.Name, e.Lease, e.Batch)
	}
}

// ExitCode is the DESIGN.md lock-held code.
func (e *BatchError) ExitCode() int { return 4 }

func validBatch(id string) error {
	if strings.TrimSpace(id) == "" {
		return errors.New("empty batch id (set --lock-batch or $AMIBAKE_BATCH_ID)")
	}
	return nil
}

// AcquireBatch takes the project lock for batch id with the locker's TTL
// (the batch timeout). The Held it returns is left in place when the
// process ends: ReleaseBatch, in the graph's last build, removes it.
// Taking it again for the same batch (a retried lock build) renews it.
func (l *Locker) AcquireBatch(ctx context.Context, id string, timeout time.Duration) (*Held, error) {
	if err := validBatch(id); err != nil {
		return nil, err
	}
	l.Holder = BatchHolder(id)
	l.defaults()
	if cur, err := l.Status(ctx); err != nil {
		return nil, err
	} else if cur != nil && cur.Holder == l.Holder && !cur.Expired(l.Now()) {
		h := &Held{locker: l, lease: cur}
		if err := h.Renew(ctx); err != nil {
			return nil, err
		}
		return h, nil
	}
	return l.Acquire(ctx, timeout)
}

// JoinBatch checks that batch id holds a live lease: a layer build of the
// batch then proceeds without taking or renewing the lock, so that sibling
// layers build at once. The returned lease is for the report.
func (l *Locker) JoinBatch(ctx context.Context, id string) (*Lease, error) {
	if err := validBatch(id); err != nil {
		return nil, err
	}
	l.defaults()
	cur, err := l.Status(ctx)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.Holder != BatchHolder(id) || cur.Expired(l.Now()) {
		return nil, &BatchError{Name: l.Name, Batch: id, Lease: cur}
	}
	return cur, nil
}

// ReleaseBatch deletes the lease of batch id. No lease is fine (already
// released, or expired and cleaned); another run's lease is left alone
// and reported as a BatchError.
func (l *Locker) ReleaseBatch(ctx context.Context, id string) (*Lease, error) {
	if err := validBatch(id); err != nil {
		return nil, err
	}
	l.defaults()
	cur, err := l.Status(ctx)
	if err != nil || cur == nil {
		return nil, err
	}
	if cur.Holder != BatchHolder(id) {
		return nil, &BatchError{Name: l.Name, Batch: id, Lease: cur}
	}
	if err := l.deleteIf(ctx, cur); err != nil {
		return nil, err
	}
	return cur, nil
}
