package retire

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/crashpoint"
	"github.com/amibake/amibake/internal/lineage"
)

// ---- decide -------------------------------------------------------------

type decide struct{}

func (decide) String() string { return "decide what to keep" }

func (decide) Run(ctx context.Context, rn *run) error {
	builds := rn.sortedBuilds()
	only := map[string]bool{}
	for _, id := range rn.req.Only {
		if b := rn.byAMI[id]; b != nil {
			only[b.key] = true
		}
	}
	rank := map[string]int{}
	for _, b := range builds {
		// Only builds that can launch count towards the newest N: a failed
		// build never pushes a good one out.
		if usable(b) {
			rank[b.Layer]++
		}
		keep := func(why string) { b.Reasons = append(b.Reasons, why) }
		if !b.selected {
			keep("layer not selected")
		}
		if len(rn.req.Only) > 0 && !only[b.key] {
			keep("not replaced by this rollout")
		}
		for _, c := range b.Copies {
			var insts []string
			for _, why := range rn.res.InUse[c.AMI] {
				if strings.HasPrefix(why, "instance ") {
					insts = append(insts, strings.TrimPrefix(why, "instance "))
					continue
				}
				keep(fmt.Sprintf("in use (%s): %s", c.AMI, why))
			}
			switch {
			case len(insts) == 1:
				keep(fmt.Sprintf("in use (%s): instance %s", c.AMI, insts[0]))
			case len(insts) > 3:
				keep(fmt.Sprintf("in use (%s): %d instances (%s and %d more)", c.AMI, len(insts), strings.Join(insts[:3], ", "), len(insts)-3))
			case len(insts) > 1:
				keep(fmt.Sprintf("in use (%s): %d instances (%s)", c.AMI, len(insts), strings.Join(insts, ", ")))
			}
			if c.State == "pending" {
				keep(fmt.Sprintf("%s is still pending", c.AMI))
			}
		}
		if n := rn.keepFor(b.Layer); usable(b) && rank[b.Layer] <= n {
			keep(fmt.Sprintf("among the newest %d of layer %s", n, b.Layer))
		}
		if d := rn.req.OlderThan; d > 0 && rn.now.Sub(b.Created) < d {
			keep(fmt.Sprintf("younger than %s", d))
		}
	}
	// Launch permissions, only for what would otherwise go.
	if len(rn.req.KeepSharedWith) > 0 {
		for _, b := range builds {
			if len(b.Reasons) > 0 {
				continue
			}
			for _, c := range b.Copies {
				out, err := rn.r.EC2(c.Region).DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{
					ImageId: aws.String(c.AMI), Attribute: ec2types.ImageAttributeNameLaunchPermission,
				})
				if err != nil {
					return fmt.Errorf("launch permissions of %s in %s: %w", c.AMI, c.Region, err)
				}
				for _, lp := range out.LaunchPermissions {
					who := aws.ToString(lp.UserId)
					if lp.Group == ec2types.PermissionGroupAll {
						who = "public"
					}
					if who == "" {
						who = aws.ToString(lp.OrganizationArn) + aws.ToString(lp.OrganizationalUnitArn)
					}
					if contains(rn.req.KeepSharedWith, "all") || contains(rn.req.KeepSharedWith, who) {
						why := fmt.Sprintf("shared with %s (%s)", who, c.AMI)
						rn.inUse(c.AMI, why)
						b.Reasons = append(b.Reasons, why)
					}
				}
			}
		}
	}
	// Lineage: the parent of a kept build stays, up the tree.
	work := make([]*Build, 0, len(builds))
	for _, b := range builds {
		if len(b.Reasons) > 0 {
			work = append(work, b)
		}
	}
	for len(work) > 0 {
		b := work[0]
		work = work[1:]
		parent := rn.byAMI[b.ParentAMI]
		if parent == nil || parent == b {
			continue
		}
		why := fmt.Sprintf("parent of kept %s (%s)", b.AMI, b.Layer)
		if contains(parent.Reasons, why) {
			continue
		}
		first := len(parent.Reasons) == 0
		parent.Reasons = append(parent.Reasons, why)
		if first {
			work = append(work, parent)
		}
	}
	// Removal stages.
	for _, b := range builds {
		if len(b.Reasons) > 0 {
			b.Action = ActionKeep
			continue
		}
		grace := rn.graceFor(b.Layer)
		var latest time.Time
		undeprecated := false
		for _, c := range b.Copies {
			if c.DeprecationTime.IsZero() || c.DeprecationTime.After(rn.now) {
				undeprecated = true
			} else if c.DeprecationTime.After(latest) {
				latest = c.DeprecationTime
			}
		}
		switch {
		case !usable(b):
			// A failed image launches nothing: no grace to wait out.
			b.Action = ActionDeregister
			b.Reasons = append(b.Reasons, "not in use; not available (failed), deregister now")
		case undeprecated:
			b.Action = ActionDeprecate
			b.Reasons = append(b.Reasons, fmt.Sprintf("not in use; deprecate now, deregister after %s", grace))
		case rn.now.Before(latest.Add(grace)):
			b.Action = ActionGrace
			b.Reasons = append(b.Reasons, fmt.Sprintf("not in use; deprecated %s, deregister after %s", latest.Format(time.RFC3339), latest.Add(grace).Format(time.RFC3339)))
		default:
			b.Action = ActionDeregister
			b.Reasons = append(b.Reasons, fmt.Sprintf("not in use; deprecated %s, grace of %s over", latest.Format(time.RFC3339), grace))
		}
	}
	rn.res.Builds = builds
	return nil
}

