package rollout

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRemainingCheckpoints(t *testing.T) {
	for _, tc := range []struct {
		name        string
		checkpoints []int
		reached     int
		pct         int
		want        []int
	}{
		{"paused at the first", []int{10, 50, 100}, 10, 10, []int{50, 100}},
		{"paused at the second", []int{10, 50, 100}, 50, 55, []int{100}},
		{"a resumed refresh's list", []int{50, 100}, 50, 50, []int{100}},
		{"not at a checkpoint: above the share replaced", []int{10, 50, 100}, 0, 30, []int{50, 100}},
		{"reached is not in the list", []int{10, 50, 100}, 25, 25, []int{50, 100}},
		{"everything replaced", []int{10, 50, 100}, 0, 100, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, remainingCheckpoints(tc.checkpoints, tc.reached, tc.pct))
		})
	}
}

func TestCheckpointReached(t *testing.T) {
	cps := []int{10, 50, 100}
	assert.Equal(t, 10, checkpointReached("Checkpoint 1 of 3 reached: 10% of the instances have been replaced.", cps))
	assert.Equal(t, 50, checkpointReached("Checkpoint 2 of 3 reached: 50% …", cps))
	assert.Equal(t, 0, checkpointReached("Waiting for instances to warm up", cps))
	assert.Equal(t, 0, checkpointReached("Checkpoint 4 of 3 reached", cps), "out of range")
}

func TestParseInts(t *testing.T) {
	assert.Equal(t, []int{50, 100}, parseInts(formatInts([]int{50, 100})))
	assert.Nil(t, parseInts(""))
}
