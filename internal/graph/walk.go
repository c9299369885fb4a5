package graph

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
)

// ErrUpstreamFailed is the error Walk records for a layer it did not run
// because an ancestor failed; the wrapping error names that ancestor.
var ErrUpstreamFailed = errors.New("upstream layer failed")

// UpstreamError is ErrUpstreamFailed for one layer: Failed is the name of
// the ancestor whose failure skipped it.
type UpstreamError struct {
	Failed string
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("skipped: upstream layer %s failed", e.Failed)
}

// Is makes errors.Is(err, ErrUpstreamFailed) true.
func (e *UpstreamError) Is(target error) bool { return target == ErrUpstreamFailed }

// Walk runs fn on every node, each as soon as its parent has finished
// successfully (not when the parent's whole level is done), at most
// parallel at a time (parallel < 1 means 1). When ready nodes outnumber
// free slots, they start in Topo order. No node ever runs twice.
//
// When fn fails for a node (an error or a panic), its descendants are not
// run; each gets an *UpstreamError naming the failed node, and every other
// branch goes on. When ctx is cancelled no new node starts, the running
// ones see the cancelled ctx, Walk waits for them, and each node that never
// started gets an error wrapping ctx.Err().
//
// The result maps the name of every node that did not succeed to its
// error; a node missing from it succeeded. Walk returns when every fn it
// started has returned.
func (g *Graph) Walk(ctx context.Context, parallel int, fn func(context.Context, *Node) error) map[string]error {
	if parallel < 1 {
		parallel = 1
	}
	topo := g.Topo()
	errs := map[string]error{}
	if len(topo) == 0 {
		return errs
	}
	pos := make(map[*Node]int, len(topo))
	for i, n := range topo {
		pos[n] = i
	}

	type result struct {
		n   *Node
		err error
	}
	done := make(chan result, parallel)
	ready := &topoHeap{pos: pos}
	for _, n := range topo {
		if n.Parent == nil {
			heap.Push(ready, n)
		}
	}
	started := map[*Node]bool{}
	running := 0

	for {
		for running < parallel && ready.Len() > 0 && ctx.Err() == nil {
			n := heap.Pop(ready).(*Node)
			if started[n] { // cannot happen in a forest; guard the invariant anyway
				continue
			}
			started[n] = true
			running++
			go func() {
				done <- result{n, safeCall(ctx, n, fn)}
			}()
		}
		if running == 0 {
			break
		}
		r := <-done
		running--
		if r.err != nil {
			errs[r.n.Name()] = r.err
			if ctx.Err() != nil && errors.Is(r.err, ctx.Err()) {
				continue // cancelled, not failed: descendants are "not started"
			}
			for _, d := range g.Descendants(r.n.Name()) {
				errs[d.Name()] = fmt.Errorf("layer %s: %w", d.Name(), &UpstreamError{Failed: r.n.Name()})
			}
			continue
		}
		for _, c := range r.n.Children {
			heap.Push(ready, c)
		}
	}

	if err := ctx.Err(); err != nil {
		for _, n := range topo {
			if _, ok := errs[n.Name()]; !ok && !started[n] {
				errs[n.Name()] = fmt.Errorf("layer %s not started: %w", n.Name(), err)
			}
		}
	}
	return errs
}

// safeCall runs fn and turns a panic into an error.
func safeCall(ctx context.Context, n *Node, fn func(context.Context, *Node) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("layer %s: panic: %v", n.Name(), r)
		}
	}()
	return fn(ctx, n)
}

// topoHeap is a min-heap of nodes by Topo position.
type topoHeap struct {
	nodes []*Node
	pos   map[*Node]int
}

func (h *topoHeap) Len() int           { return len(h.nodes) }
func (h *topoHeap) Less(i, j int) bool { return h.pos[h.nodes[i]] < h.pos[h.nodes[j]] }
func (h *topoHeap) Swap(i, j int)      { h.nodes[i], h.nodes[j] = h.nodes[j], h.nodes[i] }
func (h *topoHeap) Push(x any)         { h.nodes = append(h.nodes, x.(*Node)) }
func (h *topoHeap) Pop() any {
	n := h.nodes[len(h.nodes)-1]
	h.nodes = h.nodes[:len(h.nodes)-1]
	return n
}
