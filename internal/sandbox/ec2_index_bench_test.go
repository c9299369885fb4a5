package sandbox

import (
	"fmt"
	"net/url"
	"testing"
	"time"
)

// The sandbox's side of a 50,000-AMI world (bench/, issue 8): a tick, plan's
// DescribeImages on 200 fingerprints, and retire's paged sweep of a
// project, each without the HTTP round trip and the SDK's decoding.
//
//	go test ./internal/sandbox -run '^$' -bench EC2Scale

// ec2ScaleWorld holds n project AMIs over three regions, tagged the way
// bake tags them; fingerprint fp-LLLL-G is generation G of layer L.
func ec2ScaleWorld(b *testing.B, n, layers int) (*World, time.Time) {
	b.Helper()
	audit := ec2IndexAudit
	ec2IndexAudit = false // timing, not checking
	b.Cleanup(func() { ec2IndexAudit = audit })
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	w := NewWorld(1, now)
	regions := []string{"us-east-1", "eu-west-1", "us-west-2"}
	imgs := make([]BenchImage, 0, n)
	for i := 0; i < n; i++ {
		layer, gen := i%layers, i/layers/len(regions)
		imgs = append(imgs, BenchImage{
			Region: regions[(i/layers)%len(regions)], Name: fmt.Sprintf("layer-%04d-%d-%d", layer, gen, i),
			Tags: Tags{"amibake:project": "bench", "amibake:layer": fmt.Sprintf("layer-%04d", layer),
				"amibake:fingerprint": fmt.Sprintf("fp-%04d-%d", layer, gen), "amibake:build-id": fmt.Sprint(i)},
			Created: now.Add(-time.Duration(n-i) * time.Minute),
		})
	}
	if _, err := w.AddBenchImages(DefaultAccount, now, imgs); err != nil {
		b.Fatal(err)
	}
	return w, now
}

func ec2ScaleDescribe(b *testing.B, w *World, now time.Time, form url.Values) ([]ec2ImageXML, string) {
	c := &Call{Service: svcEC2, Action: "DescribeImages", Region: "us-east-1", Account: DefaultAccount, Now: now, Form: form, World: w}
	res, err := ec2DescribeImages(c)
	if err != nil {
		b.Fatal(err)
	}
	out := res.(struct {
		Images    []ec2ImageXML `xml:"imagesSet>item"`
		NextToken string        `xml:"nextToken,omitempty"`
	})
	return out.Images, out.NextToken
}

func BenchmarkEC2ScaleTick(b *testing.B) {
	w, now := ec2ScaleWorld(b, 50_000, 500)
	w.ec2TickImages(now) // builds the pending set once
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.ec2TickImages(now)
	}
}

func BenchmarkEC2ScaleDescribeFingerprints(b *testing.B) {
	w, now := ec2ScaleWorld(b, 50_000, 500)
	form := url.Values{"Owner.1": {"self"}, "IncludeDeprecated": {"true"}, "MaxResults": {"1000"},
		"Filter.1.Name": {"tag:amibake:fingerprint"}, "Filter.2.Name": {"tag:amibake:project"}, "Filter.2.Value.1": {"bench"}}
	for l := 0; l < 200; l++ {
		form.Set(fmt.Sprintf("Filter.1.Value.%d", l+1), fmt.Sprintf("fp-%04d-3", l))
	}
	ec2ScaleDescribe(b, w, now, form) // builds the index once
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if imgs, _ := ec2ScaleDescribe(b, w, now, form); len(imgs) != 200 {
			b.Fatalf("%d images, want 200", len(imgs))
		}
	}
}

func BenchmarkEC2ScaleSweepProject(b *testing.B) {
	w, now := ec2ScaleWorld(b, 50_000, 500)
	w.EC2.imageIndex()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, next := 0, ""
		for {
			form := url.Values{"Owner.1": {"self"}, "IncludeDeprecated": {"true"}, "MaxResults": {"1000"},
				"Filter.1.Name": {"tag:amibake:project"}, "Filter.1.Value.1": {"bench"}}
			if next != "" {
				form.Set("NextToken", next)
			}
			var imgs []ec2ImageXML
			imgs, next = ec2ScaleDescribe(b, w, now, form)
			n += len(imgs)
			if next == "" {
				break
			}
		}
		if n < 16_000 {
			b.Fatalf("%d images in us-east-1", n)
		}
	}
}
