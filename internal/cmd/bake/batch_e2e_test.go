package bake_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/lock"
)

// TestBakeUnderBatchLease: a CodeBuild batch as `ci buildspec --batch`
// runs it. While the batch holds the lease, a bake of another batch or
// without one is refused (exit 4, nothing launched); the batch's own layer
// builds run, two of them at once; the release frees the project.
func TestBakeUnderBatchLease(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	lockName := "/amibake/" + project + "/lock"

	code, out, errOut := h.run(ctx, "ci", "lease", "acquire", "--batch", "proj:b1")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Batch proj:b1 holds project lock "+lockName)

	code, _, errOut = h.run(ctx, "bake", "--lock-batch", "proj:b2", "linux")
	assert.Equal(t, 4, code, errOut)
	assert.Contains(t, errOut, "held by codebuild-batch:proj:b1")
	code, _, errOut = h.run(ctx, "bake", "linux")
	assert.Equal(t, 4, code, errOut)
	assert.Zero(t, h.sb.CountCalls("ec2", "RunInstances"))

	// The graph: base (with its ancestors), then both apps at once.
	code, rep, errOut := h.bake("--lock-batch", "proj:b1", "base")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 3, rep.Built)
	putsBefore := h.sb.CountCalls("ssm", "PutParameter")
	var wg sync.WaitGroup
	codes := map[string]int{}
	var mu sync.Mutex
	for _, layer := range []string{"app-web", "app-worker"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, e := h.run(ctx, "bake", "--lock-batch", "proj:b1", layer)
			mu.Lock()
			defer mu.Unlock()
			codes[layer] = c
			if c != 0 {
				t.Logf("%s: %s", layer, e)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, map[string]int{"app-web": 0, "app-worker": 0}, codes)
	assert.NotEmpty(t, h.channel("app-web"))
	assert.NotEmpty(t, h.channel("app-worker"))
	assert.Greater(t, h.sb.CountCalls("ssm", "PutParameter"), putsBefore)

	// The layer builds neither took nor released the lease.
	cur, err := (&lock.Locker{SSM: h.ssm, Name: lockName}).Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, cur)
	assert.Equal(t, "codebuild-batch:proj:b1", cur.Holder)

	code, out, errOut = h.run(ctx, "ci", "lease", "release", "--batch", "proj:b1")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Released project lock")
	code, _, errOut = h.run(ctx, "bake", "--lock-batch", "proj:b1", "app-web")
	assert.Equal(t, 4, code, "the batch is over: %s", errOut)
	code, _, errOut = h.run(ctx, "bake", "app-web")
	assert.Equal(t, 0, code, errOut)
}
