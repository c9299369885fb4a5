package awsapi

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Clients hands out one client per service and region, built lazily from
// one aws.Config (the default chain, or the sandbox's).
type Clients struct {
	cfg aws.Config

	mu  sync.Mutex
	ec2 map[string]*ec2.Client
	ssm map[string]*ssm.Client
	asg map[string]*autoscaling.Client
	sts *sts.Client
	s3  map[string]*s3.Client
}

// NewClients wraps cfg. cfg.Region is the home region used when a caller
// passes "".
func NewClients(cfg aws.Config) *Clients {
	return &Clients{
		cfg: cfg,
		ec2: map[string]*ec2.Client{},
		ssm: map[string]*ssm.Client{},
		asg: map[string]*autoscaling.Client{},
	}
}

// Config returns the underlying configuration.
func (c *Clients) Config() aws.Config { return c.cfg }

func (c *Clients) region(r string) string {
	if r == "" {
		return c.cfg.Region
	}
	return r
}

// EC2 returns the EC2 client for region ("" = home).
func (c *Clients) EC2(region string) EC2 {
	region = c.region(region)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.ec2[region]; ok {
		return cl
	}
	cl := ec2.NewFromConfig(c.cfg, func(o *ec2.Options) { o.Region = region })
	c.ec2[region] = cl
	return cl
}

// SSM returns the SSM client for region ("" = home).
func (c *Clients) SSM(region string) SSM {
	region = c.region(region)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.ssm[region]; ok {
		return cl
	}
	cl := ssm.NewFromConfig(c.cfg, func(o *ssm.Options) { o.Region = region })
	c.ssm[region] = cl
	return cl
}

// AutoScaling returns the Auto Scaling client for region ("" = home).
func (c *Clients) AutoScaling(region string) AutoScaling {
	region = c.region(region)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.asg[region]; ok {
		return cl
	}
	cl := autoscaling.NewFromConfig(c.cfg, func(o *autoscaling.Options) { o.Region = region })
	c.asg[region] = cl
	return cl
}

// STS returns the STS client.
func (c *Clients) STS() STS {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sts == nil {
		c.sts = sts.NewFromConfig(c.cfg)
	}
	return c.sts
}

// S3 returns the S3 client for region ("" = home). With a custom endpoint
// (the sandbox, or any S3-compatible store) it addresses buckets
// path-style, as such endpoints expect; against AWS it uses the default
// virtual-hosted style.
func (c *Clients) S3(region string) S3 {
	region = c.region(region)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.s3[region]; ok {
		return cl
	}
	if c.s3 == nil {
		c.s3 = map[string]*s3.Client{}
	}
	cl := s3.NewFromConfig(c.cfg, func(o *s3.Options) {
		o.Region = region
		o.UsePathStyle = c.cfg.BaseEndpoint != nil
	})
	c.s3[region] = cl
	return cl
}

// SSMInventory returns region's SSM client ("" = home) as the inventory
// interface: the same client SSM returns.
func (c *Clients) SSMInventory(region string) SSMInventory {
	return c.SSM(region).(*ssm.Client)
}

// SSMAssociations returns region's SSM client ("" = home) as the State
// Manager interface: the same client SSM returns.
func (c *Clients) SSMAssociations(region string) SSMAssociations {
	return c.SSM(region).(*ssm.Client)
}

// SSMWindows returns region's SSM client ("" = home) as the Maintenance
// Windows interface: the same client SSM returns.
func (c *Clients) SSMWindows(region string) SSMWindows {
	return c.SSM(region).(*ssm.Client)
}
