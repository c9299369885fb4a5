package sandbox

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Image states as EC2 names them.
const (
	ec2ImagePending      = "pending"
	ec2ImageAvailable    = "available"
	ec2ImageFailed       = "failed"
	ec2ImageDeregistered = "deregistered"
)

// ec2TimeFormat is how EC2 writes timestamps (creationDate, launchTime …).
const ec2TimeFormat = "2006-01-02T15:04:05.000Z"

func ec2Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(ec2TimeFormat)
}

// visibleAt is when a resource created by this call becomes readable: now,
// or later under an eventual-consistency fault.
func ec2VisibleAt(c *Call) time.Time { return c.Now.Add(c.InvisibleFor()) }

// hidden reports whether a resource with this VisibleAt is still invisible.
func ec2Hidden(at, now time.Time) bool { return at.After(now) }

// Resource ids: a prefix and 8 or 17 lowercase hex digits.
var ec2IDRE = regexp.MustCompile(`^([a-z]+)-([0-9a-f]{8,17})$`)

func ec2ValidID(prefix, id string) bool {
	m := ec2IDRE.FindStringSubmatch(id)
	return m != nil && m[1] == prefix
}

// malformedID is the error EC2 returns for an id of the wrong shape.
func ec2Malformed(code, id string) *APIError {
	return Errorf(code, "Invalid id: %q", id)
}

var ec2AccountIDRE = regexp.MustCompile(`^\d{12}$`)

// ---- filters ----

// ec2Filter is one Filter.N (Name, Value.M): values are ORed, filters ANDed,
// values may use '*' and '?' wildcards.
type ec2Filter struct {
	Name   string
	Values []string
}

func ec2ParseFilters(f url.Values) ([]ec2Filter, *APIError) {
	var out []ec2Filter
	for _, p := range formStructs(f, "Filter") {
		name := formGet(f, p+".Name")
		if name == "" {
			return nil, errMissingParameter(p + ".Name")
		}
		vals := formList(f, p+".Value")
		out = append(out, ec2Filter{Name: name, Values: vals})
	}
	return out, nil
}

// ec2FilterFields maps a filter name to the values a resource has for it.
type ec2FilterFields[T any] map[string]func(T) []string

// applyFilters keeps the items matching every filter. Tag filters (tag:K,
// tag-key, tag-value) work on every resource with tags; unknown filter
// names are an error, as on EC2.
func ec2ApplyFilters[T any](items []T, filters []ec2Filter, fields ec2FilterFields[T], tags func(T) Tags) ([]T, *APIError) {
	if len(filters) == 0 {
		return items, nil
	}
	for _, fl := range filters {
		_, known := fields[fl.Name]
		isTag := tags != nil && (strings.HasPrefix(fl.Name, "tag:") || fl.Name == "tag-key" || fl.Name == "tag-value")
		if !known && !isTag {
			return nil, errInvalidParameterValue("The filter '%s' is invalid", fl.Name)
		}
		if len(fl.Values) == 0 {
			return nil, errInvalidParameterValue("The filter '%s' requires a value", fl.Name)
		}
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		ok := true
		for _, fl := range filters {
			if !ec2MatchFilter(fl, ec2FilterValues(it, fl.Name, fields, tags)) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, it)
		}
	}
	return out, nil
}

func ec2FilterValues[T any](it T, name string, fields ec2FilterFields[T], tags func(T) Tags) []string {
	if fn, ok := fields[name]; ok {
		return fn(it)
	}
	t := tags(it)
	switch {
	case strings.HasPrefix(name, "tag:"):
		if v, ok := t[strings.TrimPrefix(name, "tag:")]; ok {
			return []string{v}
		}
		return nil
	case name == "tag-key":
		return sortedKeys(t)
	case name == "tag-value":
		vals := make([]string, 0, len(t))
		for _, k := range sortedKeys(t) {
			vals = append(vals, t[k])
		}
		return vals
	}
	return nil
}

func ec2MatchFilter(fl ec2Filter, have []string) bool {
	for _, want := range fl.Values {
		for _, h := range have {
			if matchWildcard(want, h) {
				return true
			}
		}
	}
	return false
}

