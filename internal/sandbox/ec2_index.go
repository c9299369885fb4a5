package sandbox

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// Derived lookups over the EC2 images and snapshots, so that a world of
// 50,000 AMIs answers a filtered DescribeImages by touching the images that
// match (not all of them) and ticks by looking at the pending ones (bench/,
// issue 8).
//
// They are rebuilt lazily rather than kept up to date at every write:
// images and their tags are written from many places (handlers, tickers,
// tests through Do, the generic CreateTags), and a missed update would make
// the sandbox lie. A lookup is reused only while EC2State.gen — bumped after
// every mutating API call of any service, every Do and every delayed tag
// write that lands — and the number of images and snapshots (tickers add
// images, e.g. an automation's createImage step) are what they were when it
// was built. Reads between writes, which is what plan, retire's sweep and
// every poll loop do, reuse them.
//
// With AMIBAKE_SANDBOX_AUDIT set (the sandbox's own tests set it), every
// answer from a lookup is checked against a walk of every image, and a
// difference is an InternalError (DescribeImages) or an audit failure the
// test binary reports (ticks).

// ec2IndexAudit turns the audit on (see above).
var ec2IndexAudit = os.Getenv("AMIBAKE_SANDBOX_AUDIT") != ""

var ec2Audit struct {
	sync.Mutex
	failures []string
}

func ec2AuditFail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	ec2Audit.Lock()
	ec2Audit.failures = append(ec2Audit.failures, msg)
	ec2Audit.Unlock()
	fmt.Fprintln(os.Stderr, "sandbox index audit:", msg)
}

// ec2AuditFailures returns the audit failures so far (tests).
func ec2AuditFailures() []string {
	ec2Audit.Lock()
	defer ec2Audit.Unlock()
	return append([]string(nil), ec2Audit.failures...)
}

// touch invalidates the derived lookups: the world may have changed in a
// way they do not see.
func (e *EC2State) touch() { e.gen++ }

// ---- pending images and snapshots (the ticker) ----

type ec2PendingSet struct {
	gen    uint64
	images int // len(Images) when built
	snaps  int // len(Snapshots) when built
	img    map[string]*Image
	snap   map[string]*Snapshot
}

// pending returns the images and snapshots that a tick may move on,
// walking everything only when the world changed since the last walk.
func (e *EC2State) pending() *ec2PendingSet {
	if p := e.pendingSet; p != nil && p.gen == e.gen && p.images == len(e.Images) && p.snaps == len(e.Snapshots) {
		return p
	}
	p := &ec2PendingSet{gen: e.gen, images: len(e.Images), snaps: len(e.Snapshots), img: map[string]*Image{}, snap: map[string]*Snapshot{}}
	for id, img := range e.Images {
		if img.State == ec2ImagePending {
			p.img[id] = img
		}
	}
	for id, s := range e.Snapshots {
		if s.State == "pending" && !s.CompleteAt.IsZero() {
			p.snap[id] = s
		}
	}
	e.pendingSet = p
	return p
}

// ---- images by region and by tag (DescribeImages) ----

type ec2ImageIndex struct {
	gen    uint64
	images int // len(Images) when built
	// byRegion holds each region's images sorted by id, deregistered ones
	// included (the request's own checks leave them out).
	byRegion map[string][]*Image
	// byTag[key][region][value] are the images with that tag, by id; a
	// key is indexed on first use.
	byTag map[string]map[string]map[string][]*Image
}

func (e *EC2State) imageIndex() *ec2ImageIndex {
	if x := e.imgIndex; x != nil && x.gen == e.gen && x.images == len(e.Images) {
		return x
	}
	all := make([]*Image, 0, len(e.Images))
	for _, img := range e.Images {
		all = append(all, img)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	x := &ec2ImageIndex{gen: e.gen, images: len(e.Images), byRegion: map[string][]*Image{}, byTag: map[string]map[string]map[string][]*Image{}}
	for _, img := range all {
		x.byRegion[img.Region] = append(x.byRegion[img.Region], img)
	}
	e.imgIndex = x
	return x
}

// tagged returns the region's images whose tag key has value, by id.
func (x *ec2ImageIndex) tagged(key, region, value string) []*Image {
	byRegion := x.byTag[key]
	if byRegion == nil {
		byRegion = map[string]map[string][]*Image{}
		for r, imgs := range x.byRegion {
			vals := map[string][]*Image{}
			for _, img := range imgs {
				if v, ok := img.Tags[key]; ok {
					vals[v] = append(vals[v], img)
				}
			}
			byRegion[r] = vals
		}
		x.byTag[key] = byRegion
	}
	return byRegion[region][value]
}

// ec2ImageCandidates returns, sorted by id, a superset of the region's
// images that can match the filters: the images of the most selective
// filter with literal values only (tag:K or image-id), else every image
// of the region. The caller still applies every check and filter.
func ec2ImageCandidates(e *EC2State, region string, ms []ec2ImageMatcher) []*Image {
	x := e.imageIndex()
	var best []*Image
	found := false
	for i := range ms {
		m := &ms[i]
		if len(m.patterns) > 0 {
			continue
		}
		var cand []*Image
		switch {
		case m.isTag:
			n := 0
			for v := range m.exact {
				n += len(x.tagged(m.tag, region, v))
			}
			if found && n >= len(best) {
				continue
			}
			if len(m.exact) == 1 {
				for v := range m.exact {
					best, found = x.tagged(m.tag, region, v), true // sorted already
				}
				continue
			}
			cand = make([]*Image, 0, n)
			// An image has one value per key: the buckets are disjoint.
			for v := range m.exact {
				cand = append(cand, x.tagged(m.tag, region, v)...)
			}
		case m.name == "image-id":
			if found && len(m.exact) >= len(best) {
				continue
			}
			for id := range m.exact {
				if img := e.Images[id]; img != nil && img.Region == region {
					cand = append(cand, img)
				}
			}
		default:
			continue
		}
		if len(cand) > 1 {
			sort.Slice(cand, func(i, j int) bool { return cand[i].ID < cand[j].ID })
		}
		best, found = cand, true
	}
	if !found {
		return x.byRegion[region]
	}
	return best
}

// ec2SameImages reports whether two answers list the same images in the
// same order with the same next token (the audit).
func ec2SameImages(a, b []*Image, nextA, nextB string) (bool, string) {
	ids := func(imgs []*Image) string {
		out := make([]string, len(imgs))
		for i, img := range imgs {
			out[i] = img.ID
		}
		return strings.Join(out, ",")
	}
	if ia, ib := ids(a), ids(b); ia != ib || nextA != nextB {
		return false, fmt.Sprintf("indexed [%s] next %q, scan [%s] next %q", ia, nextA, ib, nextB)
	}
	return true, ""
}
