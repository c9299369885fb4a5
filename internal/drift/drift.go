// Package drift finds the instances of each fleet that run an AMI other
// than the fleet's channel AMI, and how far behind they are: channel
// versions, days between the AMIs' creation dates, and the critical patches
// their last patch scan found missing (issue 10, `amibake drift`).
package drift

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
)

// Batch sizes: instance ids per DescribeInstances, ASG names per
// DescribeAutoScalingGroups, instance ids per DescribeInstancePatchStates.
const (
	instanceBatch   = 100
	asgBatch        = 50
	patchStateBatch = 50
)

// Clients are the AWS calls drift makes (home region: fleets live there).
type Clients struct {
	EC2         awsapi.EC2
	SSM         awsapi.SSM
	AutoScaling awsapi.AutoScaling
}

// Instance is one instance of a fleet that runs another AMI.
type Instance struct {
	ID    string `json:"instance"`
	AMI   string `json:"ami"`
	ASG   string `json:"asg,omitempty"`
	State string `json:"state"`
	// VersionsBehind counts the channel versions after the last one that
	// held the instance's AMI; nil when the channel never held it.
	VersionsBehind *int `json:"versions_behind"`
	// DaysBehind is the channel AMI's creation date minus the instance
	// AMI's, in whole days; nil when either date is unknown (AMI gone).
	DaysBehind *int `json:"days_behind"`
	// Scanned says a patch scan or install reported on the instance;
	// CriticalMissing is its CriticalNonCompliantCount, MissingCount its
	// missing patches.
	Scanned         bool `json:"scanned"`
	CriticalMissing int  `json:"critical_missing"`
	MissingCount    int  `json:"missing"`
}

// Fleet is one fleet's report.
type Fleet struct {
	Fleet          string     `json:"fleet"`
	Layer          string     `json:"layer"`
	Channel        string     `json:"channel"`
	Strategy       string     `json:"strategy"`
	ChannelAMI     string     `json:"channel_ami,omitempty"`
	ChannelVersion int64      `json:"channel_version,omitempty"`
	Instances      int        `json:"instances"`
	Drifted        []Instance `json:"drifted"`
	// Error says why the fleet could not be judged (channel not set).
	Error string `json:"error,omitempty"`
}

// Report is the whole answer.
type Report struct {
	Fleets []Fleet `json:"fleets"`
	Drift  bool    `json:"drift"`
}

// Check builds the report for the named fleets (all when empty).
func Check(ctx context.Context, cfg *config.Config, cl Clients, fleets []string) (*Report, error) {
	names := fleets
	if len(names) == 0 {
		for n := range cfg.Fleets {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	rep := &Report{Fleets: []Fleet{}}
	paths := channel.Paths(cfg)
	for _, name := range names {
		fl := cfg.Fleets[name]
		if fl == nil {
			return nil, fmt.Errorf("no fleet %q in the project", name)
		}
		ch := fl.Channel
		if ch == "" {
			ch = lineage.ChannelStable
		}
		fr := Fleet{Fleet: name, Layer: fl.Layer, Channel: ch, Strategy: fl.Strategy, Drifted: []Instance{}}
		hist, err := channel.History(ctx, cl.SSM, paths.Channel(fl.Layer, ch))
		var ns *channel.NotSetError
		if errors.As(err, &ns) {
			fr.Error = ns.Error()
			rep.Fleets = append(rep.Fleets, fr)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("fleet %s: %w", name, err)
		}
		cur := hist[len(hist)-1]
		fr.ChannelAMI, fr.ChannelVersion = cur.AMI, cur.Version
		insts, err := fleetInstances(ctx, cl, fl)
		if err != nil {
			return nil, fmt.Errorf("fleet %s: %w", name, err)
		}
		fr.Instances = len(insts)
		for _, in := range insts {
			if in.AMI == cur.AMI {
				continue
			}
			if v, ok := versionsBehind(hist, in.AMI); ok {
				in.VersionsBehind = &v
			}
			fr.Drifted = append(fr.Drifted, in)
		}
		if len(fr.Drifted) > 0 {
			if err := annotate(ctx, cl, cur.AMI, fr.Drifted); err != nil {
				return nil, fmt.Errorf("fleet %s: %w", name, err)
			}
			rep.Drift = true
		}
		rep.Fleets = append(rep.Fleets, fr)
	}
	return rep, nil
}

// versionsBehind counts the history entries after the last one holding ami.
func versionsBehind(hist []channel.Version, ami string) (int, bool) {
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].AMI == ami {
			return len(hist) - 1 - i, true
		}
	}
	return 0, false
}

