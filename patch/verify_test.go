package patch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/patch"
	"github.com/amibake/amibake/patch/scan"
)

func TestVerify(t *testing.T) {
	sb := sandbox.Start(t)
	clients := awsapi.NewClients(sb.Config)
	var current, stale string
	sb.Do(func(w *sandbox.World) {
		now := sb.Clock().Now()
		current, stale = w.NewID("ami"), w.NewID("ami")
		for id, pkgs := range map[string]map[string]string{
			current: w.Catalogue.JeOSPackages(sandbox.ReleaseFor(now)),
			stale:   w.Catalogue.JeOSPackages(sandbox.ReleaseFor(now.AddDate(0, -6, 0))),
		} {
			w.EC2.Images[id] = &sandbox.Image{ID: id, Account: sandbox.DefaultAccount, Region: "us-east-1", Name: id,
				State: "available", StateSince: now, CreationDate: now, AvailableAt: now, Architecture: "x86_64",
				RootDeviceName: "/dev/xvda", Content: sandbox.Content{Packages: pkgs}}
		}
	})
	s := &scan.Scanner{SSM: clients.SSM(""), EC2: clients.EC2(""), Project: "p", Poll: time.Millisecond}

	rep, err := patch.Verify(context.Background(), s, scan.Image{Layer: "linux", AMI: current})
	require.NoError(t, err)
	assert.Empty(t, rep.Missing)

	rep, err = patch.Verify(context.Background(), s, scan.Image{Layer: "linux", AMI: stale})
	var nc *patch.NonCompliantError
	require.True(t, errors.As(err, &nc), err)
	assert.NotEmpty(t, nc.Missing)
	assert.Equal(t, rep.Missing, nc.Missing)
	assert.Contains(t, err.Error(), stale+" (linux) is not compliant with its patch baseline")
}

// A scan.InstanceHook in the context runs on the verify scan's instance
// after the scan, while it still runs, with the scan's report; the
// instance is terminated after it.
func TestVerifyInstanceHook(t *testing.T) {
	sb := sandbox.Start(t)
	clients := awsapi.NewClients(sb.Config)
	var current, stale string
	sb.Do(func(w *sandbox.World) {
		now := sb.Clock().Now()
		current, stale = w.NewID("ami"), w.NewID("ami")
		for id, pkgs := range map[string]map[string]string{
			current: w.Catalogue.JeOSPackages(sandbox.ReleaseFor(now)),
			stale:   w.Catalogue.JeOSPackages(sandbox.ReleaseFor(now.AddDate(0, -6, 0))),
		} {
			w.EC2.Images[id] = &sandbox.Image{ID: id, Account: sandbox.DefaultAccount, Region: "us-east-1", Name: id,
				State: "available", StateSince: now, CreationDate: now, AvailableAt: now, Architecture: "x86_64",
				RootDeviceName: "/dev/xvda", Content: sandbox.Content{Packages: pkgs}}
		}
	})
	s := &scan.Scanner{SSM: clients.SSM(""), EC2: clients.EC2(""), Project: "p", Poll: time.Millisecond}
	type call struct {
		ami, instance, state string
		missing              int
	}
	var calls []call
	ctx := scan.WithInstanceHook(context.Background(), func(ctx context.Context, img scan.Image, id string, rep *scan.Report) {
		st := ""
		sb.Do(func(w *sandbox.World) { st = w.EC2.Instances[id].State })
		calls = append(calls, call{ami: img.AMI, instance: id, state: st, missing: len(rep.Missing)})
	})

	rep, err := patch.Verify(ctx, s, scan.Image{Layer: "linux", AMI: current})
	require.NoError(t, err)
	_, err = patch.Verify(ctx, s, scan.Image{Layer: "linux", AMI: stale})
	require.Error(t, err)
	require.Len(t, calls, 2)
	assert.Equal(t, call{ami: current, instance: rep.ScanInstance, state: "running", missing: 0}, calls[0])
	assert.Equal(t, stale, calls[1].ami)
	assert.Equal(t, "running", calls[1].state)
	assert.NotZero(t, calls[1].missing, "the hook sees the verdict's findings")
	sb.Do(func(w *sandbox.World) {
		for _, c := range calls {
			assert.Contains(t, []string{"shutting-down", "terminated"}, w.EC2.Instances[c.instance].State, "terminated after the hook")
		}
	})

	calls = nil
	_, err = patch.Verify(context.Background(), s, scan.Image{Layer: "linux", AMI: current})
	require.NoError(t, err)
	assert.Empty(t, calls, "no hook without the context value")
}
