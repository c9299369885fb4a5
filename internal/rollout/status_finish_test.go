package rollout_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

// A run killed after the default moved (prune and retire left) is not a
// plain success: status says the finish is pending, the confirm of the
// re-run counts the prunes and the retire, and once that re-run is done
// status says succeeded alone.
func TestStatusSaysTheFinishIsPending(t *testing.T) {
	sb, r, old, _, _ := finishWorld(t)
	ctx := context.Background()
	retirer := r.Retirer
	r.Retirer, r.Fleet.Retire.Keep = nil, 10
	_, err := r.Replace(ctx)
	require.NoError(t, err)
	r.Retirer, r.Fleet.Retire.Keep = retirer, 1

	var out bytes.Buffer
	r.Out = &out
	sb.ResetLog()
	st, err := r.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, st.Outcome)
	assert.Equal(t, "finish pending: `amibake rollout web --apply` prunes and retires", st.Reason)
	assert.Contains(t, out.String(), "finish pending: web-a versions [1] not pruned, "+old+" not retired")
	assert.Zero(t, sb.CountFirstAttempts("ec2", "DescribeImages"), "the template versions tell: no image read")
	assert.Equal(t, 2, sb.CountFirstAttempts("ec2", "DescribeLaunchTemplateVersions"), "one read per group, as before")

	asked := -1
	r.Confirm = func(_ context.Context, n int) error { asked = n; return nil }
	rep, err := r.Replace(ctx)
	require.NoError(t, err)
	assert.Contains(t, rep.Reason, "finished an interrupted rollout")
	assert.Equal(t, 3, asked, "a prune per template and one retire")

	out.Reset()
	sb.ResetLog()
	st, err = r.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, st.Outcome)
	assert.Empty(t, st.Reason)
	assert.NotContains(t, out.String(), "pending")
	assert.Equal(t, 2, sb.CountFirstAttempts("ec2", "DescribeImages"), "the layer once per project region")
}

// Killed after the prune, inside the retire: only the layer's AMIs tell.
func TestStatusSaysTheRetireIsPending(t *testing.T) {
	sb, r, old, _, _ := finishWorld(t)
	ctx := context.Background()
	retirer := r.Retirer
	r.Retirer = nil
	_, err := r.Replace(ctx)
	require.NoError(t, err)
	sb.Do(func(sw *sandbox.World) { sw.EC2.Images[old].DeprecationTime = sb.Clock().Now() })
	sb.AdvanceClock(time.Minute)
	r.Retirer = retirer

	var out bytes.Buffer
	r.Out = &out
	st, err := r.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, st.Outcome)
	assert.Contains(t, st.Reason, "finish pending")
	assert.Contains(t, out.String(), "finish pending: "+old+" not retired")

	asked := -1
	r.Confirm = func(_ context.Context, n int) error { asked = n; return nil }
	_, err = r.Replace(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, asked, "the retire alone")
	st, err = r.Status(ctx)
	require.NoError(t, err)
	assert.Empty(t, st.Reason)
}
