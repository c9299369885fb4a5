package bake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
)

// ImageDataType is the Parameter Store data type of a channel: AWS checks
// the value is an AMI id the account can use.
const ImageDataType = "aws:ec2:image"

func (b *Baker) waitPoll() time.Duration {
	if b.WaitPoll > 0 {
		return b.WaitPoll
	}
	return 5 * time.Second
}

func (b *Baker) waitTimeout() time.Duration {
	if b.WaitTimeout > 0 {
		return b.WaitTimeout
	}
	return 60 * time.Minute
}

// waitAvailable polls every region's AMI until all are available. A failed
// or vanished AMI ends the wait with an error.
func (b *Baker) waitAvailable(ctx context.Context, amis map[string]string) error {
	return b.waitImages(ctx, amis, 0)
}

// waitImages is waitAvailable for AMIs EC2 may not list yet: for the first
// missingGrace of the wait, an AMI it does not know counts as pending
// (a copy just requested), after that as lost.
func (b *Baker) waitImages(ctx context.Context, amis map[string]string, missingGrace time.Duration) error {
	start := time.Now()
	deadline := start.Add(b.waitTimeout())
	pending := map[string]string{}
	for r, id := range amis {
		pending[r] = id
	}
	for {
		for _, region := range sortedRegions(pending) {
			id := pending[region]
			state, reason, err := imageState(ctx, b.Clients.EC2(region), id)
			if err != nil {
				return fmt.Errorf("AMI %s in %s: %w", id, region, err)
			}
			switch state {
			case plan.StateAvailable:
				delete(pending, region)
			case plan.StatePending:
			case "missing":
				if time.Since(start) < missingGrace {
					continue
				}
				return fmt.Errorf("AMI %s in %s is missing", id, region)
			default:
				if reason != "" {
					reason = " (" + reason + ")"
				}
				return fmt.Errorf("AMI %s in %s is %s%s", id, region, state, reason)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("AMIs %v not available after %s", pending, b.waitTimeout())
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(b.waitPoll()):
		}
	}
}

// imageState reads one AMI's state; "missing" when EC2 does not know it.
func imageState(ctx context.Context, client awsapi.EC2, id string) (state, reason string, err error) {
	out, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{
		IncludeDeprecated: aws.Bool(true),
		Filters:           []ec2types.Filter{{Name: aws.String("image-id"), Values: []string{id}}},
	})
	if err != nil {
		return "", "", fmt.Errorf("DescribeImages: %w", err)
	}
	for _, img := range out.Images {
		if aws.ToString(img.ImageId) == id {
			if img.StateReason != nil {
				reason = aws.ToString(img.StateReason.Message)
			}
			return string(img.State), reason, nil
		}
	}
	return "missing", "", nil
}

// publish makes the layer's latest channel (in its build region) point at
// ami, which the caller has seen available. It reports whether it had to
// move the channel.
func (b *Baker) publish(ctx context.Context, layer, region, ami string) (bool, error) {
	name := b.paths().Channel(layer, lineage.ChannelLatest)
	client := b.Clients.SSM(region)
	cur, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	var nf *ssmtypes.ParameterNotFound
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return false, fmt.Errorf("read channel %s: %w", name, err)
	case aws.ToString(cur.Parameter.Value) == ami:
		return false, nil
	}
	_, err = client.PutParameter(ctx, &ssm.PutParameterInput{
		Name:      aws.String(name),
		Value:     aws.String(ami),
		Type:      ssmtypes.ParameterTypeString,
		DataType:  aws.String(ImageDataType),
		Overwrite: aws.Bool(true),
		Description: aws.String(fmt.Sprintf("amibake channel %s of layer %s; set by amibake bake %s",
			lineage.ChannelLatest, layer, b.RunID)),
	})
	if err != nil {
		return false, fmt.Errorf("move channel %s to %s: %w", name, ami, err)
	}
	return true, nil
}

// markUnverified tags AMIs that failed Baker.Verify amibake:revoked (the
// reason, cut to a tag value's 256 characters), so that no later plan
// adopts them for their fingerprint. The call outlives an interrupt.
func (b *Baker) markUnverified(ctx context.Context, amis map[string]string, why error) error {
	reason := "verify failed: " + why.Error()
	if len(reason) > 256 {
		reason = reason[:253] + "..."
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var errs []error
	for _, region := range sortedRegions(amis) {
		_, err := b.Clients.EC2(region).CreateTags(tctx, &ec2.CreateTagsInput{Resources: []string{amis[region]},
			Tags: []ec2types.Tag{{Key: aws.String(lineage.TagRevoked), Value: aws.String(reason)}}})
		if err != nil {
			errs = append(errs, fmt.Errorf("tag %s in %s %s: %w", amis[region], region, lineage.TagRevoked, err))
		}
	}
	return errors.Join(errs...)
}

// secretStore writes a build's sensitive inputs as SecureString
// parameters and deletes them when the build ends.
type secretStore struct {
	ssm     awsapi.SSM
	mu      sync.Mutex
	written []string
}

func (s *secretStore) put(ctx context.Context, sec Secret) error {
	if sec.Value == "" {
		// Parameter Store refuses empty values; the step gets none.
		return nil
	}
	s.mu.Lock()
	s.written = append(s.written, sec.Parameter)
	s.mu.Unlock()
	_, err := s.ssm.PutParameter(ctx, &ssm.PutParameterInput{
		Name:        aws.String(sec.Parameter),
		Value:       aws.String(sec.Value),
		Type:        ssmtypes.ParameterTypeSecureString,
		Overwrite:   aws.Bool(true),
		Description: aws.String("amibake build secret for step " + sec.Step + "; deleted when the build ends"),
	})
	if err != nil {
		// The error names the parameter, never the value.
		return fmt.Errorf("write secret %s for step %s: %w", sec.Parameter, sec.Step, err)
	}
	return nil
}

func (s *secretStore) deleteAll(ctx context.Context) error {
	s.mu.Lock()
	names := s.written
	s.written = nil
	s.mu.Unlock()
	var failed []string
	var first error
	for _, name := range names {
		_, err := s.ssm.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)})
		var nf *ssmtypes.ParameterNotFound
		if err != nil && !errors.As(err, &nf) {
			failed = append(failed, name)
			if first == nil {
				first = err
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("delete build secret %s: %w", strings.Join(failed, ", "), first)
	}
	return nil
}

func sortedRegions(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
