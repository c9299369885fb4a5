package sandbox

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Well-known accounts. Any access key id of the form "sandbox-<12 digits>"
// acts as that account; every other key acts as DefaultAccount.
const (
	DefaultAccount = "123456789012"
	// AmazonAccount owns the public Amazon Linux images, as on AWS.
	AmazonAccount = "137112412989"
)

// DefaultRegions are the regions a new world knows (DescribeRegions).
var DefaultRegions = []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"}

// World is the whole simulated cloud. All of it is guarded by Server.mu; it
// is plain data so it can be dumped as JSON and persisted.
type World struct {
	Seed    int64          `json:"seed"`
	Counter map[string]int `json:"counter"` // per id prefix, so ids are deterministic
	Regions []string       `json:"regions"`
	Timing  Timing         `json:"timing"`

	EC2 *EC2State `json:"ec2"`
	SSM *SSMState `json:"ssm"`
	ASG *ASGState `json:"autoscaling"`
	// S3 (s3.go) and SSM Inventory (ssm_inventory.go) are created on first use.
	S3        *S3State        `json:"s3,omitempty"`
	Inventory *InventoryState `json:"inventory,omitempty"`
	// CloudWatch (cloudwatch.go): stored points and AMI profiles.
	CloudWatch *CloudWatchState `json:"cloudwatch,omitempty"`

	// Catalogue is the simulated package and patch universe.
	Catalogue *Catalogue `json:"catalogue"`

	rng      *rand.Rand
	savedNow time.Time
}

// NewWorld returns a world seeded with what a real region holds for this
// tool: public AL2023 images, their SSM public parameters, a default VPC.
func NewWorld(seed int64, start time.Time) *World {
	w := &World{
		Seed:    seed,
		Counter: map[string]int{},
		Regions: append([]string(nil), DefaultRegions...),
		Timing:  ZeroTiming(),
	}
	w.initRNG()
	w.Catalogue = newCatalogue(start)
	w.EC2 = newEC2State()
	w.SSM = newSSMState()
	w.ASG = newASGState()
	w.seedEC2(start)
	w.seedSSM(start)
	return w
}

func (w *World) initRNG() {
	w.rng = rand.New(rand.NewPCG(uint64(w.Seed), uint64(w.Seed)^0x9e3779b97f4a7c15))
}

// NewID returns the next deterministic id for a prefix, AWS-shaped:
// ami-0000000000000001a style (17 hex digits after the prefix).
func (w *World) NewID(prefix string) string {
	w.Counter[prefix]++
	n := w.Counter[prefix]
	return fmt.Sprintf("%s-%017x", prefix, uint64(n)*0x9e3779b1%0xfffffffffffffff+uint64(n))
}

// NewUUID returns a deterministic UUID-shaped id (command ids, request ids).
func (w *World) NewUUID() string {
	a, b := w.rng.Uint64(), w.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, b>>52&0xfff, b&0xffffffffffff)
}

// HasRegion reports whether region exists in this world.
func (w *World) HasRegion(r string) bool {
	for _, x := range w.Regions {
		if x == r {
			return true
		}
	}
	return false
}

// Content is what an image or instance holds: the ordered provisioning steps
// that ran on it and its package set. It is the sandbox's stand-in for disk
// bytes, so tests can see a child AMI carrying its parents' steps.
type Content struct {
	Steps    []ContentStep     `json:"steps"`
	Packages map[string]string `json:"packages"` // name → version-release
}

// ContentStep is one executed step.
type ContentStep struct {
	Name   string `json:"name"`
	Digest string `json:"digest"` // sha256 of the commands that ran
}

// Clone deep-copies content so an image never aliases its instance.
func (c Content) Clone() Content {
	out := Content{Steps: append([]ContentStep(nil), c.Steps...), Packages: make(map[string]string, len(c.Packages))}
	for k, v := range c.Packages {
		out.Packages[k] = v
	}
	return out
}

// PackageNames returns the sorted package names.
func (c Content) PackageNames() []string {
	names := make([]string, 0, len(c.Packages))
	for n := range c.Packages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Tags is a resource's tag set.
type Tags map[string]string

// matchWildcard matches AWS filter values: '*' any run, '?' one character.
func matchWildcard(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	return wildcard(pattern, s)
}

func wildcard(p, s string) bool {
	// Iterative glob with backtracking on the last '*'.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
