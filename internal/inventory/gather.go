package inventory

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
)

// GatherDocument is the SSM document that fills AWS:Application.
const GatherDocument = "AWS-GatherSoftwareInventory"

// captureLayout is how Systems Manager writes an inventory CaptureTime.
const captureLayout = "2006-01-02T15:04:05Z"

// Defaults of GatherOptions.
const (
	DefaultGatherTimeout = 10 * time.Minute
	DefaultGatherPoll    = 5 * time.Second
)

// GatherOptions bound Gather.
type GatherOptions struct {
	// Name is the association's name (3-128 of [a-zA-Z0-9_.-]); it shows
	// which build made it should one outlive its build.
	Name string
	// Timeout bounds the wait for a fresh capture; Poll is the interval.
	Timeout time.Duration
	Poll    time.Duration
	// Sleep waits between polls (tests); a context-aware sleep by default.
	Sleep func(ctx context.Context, d time.Duration) error
	// Say reports progress (optional).
	Say func(string)
}

// AssociationName names a build's gather association after its build id,
// whichever instance it runs on (the packer build's, or the scan instance
// of an automation rebake), with SSM's characters and length
// ([a-zA-Z0-9_.-], 3 to 128).
func AssociationName(buildID string) string {
	b := []byte("amibake-inventory-" + buildID)
	for i, ch := range b {
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || ch == '-'
		if !ok {
			b[i] = '-'
		}
	}
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

// Gathered is a fresh AWS:Application inventory of one instance.
type Gathered struct {
	Packages []Package
	// CaptureTime is when the agent captured it (service time).
	CaptureTime time.Time
}

// Gather makes the instance's SSM agent capture its software inventory
// now and returns it. Run Command cannot run the inventory plugin
// (aws:softwareInventory is a policy plugin, run by State Manager only), so
// Gather creates a one-instance AWS-GatherSoftwareInventory association —
// a new association runs at once — polls ListInventoryEntries until the
// capture time is not older than the association's creation (both are the
// service's clock, so a skewed local clock cannot accept a stale capture),
// collects every page and deletes the association.
func Gather(ctx context.Context, assoc awsapi.SSMAssociations, inv awsapi.SSMInventory, instanceID string, o GatherOptions) (*Gathered, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultGatherTimeout
	}
	if o.Poll <= 0 {
		o.Poll = DefaultGatherPoll
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	in := &ssm.CreateAssociationInput{
		Name:       aws.String(GatherDocument),
		Targets:    []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: []string{instanceID}}},
		Parameters: map[string][]string{"applications": {"Enabled"}},
	}
	if o.Name != "" {
		in.AssociationName = aws.String(o.Name)
	}
	created, err := assoc.CreateAssociation(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("gather inventory of %s: create %s association: %w", instanceID, GatherDocument, err)
	}
	desc := created.AssociationDescription
	if desc == nil || aws.ToString(desc.AssociationId) == "" {
		return nil, fmt.Errorf("gather inventory of %s: CreateAssociation returned no association id", instanceID)
	}
	id := aws.ToString(desc.AssociationId)
	defer func() {
		// The association must not outlive the build, interrupted or not;
		// the instance is about to be imaged and terminated anyway.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, derr := assoc.DeleteAssociation(dctx, &ssm.DeleteAssociationInput{AssociationId: aws.String(id)}); derr != nil && o.Say != nil {
			o.Say(fmt.Sprintf("warning: delete inventory association %s: %v", id, derr))
		}
	}()
	since := aws.ToTime(desc.Date).UTC().Truncate(time.Second)
	if o.Say != nil {
		o.Say(fmt.Sprintf("%s association %s on %s; waiting for a capture after %s", GatherDocument, id, instanceID, since.Format(time.RFC3339)))
	}

	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	last := "none"
	for {
		captured, ok, err := captureTime(wctx, inv, instanceID)
		if err != nil && wctx.Err() == nil {
			return nil, fmt.Errorf("gather inventory of %s: %w", instanceID, err)
		}
		if ok {
			last = captured.Format(time.RFC3339)
			if !captured.Before(since) {
				pkgs, err := Collect(ctx, inv, instanceID)
				if err != nil {
					return nil, fmt.Errorf("gather inventory of %s: %w", instanceID, err)
				}
				return &Gathered{Packages: pkgs, CaptureTime: captured}, nil
			}
		}
		if err := o.Sleep(wctx, o.Poll); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("gather inventory of %s: %w", instanceID, ctx.Err())
			}
			return nil, fmt.Errorf("gather inventory of %s: no %s capture after %s within %s (last capture: %s); "+
				"check association %s's status and that the instance's SSM agent is online",
				instanceID, TypeApplication, since.Format(time.RFC3339), o.Timeout, last, id)
		}
	}
}

// captureTime reads when the instance's AWS:Application inventory was
// last captured; ok is false while it has none.
func captureTime(ctx context.Context, inv awsapi.SSMInventory, instanceID string) (time.Time, bool, error) {
	out, err := inv.ListInventoryEntries(ctx, &ssm.ListInventoryEntriesInput{
		InstanceId: aws.String(instanceID), TypeName: aws.String(TypeApplication), MaxResults: aws.Int32(1),
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("list %s inventory: %w", TypeApplication, err)
	}
	if aws.ToString(out.CaptureTime) == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(captureLayout, aws.ToString(out.CaptureTime))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("inventory capture time %q: %w", aws.ToString(out.CaptureTime), err)
	}
	return t, true, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