func ec2One(s string) []string { return []string{s} }

func ec2Bool(b bool) []string { return []string{strconv.FormatBool(b)} }

func ec2Int(n int) []string { return []string{strconv.Itoa(n)} }

// ---- pagination ----

// paginate returns one page of items (already sorted by key) after the
// request's NextToken, and the token for the next page. Without MaxResults
// every remaining item is returned. Tokens name the last key returned, so
// pages stay consistent while resources come and go.
func ec2Paginate[T any](f url.Values, items []T, key func(T) string, minResults, maxResults int) ([]T, string, *APIError) {
	start := 0
	if tok := formGet(f, "NextToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || !strings.HasPrefix(string(raw), "after:") {
			return nil, "", Errorf("InvalidPaginationToken", "The specified pagination token is not valid or is expired.")
		}
		after := strings.TrimPrefix(string(raw), "after:")
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	limit := len(items)
	if formHas(f, "MaxResults") {
		n, err := formInt(f, "MaxResults", 0)
		if err != nil {
			return nil, "", err.(*APIError)
		}
		if n < minResults || n > maxResults {
			return nil, "", errInvalidParameterValue("Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", n, minResults, maxResults)
		}
		limit = n
	}
	end := start + limit
	if end >= len(items) {
		return items[start:], "", nil
	}
	return items[start:end], base64.RawURLEncoding.EncodeToString([]byte("after:" + key(items[end-1]))), nil
}

// noMaxWithIDs rejects MaxResults together with an explicit id list, as
// DescribeImages, DescribeInstances and DescribeSnapshots do.
func ec2NoMaxWithIDs(f url.Values, ids []string, idParam string) *APIError {
	if len(ids) > 0 && formHas(f, "MaxResults") {
		return Errorf("InvalidParameterCombination", "The parameter %ss cannot be used with the parameter maxResults", idParam)
	}
	return nil
}

// ---- tags ----

type ec2TagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func ec2TagsXML(t Tags) []ec2TagXML {
	out := make([]ec2TagXML, 0, len(t))
	for _, k := range sortedKeys(t) {
		out = append(out, ec2TagXML{Key: k, Value: t[k]})
	}
	return out
}

// parseTags reads prefix.N.Key / prefix.N.Value.
func ec2ParseTags(f url.Values, prefix string) (Tags, []string, *APIError) {
	tags := Tags{}
	var order []string
	for _, p := range formStructs(f, prefix) {
		k, ok := f[p+".Key"]
		if !ok || len(k) == 0 {
			return nil, nil, errMissingParameter(p + ".Key")
		}
		key := k[0]
		if e := ec2ValidateTag(key, formGet(f, p+".Value")); e != nil {
			return nil, nil, e
		}
		if _, dup := tags[key]; !dup {
			order = append(order, key)
		}
		tags[key] = formGet(f, p+".Value")
	}
	return tags, order, nil
}

func ec2ValidateTag(key, value string) *APIError {
	switch {
	case key == "":
		return errInvalidParameterValue("Tag key cannot be empty")
	case len(key) > 128:
		return errInvalidParameterValue("Tag key exceeds the maximum length of 128 characters")
	case len(value) > 256:
		return errInvalidParameterValue("Tag value exceeds the maximum length of 256 characters")
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		return errInvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use")
	}
	return nil
}