// usable: every copy is available (or still pending).
func usable(b *Build) bool {
	for _, c := range b.Copies {
		if c.State != "available" && c.State != "pending" {
			return false
		}
	}
	return len(b.Copies) > 0
}

// ---- apply --------------------------------------------------------------

type apply struct{}

func (apply) String() string { return "deprecate and deregister" }

// Run carries out each build's action. A failure is recorded on the build
// and the others go on; an interrupt stops between builds (each AMI is
// either untouched or fully handled).
func (apply) Run(ctx context.Context, rn *run) error {
	for _, b := range rn.res.Builds {
		if b.Action == ActionKeep || b.Action == ActionGrace {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch b.Action {
		case ActionDeprecate:
			err = rn.deprecate(ctx, b)
		case ActionDeregister:
			err = rn.deregister(ctx, b)
		}
		if err != nil {
			b.Error = err.Error()
			rn.res.Errors++
		}
	}
	return nil
}

func (rn *run) deprecate(ctx context.Context, b *Build) error {
	for i, c := range b.Copies {
		if !c.DeprecationTime.IsZero() && !c.DeprecationTime.After(rn.now) {
			continue
		}
		_, err := rn.r.EC2(c.Region).EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{
			ImageId: aws.String(c.AMI), DeprecateAt: aws.Time(rn.now),
		})
		if err != nil {
			return fmt.Errorf("deprecate %s in %s: %w", c.AMI, c.Region, err)
		}
		crashpoint.Hit("retire.deprecated")
		b.Copies[i].DeprecationTime = rn.now
		b.Done = append(b.Done, fmt.Sprintf("deprecated %s in %s", c.AMI, c.Region))
		rn.res.Deprecated++
	}
	return nil
}

func (rn *run) deregister(ctx context.Context, b *Build) error {
	for _, c := range b.Copies {
		client := rn.r.EC2(c.Region)
		out, err := client.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(c.AMI), DeleteAssociatedSnapshots: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("deregister %s in %s: %w", c.AMI, c.Region, err)
		}
		crashpoint.Hit("retire.deregistered")
		rn.res.Deregistered++
		b.Done = append(b.Done, fmt.Sprintf("deregistered %s in %s", c.AMI, c.Region))
		deleted := map[string]bool{}
		for _, r := range out.DeleteSnapshotResults {
			if r.ReturnCode == ec2types.SnapshotReturnCodesSuccess {
				deleted[aws.ToString(r.SnapshotId)] = true
			}
		}
		// Whatever EC2 did not delete (older APIs, a race) is checked and
		// deleted here unless another registered image still uses it.
		for _, snap := range c.Snapshots {
			if deleted[snap] {
				rn.res.SnapshotsDeleted++
				b.Done = append(b.Done, fmt.Sprintf("deleted snapshot %s in %s", snap, c.Region))
				continue
			}
			ok, err := rn.deleteOwnSnapshot(ctx, c.Region, snap)
			if err != nil {
				return err
			}
			if ok {
				rn.res.SnapshotsDeleted++
				b.Done = append(b.Done, fmt.Sprintf("deleted snapshot %s in %s", snap, c.Region))
			}
		}
	}
	return nil
}

// deleteOwnSnapshot deletes a snapshot of a deregistered image unless it
// is gone already or another image uses it.
func (rn *run) deleteOwnSnapshot(ctx context.Context, region, snap string) (bool, error) {
	client := rn.r.EC2(region)
	users, err := lineage.DescribeIn(ctx, client, region, []string{"self"}, "block-device-mapping.snapshot-id", []string{snap})
	if err != nil {
		return false, fmt.Errorf("images using snapshot %s in %s: %w", snap, region, err)
	}
	if len(users) > 0 {
		return false, nil
	}
	out, err := client.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"}, Filters: []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: []string{snap}}},
	})
	if err != nil {
		return false, fmt.Errorf("describe snapshot %s in %s: %w", snap, region, err)
	}
	if len(out.Snapshots) == 0 {
		return false, nil
	}
	_, err = client.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) && (coded.ErrorCode() == "InvalidSnapshot.NotFound" || coded.ErrorCode() == "InvalidSnapshot.InUse") {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete snapshot %s in %s: %w", snap, region, err)
	}
	crashpoint.Hit("retire.snapshot-deleted")
	return true, nil
}
