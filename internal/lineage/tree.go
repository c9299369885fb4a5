package lineage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/amibake/amibake/internal/awsapi"
)

// Finder answers ancestry questions about a project's AMIs in every region
// they live in. Every lookup is a filtered, paged DescribeImages; nothing
// is ever asked one AMI at a time for descendants.
type Finder struct {
	// EC2 returns the client of a region.
	EC2     func(region string) awsapi.EC2
	Project string
	// Regions are every region the project's AMIs are in; lookups try
	// them in this order.
	Regions []string
}

// NotFoundError says an AMI is in none of the regions searched.
type NotFoundError struct {
	AMI     string
	Regions []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("AMI %s not found in %s (deregistered, not visible to this account, or in another region: try --region)", e.AMI, strings.Join(e.Regions, ", "))
}

// Member is one build of one layer: its AMI in every region it was copied
// to (copies share amibake:fingerprint and amibake:build-id).
type Member struct {
	Layer       string    `json:"layer"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	BuildID     string    `json:"build_id,omitempty"`
	ParentAMI   string    `json:"parent_ami,omitempty"`
	Source      string    `json:"source,omitempty"`
	Revoked     string    `json:"revoked,omitempty"`
	Missing     bool      `json:"missing,omitempty"` // named as a parent, but gone
	Images      []Image   `json:"images"`
	Children    []*Member `json:"children,omitempty"`
}

// IDs returns the AMI ids of every region's copy.
func (m *Member) IDs() []string {
	ids := make([]string, len(m.Images))
	for i, img := range m.Images {
		ids[i] = img.ID
	}
	return ids
}

// Has reports whether id is one of the member's copies.
func (m *Member) Has(id string) bool { return slices.Contains(m.IDs(), id) }

// Walk visits m and its descendants, parents first.
func (m *Member) Walk(fn func(*Member)) {
	fn(m)
	for _, c := range m.Children {
		c.Walk(fn)
	}
}

// Lineage is the family of one AMI: the chain of ancestors up to the
// upstream source and the tree of descendants.
type Lineage struct {
	// Source is the upstream (JeOS) AMI the root ancestor was built from.
	Source string `json:"source,omitempty"`
	// Ancestors, root first; the target is not among them.
	Ancestors []*Member `json:"ancestors"`
	// Target is the AMI asked about, with its descendants as Children.
	Target *Member `json:"target"`
	// Regions searched.
	Regions []string `json:"regions"`
}

// Descendants lists every descendant of the target, parents first.
func (l *Lineage) Descendants() []*Member {
	var out []*Member
	for _, c := range l.Target.Children {
		c.Walk(func(m *Member) { out = append(out, m) })
	}
	return out
}

func memberKey(img Image) string {
	if img.Fingerprint == "" && img.BuildID == "" {
		return "id:" + img.ID
	}
	return img.Fingerprint + "\x00" + img.BuildID
}

func newMember(img Image) *Member {
	return &Member{
		Layer: img.Layer, Fingerprint: img.Fingerprint, BuildID: img.BuildID,
		ParentAMI: img.ParentAMI, Source: img.Source, Revoked: img.Revoked,
		Images: []Image{img},
	}
}

func (f *Finder) add(m *Member, img Image) {
	if m.Has(img.ID) {
		return
	}
	m.Images = append(m.Images, img)
	if img.Revoked != "" && m.Revoked == "" {
		m.Revoked = img.Revoked
	}
	order := map[string]int{}
	for i, r := range f.Regions {
		order[r] = i
	}
	sort.SliceStable(m.Images, func(i, j int) bool { return order[m.Images[i].Region] < order[m.Images[j].Region] })
}

// Find looks ami up in region (when given) or in every region in order.
func (f *Finder) Find(ctx context.Context, ami, region string) (Image, error) {
	regions := f.Regions
	if region != "" {
		regions = []string{region}
	}
	return f.findIn(ctx, ami, regions)
}

func (f *Finder) findIn(ctx context.Context, ami string, regions []string) (Image, error) {
	for _, r := range regions {
		found, err := DescribeIDs(ctx, f.EC2(r), r, []string{ami})
		if err != nil {
			return Image{}, err
		}
		if img, ok := found[ami]; ok {
			return img, nil
		}
	}
	return Image{}, &NotFoundError{AMI: ami, Regions: regions}
}

// regionsFrom returns the regions with first moved to the front.
func (f *Finder) regionsFrom(first string) []string {
	out := []string{first}
	for _, r := range f.Regions {
		if r != first {
			out = append(out, r)
		}
	}
	return out
}

// Lineage returns the ancestors and descendants of ami. region, when set,
// is where ami lives; otherwise every region is searched.
func (f *Finder) Lineage(ctx context.Context, ami, region string) (*Lineage, error) {
	target, err := f.Find(ctx, ami, region)
	if err != nil {
		return nil, err
	}
	if f.Project != "" && target.Project != "" && target.Project != f.Project {
		return nil, fmt.Errorf("AMI %s belongs to project %q, not %q", ami, target.Project, f.Project)
	}
	out := &Lineage{Target: newMember(target), Regions: f.Regions}

	// Ancestors: follow amibake:parent-ami; a parent id names the AMI in
	// the build region, so look in the child's region first, then the rest.
	seen := map[string]bool{target.ID: true}
	cur := target
	for cur.ParentAMI != "" && !seen[cur.ParentAMI] {
		seen[cur.ParentAMI] = true
		parent, err := f.findIn(ctx, cur.ParentAMI, f.regionsFrom(cur.Region))
		var nf *NotFoundError
		if errors.As(err, &nf) {
			out.Ancestors = append(out.Ancestors, &Member{Missing: true, Images: []Image{{ID: cur.ParentAMI, State: StateDeregistered}}})
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ancestors of %s: %w", ami, err)
		}
		out.Ancestors = append(out.Ancestors, newMember(parent))
		cur = parent
	}
	if cur.ParentAMI == "" {
		out.Source = cur.Source
	}
	slices.Reverse(out.Ancestors)

	// Copies of the target and its ancestors in every region: one call per
	// region on their build ids.
	if err := f.fillCopies(ctx, append(slices.Clone(out.Ancestors), out.Target)); err != nil {
		return nil, err
	}
	if err := f.descendants(ctx, out.Target, seen); err != nil {
		return nil, err
	}
	return out, nil
}

// owners limits descendant and copy searches to the account's own AMIs.
func (f *Finder) owners() []string { return []string{"self"} }

func (f *Finder) fillCopies(ctx context.Context, members []*Member) error {
	byKey := map[string]*Member{}
	var buildIDs []string
	for _, m := range members {
		if m.Missing || m.BuildID == "" {
			continue
		}
		byKey[memberKey(m.Images[0])] = m
		buildIDs = append(buildIDs, m.BuildID)
	}
	if len(buildIDs) == 0 {
		return nil
	}
	for _, r := range f.Regions {
		imgs, err := DescribeIn(ctx, f.EC2(r), r, f.owners(), "tag:"+TagBuildID, buildIDs, f.extraFilters()...)
		if err != nil {
			return fmt.Errorf("copies: %w", err)
		}
		for _, img := range imgs {
			if m := byKey[memberKey(img)]; m != nil {
				f.add(m, img)
			}
		}
	}
	return nil
}

func (f *Finder) extraFilters() []ec2Filter {
	if f.Project == "" {
		return nil
	}
	return []ec2Filter{TagFilter(TagProject, f.Project)}
}

// descendants fills root's Children generation by generation: one paged
// DescribeImages per region per generation (per MaxFilterValues parents),
// filtered on tag:amibake:parent-ami. Copies carry their original's tags,
// so a child and its copies arrive in the same generation.
func (f *Finder) descendants(ctx context.Context, root *Member, seen map[string]bool) error {
	byID := map[string]*Member{}
	for _, id := range root.IDs() {
		byID[id] = root
		seen[id] = true
	}
	members := map[string]*Member{memberKey(root.Images[0]): root}
	frontier := root.IDs()
	// An AMI amibake did not bake (an upstream JeOS image) has no children
	// by amibake:parent-ami: the first generation is the root builds whose
	// amibake:source it is.
	link := TagParentAMI
	if root.Layer == "" && root.Fingerprint == "" {
		link = TagSource
	}
	for len(frontier) > 0 {
		var next []string
		var found []Image
		for _, r := range f.Regions {
			imgs, err := DescribeIn(ctx, f.EC2(r), r, f.owners(), "tag:"+link, frontier, f.extraFilters()...)
			if err != nil {
				return fmt.Errorf("descendants: %w", err)
			}
			found = append(found, imgs...)
		}
		for _, img := range found {
			if seen[img.ID] {
				continue
			}
			via := img.ParentAMI
			if link == TagSource {
				via = img.Source
			}
			parent := byID[via]
			if parent == nil {
				continue
			}
			seen[img.ID] = true
			k := memberKey(img)
			m := members[k]
			if m == nil {
				m = newMember(img)
				members[k] = m
				parent.Children = append(parent.Children, m)
			} else {
				f.add(m, img)
			}
			byID[img.ID] = m
			next = append(next, img.ID)
		}
		frontier = next
		link = TagParentAMI
	}
	root.Walk(func(m *Member) {
		sort.SliceStable(m.Children, func(i, j int) bool {
			a, b := m.Children[i], m.Children[j]
			if a.Layer != b.Layer {
				return a.Layer < b.Layer
			}
			return a.Images[0].CreationDate < b.Images[0].CreationDate
		})
	})
	return nil
}
