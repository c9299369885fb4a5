package plan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
)

// Per-call limits of the AWS APIs Observe batches over.
const (
	// FilterValuesPerCall is how many values EC2 accepts in one filter:
	// DescribeImages asks for at most this many fingerprints (or image ids)
	// at once.
	FilterValuesPerCall = lineage.MaxFilterValues
	// NamesPerCall is GetParameters' limit on names.
	NamesPerCall = 10
	// imagesPerPage bounds each DescribeImages response (EC2's maximum);
	// more matches are paged with NextToken.
	imagesPerPage = 1000
)

// Clients hands out per-region service clients; *awsapi.Clients does.
type Clients interface {
	EC2(region string) awsapi.EC2
	SSM(region string) awsapi.SSM
}

var _ Clients = (*awsapi.Clients)(nil)

// Observe reads, read-only and with a bounded number of calls, what plan
// needs from AWS (docs/plan.md, "Call budget"):
//
//   - per region a layer lives in, DescribeImages (Owners=self) filtered on
//     the project tag and on the layers' current fingerprints, at most
//     FilterValuesPerCall a call: ceil(layers/200) calls, paged;
//   - the latest channel of every layer with GetParameters, NamesPerCall
//     names a call, in the layer's build region: ceil(layers/10) calls,
//     cheaper than GetParametersByPath on the layers root, which pages at
//     10 and also returns every other channel;
//   - the previous AMIs those channels hold that the first step did not
//     find (a fingerprint changed), by image-id filter, 200 a call;
//   - each root layer's source: GetParameters for SSM-parameter selectors
//     (10 distinct names a call), one DescribeImages per distinct owners +
//     name filter.
//
// Every error names the call that failed.
func Observe(ctx context.Context, clients Clients, cfg *config.Config, g *graph.Graph, fps map[string]*graph.Fingerprint) (*Observed, error) {
	obs := &Observed{Images: map[string]*lineage.Image{}, Latest: map[string]string{}, Sources: map[string]string{}}
	if g == nil || cfg == nil || cfg.Project == nil {
		return obs, nil
	}
	project := cfg.Project.Name
	paths := lineage.Paths{Prefix: cfg.Project.ParamPrefix, Project: project}
	if paths.Prefix == "" {
		paths.Prefix = "/amibake"
	}

	var nodes []*graph.Node
	byRegion := map[string]map[string]bool{} // region → fingerprints wanted there
	homeOf := map[string]string{}
	for _, n := range g.Topo() {
		fp := fps[n.Name()]
		if fp == nil {
			continue
		}
		nodes = append(nodes, n)
		regions := Regions(cfg, n.Layer)
		homeOf[n.Name()] = regions[0]
		for _, r := range regions {
			if byRegion[r] == nil {
				byRegion[r] = map[string]bool{}
			}
			byRegion[r][fp.Hash] = true
		}
	}

	// 1. Every image with a current fingerprint, in every region.
	for _, region := range sortedKeys(byRegion) {
		hashes := sortedKeys(byRegion[region])
		for start := 0; start < len(hashes); start += FilterValuesPerCall {
			chunk := hashes[start:min(start+FilterValuesPerCall, len(hashes))]
			in := &ec2.DescribeImagesInput{
				Owners:            []string{"self"},
				IncludeDeprecated: aws.Bool(true),
				Filters: []ec2types.Filter{
					{Name: aws.String("tag:" + lineage.TagProject), Values: []string{project}},
					{Name: aws.String("tag:" + lineage.TagFingerprint), Values: chunk},
				},
			}
			if err := describeImages(ctx, clients.EC2(region), region, in, obs.Images); err != nil {
				return nil, fmt.Errorf("DescribeImages by fingerprint in %s: %w", region, err)
			}
		}
	}

	// 2. The latest channel of every layer, in its build region.
	channels := map[string]map[string]string{} // region → parameter → layer
	for _, n := range nodes {
		r := homeOf[n.Name()]
		if channels[r] == nil {
			channels[r] = map[string]string{}
		}
		channels[r][paths.Channel(n.Name(), lineage.ChannelLatest)] = n.Name()
	}
	for _, region := range sortedKeys(channels) {
		values, err := getParameters(ctx, clients.SSM(region), sortedKeys(channels[region]))
		if err != nil {
			return nil, fmt.Errorf("GetParameters (latest channels) in %s: %w", region, err)
		}
		for name, v := range values {
			obs.Latest[channels[region][name]] = v
		}
	}

	// 3. The previous AMIs not found by fingerprint.
	missing := map[string]map[string]bool{}
	for _, n := range nodes {
		id := obs.Latest[n.Name()]
		if id == "" || obs.Images[id] != nil {
			continue
		}
		r := homeOf[n.Name()]
		if missing[r] == nil {
			missing[r] = map[string]bool{}
		}
		missing[r][id] = true
	}
	for _, region := range sortedKeys(missing) {
		ids := sortedKeys(missing[region])
		for start := 0; start < len(ids); start += FilterValuesPerCall {
			in := &ec2.DescribeImagesInput{
				IncludeDeprecated: aws.Bool(true),
				// A filter rather than ImageIds: an id that no longer exists
				// is simply absent instead of failing the whole call.
				Filters: []ec2types.Filter{{Name: aws.String("image-id"), Values: ids[start:min(start+FilterValuesPerCall, len(ids))]}},
			}
			if err := describeImages(ctx, clients.EC2(region), region, in, obs.Images); err != nil {
				return nil, fmt.Errorf("DescribeImages by id (previous AMIs) in %s: %w", region, err)
			}
		}
	}

	// 4. Upstream sources of the root layers.
	if err := resolveSources(ctx, clients, nodes, homeOf, obs); err != nil {
		return nil, err
	}
	return obs, nil
}

