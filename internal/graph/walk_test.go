package graph

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWalkRunsEveryNodeOnceParentsFirst(t *testing.T) {
	g := mustBuild(t, syntheticConfig(200, 0))
	var mu sync.Mutex
	finished := map[string]bool{}
	runs := map[string]int{}
	errs := g.Walk(context.Background(), 8, func(_ context.Context, n *Node) error {
		mu.Lock()
		runs[n.Name()]++
		if n.Parent != nil && !finished[n.Parent.Name()] {
			t.Errorf("%s started before its parent %s finished", n.Name(), n.Parent.Name())
		}
		mu.Unlock()
		time.Sleep(time.Duration(len(n.Name())%3) * 100 * time.Microsecond)
		mu.Lock()
		finished[n.Name()] = true
		mu.Unlock()
		return nil
	})
	assert.Empty(t, errs)
	assert.Len(t, runs, 200)
	for name, c := range runs {
		assert.Equal(t, 1, c, name)
	}
}

func TestWalkMaxConcurrency(t *testing.T) {
	g := mustBuild(t, syntheticConfig(60, 0))
	for _, parallel := range []int{1, 3, 7} {
		var cur, peak atomic.Int32
		errs := g.Walk(context.Background(), parallel, func(context.Context, *Node) error {
			c := cur.Add(1)
			for {
				p := peak.Load()
				if c <= p || peak.CompareAndSwap(p, c) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			cur.Add(-1)
			return nil
		})
		assert.Empty(t, errs)
		assert.LessOrEqual(t, int(peak.Load()), parallel)
		assert.Equal(t, int32(parallel), peak.Load(), "the walk should fill all %d slots", parallel)
	}
}

func TestWalkSequentialIsTopo(t *testing.T) {
	g := mustBuild(t, exampleConfig())
	var order []string
	g.Walk(context.Background(), 0, func(_ context.Context, n *Node) error {
		order = append(order, n.Name())
		return nil
	})
	assert.Equal(t, names(g.Topo()), order)
}

// A child must start as soon as its own parent is done, even while a slow
// node of its parent's level is still running.
func TestWalkChildStartsRightAfterParent(t *testing.T) {
	g := mustBuild(t, exampleConfig())
	release := make(chan struct{})
	webStarted := make(chan struct{})
	errs := make(chan map[string]error, 1)
	go func() {
		errs <- g.Walk(context.Background(), 4, func(ctx context.Context, n *Node) error {
			switch n.Name() {
			case "windows": // a root, on level 0 with linux: slow
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			case "app-web":
				close(webStarted)
			}
			return nil
		})
	}()
	select {
	case <-webStarted: // linux → foundation → base → app-web ran while windows is still busy
	case <-time.After(5 * time.Second):
		t.Fatal("app-web did not start while windows (same level as linux) was still running")
	}
	close(release)
	assert.Empty(t, <-errs)
}

func TestWalkFailureSkipsOnlyDescendants(t *testing.T) {
	g := mustBuild(t, exampleConfig())
	boom := errors.New("packer exploded")
	var mu sync.Mutex
	ran := map[string]bool{}
	errs := g.Walk(context.Background(), 3, func(_ context.Context, n *Node) error {
		mu.Lock()
		ran[n.Name()] = true
		mu.Unlock()
		if n.Name() == "foundation" {
			return boom
		}
		if n.Name() == "win-base" {
			panic("kaboom")
		}
		return nil
	})
	assert.Equal(t, map[string]bool{"linux": true, "foundation": true, "windows": true, "win-base": true}, ran)
	require.Len(t, errs, 5)
	assert.ErrorIs(t, errs["foundation"], boom)
	assert.ErrorContains(t, errs["win-base"], "panic: kaboom")
	for _, name := range []string{"base", "app-web", "app-worker"} {
		assert.ErrorIs(t, errs[name], ErrUpstreamFailed, name)
		var ue *UpstreamError
		require.ErrorAs(t, errs[name], &ue)
		assert.Equal(t, "foundation", ue.Failed)
	}
	assert.NotContains(t, errs, "linux")
	assert.NotContains(t, errs, "windows")
}

func TestWalkCancellation(t *testing.T) {
	g := mustBuild(t, exampleConfig())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var ran []string
	errs := g.Walk(ctx, 2, func(ctx context.Context, n *Node) error {
		mu.Lock()
		ran = append(ran, n.Name())
		mu.Unlock()
		if n.Name() == "foundation" {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
		if n.Name() == "win-base" {
			<-ctx.Done() // still running when cancelled: sees it
			return ctx.Err()
		}
		return nil
	})
	assert.NotContains(t, ran, "base")
	assert.ErrorIs(t, errs["foundation"], context.Canceled)
	for _, name := range []string{"base", "app-web", "app-worker"} {
		assert.ErrorIs(t, errs[name], context.Canceled, name)
		assert.NotErrorIs(t, errs[name], ErrUpstreamFailed, name)
	}
	assert.NotContains(t, errs, "linux")
	// Every node has an outcome: ran successfully, failed, or not started.
	for _, n := range g.Topo() {
		_, failed := errs[n.Name()]
		assert.True(t, failed || contains(ran, n.Name()), n.Name())
	}
}

func TestWalkCancelledBeforeStart(t *testing.T) {
	g := mustBuild(t, exampleConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	errs := g.Walk(ctx, 4, func(context.Context, *Node) error { called = true; return nil })
	assert.False(t, called)
	assert.Len(t, errs, 7)
	for _, err := range errs {
		assert.ErrorIs(t, err, context.Canceled)
	}
}

func TestWalkEmpty(t *testing.T) {
	g, _ := Build(mkConfig())
	assert.Empty(t, g.Walk(context.Background(), 2, func(context.Context, *Node) error { return nil }))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
