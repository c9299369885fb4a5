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