// resolveSources fills obs.Sources: SSM-parameter selectors with batched
// GetParameters, owners + name filters with one DescribeImages each.
func resolveSources(ctx context.Context, clients Clients, nodes []*graph.Node, homeOf map[string]string, obs *Observed) error {
	params := map[string]map[string][]string{} // region → parameter → layers
	type filterKey struct{ region, selector string }
	filters := map[filterKey][]string{}
	filterSrc := map[filterKey]*config.Source{}
	for _, n := range nodes {
		s := n.Layer.Source
		if !n.IsRoot() || s == nil {
			continue
		}
		r := homeOf[n.Name()]
		if s.SSMParameter != "" {
			if params[r] == nil {
				params[r] = map[string][]string{}
			}
			params[r][s.SSMParameter] = append(params[r][s.SSMParameter], n.Name())
			continue
		}
		k := filterKey{r, graph.SourceSelector(s)}
		filters[k] = append(filters[k], n.Name())
		filterSrc[k] = s
	}
	for _, region := range sortedKeys(params) {
		names := sortedKeys(params[region])
		values, err := getParameters(ctx, clients.SSM(region), names)
		if err != nil {
			return fmt.Errorf("GetParameters (sources) in %s: %w", region, err)
		}
		for _, name := range names {
			v := values[name]
			if v == "" {
				return fmt.Errorf("source of layer %s: parameter %s not found in %s", strings.Join(params[region][name], ", "), name, region)
			}
			for _, l := range params[region][name] {
				obs.Sources[l] = v
			}
		}
	}
	keys := make([]filterKey, 0, len(filters))
	for k := range filters {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].region != keys[j].region {
			return keys[i].region < keys[j].region
		}
		return keys[i].selector < keys[j].selector
	})
	for _, k := range keys {
		s := filterSrc[k]
		arch := s.Architecture
		if arch == "" {
			arch = "x86_64"
		}
		in := &ec2.DescribeImagesInput{
			Owners: s.Owners,
			Filters: []ec2types.Filter{
				{Name: aws.String("name"), Values: []string{s.NameFilter}},
				{Name: aws.String("architecture"), Values: []string{arch}},
				{Name: aws.String("state"), Values: []string{StateAvailable}},
			},
		}
		found := map[string]*lineage.Image{}
		if err := describeImages(ctx, clients.EC2(k.region), k.region, in, found); err != nil {
			return fmt.Errorf("DescribeImages (source %s) in %s: %w", k.selector, k.region, err)
		}
		var newest *lineage.Image
		for _, img := range found {
			if newest == nil || img.CreationDate > newest.CreationDate || (img.CreationDate == newest.CreationDate && img.ID > newest.ID) {
				newest = img
			}
		}
		if newest == nil {
			return fmt.Errorf("source of layer %s: no available image matches %s in %s", strings.Join(filters[k], ", "), k.selector, k.region)
		}
		for _, l := range filters[k] {
			obs.Sources[l] = newest.ID
		}
	}
	return nil
}

// describeImages runs one DescribeImages query through all its pages and
// adds what it finds to into.
func describeImages(ctx context.Context, client awsapi.EC2, region string, in *ec2.DescribeImagesInput, into map[string]*lineage.Image) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if in.MaxResults == nil && len(in.ImageIds) == 0 {
			page := *in
			page.MaxResults = aws.Int32(imagesPerPage)
			in = &page
		}
		out, err := client.DescribeImages(ctx, in)
		if err != nil {
			return err
		}
		for _, img := range out.Images {
			if aws.ToString(img.ImageId) == "" {
				continue
			}
			li := lineage.FromEC2(region, img)
			into[li.ID] = &li
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		next := *in
		next.NextToken = out.NextToken
		in = &next
	}
}

// getParameters reads names in batches of NamesPerCall; names that do not
// exist are absent from the result.
func getParameters(ctx context.Context, client awsapi.SSM, names []string) (map[string]string, error) {
	out := map[string]string{}
	for start := 0; start < len(names); start += NamesPerCall {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err := client.GetParameters(ctx, &ssm.GetParametersInput{Names: names[start:min(start+NamesPerCall, len(names))]})
		if err != nil {
			return nil, err
		}
		if res == nil {
			return nil, errors.New("empty response")
		}
		for _, p := range res.Parameters {
			out[aws.ToString(p.Name)] = aws.ToString(p.Value)
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
