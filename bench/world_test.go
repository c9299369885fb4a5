package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/bench/benchgen"
	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/internal/sandbox"
)

// A seeded state file loads into a sandbox where plan has nothing to do:
// every layer reused in every region, no channel to move.
func TestSeededWorldIsUpToDate(t *testing.T) {
	p, err := newProject(t.TempDir(), benchgen.Spec{Layers: 20})
	require.NoError(t, err)
	assert.Equal(t, 4, p.distinctSources())
	state := filepath.Join(t.TempDir(), "state.json")
	st, err := buildState(state, p, 300)
	require.NoError(t, err)
	assert.Equal(t, 60, st.Current)

	sb := sandbox.Start(t, func(o *sandbox.Options) { o.StateFile = state })
	project := 0
	sb.Do(func(w *sandbox.World) {
		for _, img := range w.EC2.Images {
			if img.Tags[lineage.TagProject] == p.cfg.Project.Name {
				project++
				require.Len(t, img.BlockDevices, 1)
				require.NotNil(t, w.EC2.Snapshots[img.BlockDevices[0].SnapshotID])
			}
		}
	})
	assert.Equal(t, 300, project)

	obs, err := plan.Observe(context.Background(), awsapi.NewClients(sb.Config), p.cfg, p.g, p.fps)
	require.NoError(t, err)
	pl := plan.New(p.g, p.fps, obs, nil)
	require.Len(t, pl.Layers, 20)
	assert.Zero(t, pl.Changes())
	assert.Zero(t, pl.Publishes())
	for _, l := range pl.Layers {
		assert.Len(t, l.AMI, 3, l.Layer)
		assert.Empty(t, l.MissingRegions, l.Layer)
	}
	// ceil(20/200) DescribeImages per region; channels and sources in the
	// build region. SDK retries (the loopback closed-connection race) are
	// not calls plan made.
	assert.Equal(t, 3, sb.CountFirstAttempts("ec2", "DescribeImages"))
}

// Concurrent requests count once in the sandbox's service time.
func TestBusyTimeIsTheUnionOfRequests(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	log := []sandbox.LogEntry{
		{Time: at(100), Micros: 50_000}, // 100–150
		{Time: at(0), Micros: 100_000},  // 0–100, touches the next
		{Time: at(120), Micros: 10_000}, // inside 100–150
		{Time: at(140), Micros: 60_000}, // overlaps: to 200
		{Time: at(300), Micros: 25_000}, // alone
	}
	assert.Equal(t, 225*time.Millisecond, busyTime(log))
	assert.Zero(t, busyTime(nil))
}
