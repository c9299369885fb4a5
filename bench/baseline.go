package main

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
)

// maxRSSBytes reads ru_maxrss: kilobytes on Linux, bytes on macOS.
func maxRSSBytes(ru *syscall.Rusage) int64 {
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}

// measured is a baseline's (or an in-process observer's) cost.
type measured struct {
	Calls   callCounts // first attempts
	Retries int        // the SDK's retries besides
	Wall    time.Duration
	Served  time.Duration // the sandbox's share of Wall
	Images  int
	// Scale is what a sampled baseline's calls and time are multiplied
	// by to stand for the whole project (1: measured in full).
	Scale int
}

func (m *measured) describeImages() int { return m.Calls.describeImages() * max(m.Scale, 1) }

func (m *measured) wall() time.Duration { return m.Wall * time.Duration(max(m.Scale, 1)) }

func (m *measured) finish(srv *server, started time.Time) (*measured, error) {
	m.Wall = time.Since(started)
	var err error
	m.Calls, m.Retries, m.Served, err = srv.served()
	return m, err
}

// perLayerBaseline is the naive observer: for every layer, in every
// region it lives in, one DescribeImages filtered on that layer's current
// fingerprint (paged) — what a script that loops over layers does. With
// every > 1 it queries every every-th layer only and scales calls and time
// by every (each query costs the same: one fingerprint, same account).
func perLayerBaseline(ctx context.Context, srv *server, p *project, every int) (*measured, error) {
	if err := srv.resetLog(); err != nil {
		return nil, err
	}
	cfg := srv.awsConfig()
	clients := map[string]*ec2.Client{}
	project := p.cfg.Project.Name
	found := 0
	started := time.Now()
	every = max(every, 1)
	for i, n := range p.g.Topo() {
		if i%every != 0 {
			continue
		}
		fp := p.fps[n.Name()]
		for _, region := range plan.Regions(p.cfg, n.Layer) {
			cl := clients[region]
			if cl == nil {
				cl = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.Region = region })
				clients[region] = cl
			}
			in := &ec2.DescribeImagesInput{
				Owners:            []string{"self"},
				IncludeDeprecated: aws.Bool(true),
				Filters: []ec2types.Filter{
					{Name: aws.String("tag:" + lineage.TagProject), Values: []string{project}},
					{Name: aws.String("tag:" + lineage.TagFingerprint), Values: []string{fp.Hash}},
				},
			}
			pages := ec2.NewDescribeImagesPaginator(cl, in)
			for pages.HasMorePages() {
				out, err := pages.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("per-layer DescribeImages %s in %s: %w", n.Name(), region, err)
				}
				found += len(out.Images)
			}
		}
	}
	return (&measured{Images: found, Scale: every}).finish(srv, started)
}

// sweepBaseline reads every AMI of the project in every region: one
// DescribeImages filtered only on tag:amibake:project, all pages of 1000.
// With sample set it sweeps only the first region and scales calls and
// time by the number of regions (the seeded history is spread evenly).
func sweepBaseline(ctx context.Context, srv *server, p *project, sample bool) (*measured, error) {
	if err := srv.resetLog(); err != nil {
		return nil, err
	}
	cfg := srv.awsConfig()
	found := 0
	regions := plan.Regions(p.cfg, nil)
	scale := 1
	if sample {
		regions, scale = regions[:1], len(regions)
	}
	started := time.Now()
	for _, region := range regions {
		cl := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.Region = region })
		in := &ec2.DescribeImagesInput{
			Owners:            []string{"self"},
			IncludeDeprecated: aws.Bool(true),
			MaxResults:        aws.Int32(1000),
			Filters: []ec2types.Filter{
				{Name: aws.String("tag:" + lineage.TagProject), Values: []string{p.cfg.Project.Name}},
			},
		}
		pages := ec2.NewDescribeImagesPaginator(cl, in)
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("sweep DescribeImages in %s: %w", region, err)
			}
			found += len(out.Images)
		}
	}
	return (&measured{Images: found * scale, Scale: scale}).finish(srv, started)
}
