package awsapi

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// CloudWatch is the subset of CloudWatch amibake calls: metrics for canary
// analysis, alarms for rollouts.
type CloudWatch interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var _ CloudWatch = (*cloudwatch.Client)(nil)

// cloudWatchClients caches CloudWatch clients per Clients and region (kept
// here so that the Clients struct needs no new field).
var cloudWatchClients sync.Map // cwKey → *cloudwatch.Client

type cwKey struct {
	c      *Clients
	region string
}

// CloudWatch returns the CloudWatch client for region ("" = home).
func (c *Clients) CloudWatch(region string) CloudWatch {
	region = c.region(region)
	k := cwKey{c, region}
	if cl, ok := cloudWatchClients.Load(k); ok {
		return cl.(*cloudwatch.Client)
	}
	cl, _ := cloudWatchClients.LoadOrStore(k, cloudwatch.NewFromConfig(c.cfg, func(o *cloudwatch.Options) { o.Region = region }))
	return cl.(*cloudwatch.Client)
}