// parseTagSpecs reads TagSpecification.N (ResourceType + Tag.M) and checks
// the resource types against those the action tags.
func ec2ParseTagSpecs(f url.Values, prefix string, allowed ...string) (map[string]Tags, *APIError) {
	out := map[string]Tags{}
	for _, p := range formStructs(f, prefix) {
		rt := formGet(f, p+".ResourceType")
		if rt == "" {
			return nil, errMissingParameter(p + ".ResourceType")
		}
		ok := false
		for _, a := range allowed {
			if a == rt {
				ok = true
			}
		}
		if !ok {
			return nil, errInvalidParameterValue("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		tags, _, err := ec2ParseTags(f, p+".Tag")
		if err != nil {
			return nil, err
		}
		if out[rt] == nil {
			out[rt] = Tags{}
		}
		for k, v := range tags {
			out[rt][k] = v
		}
		if len(out[rt]) > 50 {
			return nil, Errorf("TagLimitExceeded", "The maximum number of tags (50) per resource was exceeded")
		}
	}
	return out, nil
}

// ec2TaggedResource is any EC2 resource CreateTags can address.
type ec2TaggedResource struct {
	ID, Type, Account, Region string
	VisibleAt                 time.Time
	Tags                      *Tags
	// OwnedBy is false for resources the caller can see but not tag
	// (public images of other accounts).
	OwnedBy string
}

// ec2ResourceTypes maps id prefixes to DescribeTags resource types.
var ec2ResourceTypes = map[string]string{
	"ami": "image", "i": "instance", "snap": "snapshot", "vol": "volume", "sg": "security-group",
	"key": "key-pair", "lt": "launch-template", "vpc": "vpc", "subnet": "subnet",
}

// ec2NotFoundCodes are the NotFound error codes per resource type.
var ec2NotFoundCodes = map[string]string{
	"image": "InvalidAMIID.NotFound", "instance": "InvalidInstanceID.NotFound", "snapshot": "InvalidSnapshot.NotFound",
	"volume": "InvalidVolume.NotFound", "security-group": "InvalidGroup.NotFound", "key-pair": "InvalidKeyPairId.NotFound",
	"launch-template": "InvalidLaunchTemplateId.NotFound", "vpc": "InvalidVpcID.NotFound", "subnet": "InvalidSubnetID.NotFound",
}

func ec2NotFound(typ, id string) *APIError {
	switch typ {
	case "image":
		return Errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	case "instance":
		return Errorf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
	case "snapshot":
		return Errorf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	case "volume":
		return Errorf("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
	case "security-group":
		return Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
	case "launch-template":
		return Errorf("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
	}
	return Errorf(ec2NotFoundCodes[typ], "The %s ID '%s' does not exist", typ, id)
}

// ec2LookupTagged finds a resource by id; nil when it does not exist at all.
func (w *World) ec2LookupTagged(id string) *ec2TaggedResource {
	prefix, _, _ := strings.Cut(id, "-")
	e := w.EC2
	switch prefix {
	case "ami":
		if r := e.Images[id]; r != nil && r.State != ec2ImageDeregistered {
			return &ec2TaggedResource{ID: id, Type: "image", Account: r.Account, Region: r.Region, VisibleAt: r.VisibleAt, Tags: &r.Tags, OwnedBy: r.Account}
		}
	case "i":
		if r := e.Instances[id]; r != nil {
			return &ec2TaggedResource{ID: id, Type: "instance", Account: r.Account, Region: r.Region, VisibleAt: r.VisibleAt, Tags: &r.Tags, OwnedBy: r.Account}
		}
	case "snap":
		if r := e.Snapshots[id]; r != nil {
			return &ec2TaggedResource{ID: id, Type: "snapshot", Account: r.Account, Region: r.Region, VisibleAt: r.VisibleAt, Tags: &r.Tags, OwnedBy: r.Account}
		}
	case "vol":
		if r := e.Volumes[id]; r != nil {
			return &ec2TaggedResource{ID: id, Type: "volume", Account: r.Account, Region: r.Region, VisibleAt: r.VisibleAt, Tags: &r.Tags, OwnedBy: r.Account}
		}
	case "sg":
		if r := e.SecurityGroups[id]; r != nil {
			return &ec2TaggedResource{ID: id, Type: "security-group", Account: r.Account, Region: r.Region, Tags: &r.Tags, OwnedBy: r.Account}
		}
	case "key":
		if r := e.KeyPairs[id]; r != nil {
			return &ec2TaggedResource{ID: id, Type: "key-pair", Account: r.Account, Region: r.Region, Tags: &r.Tags, OwnedBy: r.Account}
		}
	case "lt":
		if r := e.LaunchTemplates[id]; r != nil {
			return &ec2TaggedResource{ID: id, Type: "launch-template", Account: r.Account, Region: r.Region, Tags: &r.Tags, OwnedBy: r.Account}
		}
	case "vpc":
		if r := e.VPCs[id]; r != nil {
			return &ec2TaggedResource{ID: id, Type: "vpc", Account: r.Account, Region: r.Region, Tags: &r.Tags, OwnedBy: r.Account}
		}
	case "subnet":
		if r := e.Subnets[id]; r != nil {
			return &ec2TaggedResource{ID: id, Type: "subnet", Account: r.Account, Region: r.Region, Tags: &r.Tags, OwnedBy: r.Account}
		}
	}
	return nil
}

// ec2SetTags writes tags now, or at the end of the call's eventual-consistency
// window (the tags exist but reads do not show them yet).
func (w *World) ec2SetTags(c *Call, r *ec2TaggedResource, tags Tags) {
	if d := c.InvisibleFor(); d > 0 {
		for _, k := range sortedKeys(tags) {
			w.EC2.PendingTags = append(w.EC2.PendingTags, PendingTag{ResourceID: r.ID, Key: k, Value: tags[k], ApplyAt: c.Now.Add(d)})
		}
		return
	}
	if *r.Tags == nil {
		*r.Tags = Tags{}
	}
	for k, v := range tags {
		(*r.Tags)[k] = v
	}
}

// ec2TickPendingTags applies tag writes whose eventual-consistency window ended.
func (w *World) ec2TickPendingTags(now time.Time) {
	if len(w.EC2.PendingTags) == 0 {
		return
	}
	keep := w.EC2.PendingTags[:0]
	for _, p := range w.EC2.PendingTags {
		if p.ApplyAt.After(now) {
			keep = append(keep, p)
			continue
		}
		r := w.ec2LookupTagged(p.ResourceID)
		if r == nil {
			continue
		}
		w.EC2.touch() // a tag landed: the image index is out of date
		if p.Delete {
			delete(*r.Tags, p.Key)
			continue
		}
		if *r.Tags == nil {
			*r.Tags = Tags{}
		}
		(*r.Tags)[p.Key] = p.Value
	}
	w.EC2.PendingTags = keep
}

// ---- misc XML pieces ----

type ec2StateReasonXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type ec2ValueXML struct {
	Value string `xml:"value"`
}

type ec2ReturnXML struct {
	Return bool `xml:"return"`
}

var ec2ReturnTrue = ec2ReturnXML{Return: true}

// regionDomain is the DNS suffix of private names in a region.
func ec2RegionDomain(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

// azID is the zone id of an AZ name ("us-east-1a" → "use1-az1").
func ec2AZID(az string) string {
	if len(az) < 2 {
		return az
	}
	region, letter := az[:len(az)-1], az[len(az)-1]
	parts := strings.Split(region, "-")
	short := ""
	for i, p := range parts {
		if i == len(parts)-1 {
			short += p
		} else if p != "" {
			short += p[:1]
		}
	}
	// "us-east-1" → "use1": first letters of the leading words + the last part,
	// except the first word keeps two letters.
	if len(parts) == 3 && len(parts[0]) >= 2 {
		short = parts[0] + parts[1][:1] + parts[2]
	}
	return fmt.Sprintf("%s-az%d", short, int(letter-'a')+1)
}

// sortByID sorts a slice of pointers by their id.
func ec2SortBy[T any](items []T, id func(T) string) {
	sort.Slice(items, func(i, j int) bool { return id(items[i]) < id(items[j]) })
}

// dedupe keeps the first occurrence of each string.
func ec2Dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// PendingTag is a tag write hidden by an eventual-consistency fault: it
// takes effect at ApplyAt (Delete removes the key instead).
type PendingTag struct {
	ResourceID string    `json:"resource_id"`
	Key        string    `json:"key"`
	Value      string    `json:"value"`
	Delete     bool      `json:"delete,omitempty"`
	ApplyAt    time.Time `json:"apply_at"`
}
