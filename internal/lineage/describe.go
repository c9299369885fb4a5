package lineage

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/awsapi"
)

// MaxFilterValues is how many values EC2 accepts in one filter; longer
// lists are split over several calls.
const MaxFilterValues = 200

// describePageSize is the MaxResults of every paged DescribeImages.
const describePageSize = 1000

// Image states as EC2 reports them, plus what amibake derives.
const (
	StateAvailable    = "available"
	StateDeregistered = "deregistered" // gone: not returned by DescribeImages any more
)

// FromEC2 reads one DescribeImages result: its lineage tags plus the
// name, state, creation and deprecation times.
func FromEC2(region string, img ec2types.Image) Image {
	tags := make(map[string]string, len(img.Tags))
	for _, t := range img.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	out := FromTags(aws.ToString(img.ImageId), region, tags)
	out.Name = aws.ToString(img.Name)
	out.State = string(img.State)
	out.CreationDate = aws.ToString(img.CreationDate)
	out.DeprecationTime = aws.ToString(img.DeprecationTime)
	return out
}

// IsRevoked reports whether the image carries amibake:revoked. A tag with
// an empty value still counts: the plugin's data source refuses it too.
func (i Image) IsRevoked() bool {
	_, ok := i.Tags[TagRevoked]
	return ok
}

// DescribeFilter lists the images of one region matching filters, every
// page, deprecated ones included. owners restricts by owner ("self").
func DescribeFilter(ctx context.Context, client awsapi.EC2, region string, owners []string, filters []ec2types.Filter) ([]Image, error) {
	in := &ec2.DescribeImagesInput{
		Owners:            owners,
		Filters:           filters,
		IncludeDeprecated: aws.Bool(true),
		MaxResults:        aws.Int32(describePageSize),
	}
	var out []Image
	p := ec2.NewDescribeImagesPaginator(client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe images in %s: %w", region, err)
		}
		for _, img := range page.Images {
			out = append(out, FromEC2(region, img))
		}
	}
	return out, nil
}

// DescribeIn lists images of one region whose filter name (an EC2 filter
// such as "image-id" or "tag:amibake:parent-ami") has one of values,
// MaxFilterValues values per call, with the extra filters ANDed. Unknown
// ids are simply absent (a filter never fails on them, unlike ImageIds).
func DescribeIn(ctx context.Context, client awsapi.EC2, region string, owners []string, name string, values []string, extra ...ec2types.Filter) ([]Image, error) {
	values = uniqueSorted(values)
	var out []Image
	for start := 0; start < len(values); start += MaxFilterValues {
		end := min(start+MaxFilterValues, len(values))
		filters := append([]ec2types.Filter{{Name: aws.String(name), Values: values[start:end]}}, extra...)
		imgs, err := DescribeFilter(ctx, client, region, owners, filters)
		if err != nil {
			return nil, err
		}
		out = append(out, imgs...)
	}
	return out, nil
}

// DescribeIDs returns the images of region with these ids, by id; ids that
// are gone (deregistered, or never there) are absent from the map.
func DescribeIDs(ctx context.Context, client awsapi.EC2, region string, ids []string) (map[string]Image, error) {
	imgs, err := DescribeIn(ctx, client, region, nil, "image-id", ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Image, len(imgs))
	for _, img := range imgs {
		out[img.ID] = img
	}
	return out, nil
}

type ec2Filter = ec2types.Filter

// TagFilter is an EC2 filter on a tag's values.
func TagFilter(key string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String("tag:" + key), Values: values}
}

func uniqueSorted(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, v := range in {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