// fleetInstances lists the live instances of a fleet: its ASGs' instances
// (replace) or the instances carrying its target tags (in-place), sorted by
// id.
func fleetInstances(ctx context.Context, cl Clients, fl *config.Fleet) ([]Instance, error) {
	var out []Instance
	if len(fl.ASGs) > 0 && len(fl.TargetTags) == 0 {
		asgOf := map[string]string{}
		var ids []string
		for start := 0; start < len(fl.ASGs); start += asgBatch {
			names := fl.ASGs[start:min(start+asgBatch, len(fl.ASGs))]
			p := autoscaling.NewDescribeAutoScalingGroupsPaginator(cl.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: names})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("describe auto scaling groups %v: %w", names, err)
				}
				for _, g := range page.AutoScalingGroups {
					for _, i := range g.Instances {
						id := aws.ToString(i.InstanceId)
						asgOf[id] = aws.ToString(g.AutoScalingGroupName)
						ids = append(ids, id)
					}
				}
			}
		}
		sort.Strings(ids)
		for start := 0; start < len(ids); start += instanceBatch {
			batch := ids[start:min(start+instanceBatch, len(ids))]
			got, err := describe(ctx, cl.EC2, &ec2.DescribeInstancesInput{InstanceIds: batch})
			if err != nil {
				return nil, err
			}
			for _, in := range got {
				in.ASG = asgOf[in.ID]
				out = append(out, in)
			}
		}
	} else {
		if len(fl.TargetTags) == 0 {
			return nil, fmt.Errorf("no ASGs and no targets { tags } to find its instances")
		}
		filters := []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}}
		for _, k := range sortedKeys(fl.TargetTags) {
			filters = append(filters, lineage.TagFilter(k, fl.TargetTags[k]))
		}
		got, err := describe(ctx, cl.EC2, &ec2.DescribeInstancesInput{Filters: filters})
		if err != nil {
			return nil, err
		}
		out = got
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// describe pages DescribeInstances and keeps the live instances.
func describe(ctx context.Context, client awsapi.EC2, in *ec2.DescribeInstancesInput) ([]Instance, error) {
	var out []Instance
	p := ec2.NewDescribeInstancesPaginator(client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe instances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				state := ""
				if i.State != nil {
					state = string(i.State.Name)
				}
				if state == "terminated" || state == "shutting-down" {
					continue
				}
				out = append(out, Instance{ID: aws.ToString(i.InstanceId), AMI: aws.ToString(i.ImageId), State: state})
			}
		}
	}
	return out, nil
}

// annotate fills days behind (AMI creation dates, one batched
// DescribeImages) and the patch state (DescribeInstancePatchStates, 50 ids
// a call).
func annotate(ctx context.Context, cl Clients, channelAMI string, insts []Instance) error {
	amis := []string{channelAMI}
	ids := make([]string, 0, len(insts))
	for _, in := range insts {
		amis = append(amis, in.AMI)
		ids = append(ids, in.ID)
	}
	imgs, err := lineage.DescribeIDs(ctx, cl.EC2, "", amis)
	if err != nil {
		return fmt.Errorf("creation dates of the fleet's AMIs: %w", err)
	}
	created := func(id string) (time.Time, bool) {
		img, ok := imgs[id]
		if !ok {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339, img.CreationDate)
		return t, err == nil
	}
	chAt, chOK := created(channelAMI)
	for i := range insts {
		if at, ok := created(insts[i].AMI); ok && chOK {
			d := int(chAt.Sub(at).Hours() / 24)
			insts[i].DaysBehind = &d
		}
	}
	for start := 0; start < len(ids); start += patchStateBatch {
		batch := ids[start:min(start+patchStateBatch, len(ids))]
		var token *string
		for {
			out, err := cl.SSM.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: batch, NextToken: token})
			if err != nil {
				return fmt.Errorf("patch states: %w", err)
			}
			for _, st := range out.InstancePatchStates {
				idx := indexOf(insts, aws.ToString(st.InstanceId))
				if idx < 0 {
					continue
				}
				insts[idx].Scanned = true
				insts[idx].CriticalMissing = int(aws.ToInt32(st.CriticalNonCompliantCount))
				insts[idx].MissingCount = int(st.MissingCount)
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			token = out.NextToken
		}
	}
	return nil
}

func indexOf(insts []Instance, id string) int {
	for i := range insts {
		if insts[i].ID == id {
			return i
		}
	}
	return -1
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
