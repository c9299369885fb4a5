package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// PatchBaseline is a patch baseline (custom, or AWS-provided when AWSOwned).
type PatchBaseline struct {
	ID                               string            `json:"id"`
	Account                          string            `json:"account"`
	Region                           string            `json:"region"`
	AWSOwned                         bool              `json:"aws_owned,omitempty"`
	Name                             string            `json:"name"`
	OperatingSystem                  string            `json:"operating_system"`
	Description                      string            `json:"description,omitempty"`
	GlobalFilters                    patchFilterGroup  `json:"global_filters"`
	ApprovalRules                    patchRuleGroup    `json:"approval_rules"`
	ApprovedPatches                  []string          `json:"approved_patches"`
	ApprovedPatchesComplianceLevel   string            `json:"approved_patches_compliance_level"`
	ApprovedPatchesEnableNonSecurity bool              `json:"approved_patches_enable_non_security,omitempty"`
	RejectedPatches                  []string          `json:"rejected_patches"`
	RejectedPatchesAction            string            `json:"rejected_patches_action"`
	Sources                          []map[string]any  `json:"sources,omitempty"`
	AvailableSecurityUpdatesStatus   string            `json:"available_security_updates_compliance_status,omitempty"`
	Created                          time.Time         `json:"created"`
	Modified                         time.Time         `json:"modified"`
	Tags                             Tags              `json:"tags,omitempty"`
	Extra                            map[string]string `json:"extra,omitempty"`
}

type patchFilterGroup struct {
	PatchFilters []patchFilterJSON `json:"PatchFilters"`
}

type patchFilterJSON struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

type patchRuleGroup struct {
	PatchRules []patchRuleJSON `json:"PatchRules"`
}

type patchRuleJSON struct {
	PatchFilterGroup  patchFilterGroup `json:"PatchFilterGroup"`
	ComplianceLevel   string           `json:"ComplianceLevel,omitempty"`
	ApproveAfterDays  *int             `json:"ApproveAfterDays,omitempty"`
	ApproveUntilDate  string           `json:"ApproveUntilDate,omitempty"`
	EnableNonSecurity bool             `json:"EnableNonSecurity"`
}

// InstancePatchState is the result of an instance's last patch operation.
type InstancePatchState struct {
	InstanceID          string            `json:"instance_id"`
	PatchGroup          string            `json:"patch_group"`
	BaselineID          string            `json:"baseline_id"`
	SnapshotID          string            `json:"snapshot_id"`
	InstallOverrideList string            `json:"install_override_list,omitempty"`
	Operation           string            `json:"operation"` // Scan | Install
	RebootOption        string            `json:"reboot_option"`
	Start               time.Time         `json:"start"`
	End                 time.Time         `json:"end"`
	LastNoRebootInstall time.Time         `json:"last_no_reboot_install,omitzero"`
	CommandID           string            `json:"command_id,omitempty"`
	Patches             []PatchCompliance `json:"patches"`
	// PendingReboot lists packages installed without the reboot they need.
	PendingReboot []string `json:"pending_reboot,omitempty"`
}

// PatchCompliance is one row of DescribeInstancePatches.
type PatchCompliance struct {
	Title           string    `json:"title"`
	KBId            string    `json:"kb_id"`
	Classification  string    `json:"classification"`
	Severity        string    `json:"severity"`
	State           string    `json:"state"`
	InstalledTime   time.Time `json:"installed_time,omitzero"`
	CVEIds          string    `json:"cve_ids,omitempty"`
	ComplianceLevel string    `json:"compliance_level"`
	Advisories      []string  `json:"advisories,omitempty"`
}

// Patch states as Patch Manager reports them.
const (
	patchInstalled        = "INSTALLED"
	patchInstalledOther   = "INSTALLED_OTHER"
	patchPendingReboot    = "INSTALLED_PENDING_REBOOT"
	patchInstalledReject  = "INSTALLED_REJECTED"
	patchMissing          = "MISSING"
	patchNotApplicable    = "NOT_APPLICABLE"
	patchFailed           = "FAILED"
	patchAvailableSecUpd  = "AVAILABLE_SECURITY_UPDATE"
	osAmazonLinux2023     = "AMAZON_LINUX_2023"
	awsBaselineAccount    = "075727635805"
	productAmazonLinux    = "AmazonLinux2023"
	patchGroupTag         = "Patch Group"
	patchGroupTagNoSpace  = "PatchGroup"
	patchInstallStepName  = "patch-baseline/install"
	defaultComplianceLvl  = "UNSPECIFIED"
	rejectAllowDependency = "ALLOW_AS_DEPENDENCY"
)

var operatingSystems = []string{"WINDOWS", "AMAZON_LINUX", "AMAZON_LINUX_2", "AMAZON_LINUX_2022", "UBUNTU", "REDHAT_ENTERPRISE_LINUX",
	"SUSE", "CENTOS", "ORACLE_LINUX", "DEBIAN", "MACOS", "RASPBIAN", "ROCKY_LINUX", "ALMA_LINUX", "AMAZON_LINUX_2023"}

var complianceLevels = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"}

// awsBaselineNames are the AWS-provided default baselines the sandbox lists.
var awsBaselineNames = map[string]string{
	"AMAZON_LINUX_2023":       "AWS-AmazonLinux2023DefaultPatchBaseline",
	"AMAZON_LINUX_2":          "AWS-AmazonLinux2DefaultPatchBaseline",
	"AMAZON_LINUX":            "AWS-AmazonLinuxDefaultPatchBaseline",
	"WINDOWS":                 "AWS-DefaultPatchBaseline",
	"UBUNTU":                  "AWS-UbuntuDefaultPatchBaseline",
	"REDHAT_ENTERPRISE_LINUX": "AWS-RedHatDefaultPatchBaseline",
	"AMAZON_LINUX_2022":       "AWS-AmazonLinux2022DefaultPatchBaseline",
	"DEBIAN":                  "AWS-DebianDefaultPatchBaseline",
	"SUSE":                    "AWS-SuseDefaultPatchBaseline",
	"ROCKY_LINUX":             "AWS-RockyLinuxDefaultPatchBaseline",
	"ORACLE_LINUX":            "AWS-OracleLinuxDefaultPatchBaseline",
	"ALMA_LINUX":              "AWS-AlmaLinuxDefaultPatchBaseline",
	"MACOS":                   "AWS-MacOSDefaultPatchBaseline",
	"CENTOS":                  "AWS-CentOSDefaultPatchBaseline",
	"RASPBIAN":                "AWS-RaspbianDefaultPatchBaseline",
}

// awsBaseline returns an AWS-provided baseline for a region. Its rules
// follow AWS's documented defaults for Amazon Linux 2023: Security patches
// of severity Critical or Important, and Bugfix patches, seven days after
// release.
func awsBaseline(region, os string) *PatchBaseline {
	name := awsBaselineNames[os]
	if name == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(name))
	id := fmt.Sprintf("arn:aws:ssm:%s:%s:patchbaseline/pb-%s", region, awsBaselineAccount, hex.EncodeToString(sum[:])[:17])
	seven := 7
	b := &PatchBaseline{
		ID: id, Region: region, AWSOwned: true, Name: name, OperatingSystem: os,
		Description:                    "Default Patch Baseline Provided by AWS.",
		ApprovedPatches:                []string{},
		RejectedPatches:                []string{},
		ApprovedPatchesComplianceLevel: defaultComplianceLvl,
		RejectedPatchesAction:          rejectAllowDependency,
		GlobalFilters:                  patchFilterGroup{PatchFilters: []patchFilterJSON{}},
	}
	if os == osAmazonLinux2023 || os == "AMAZON_LINUX_2" || os == "AMAZON_LINUX" {
		b.GlobalFilters.PatchFilters = []patchFilterJSON{{Key: "PRODUCT", Values: []string{"*"}}}
		b.ApprovalRules.PatchRules = []patchRuleJSON{
			{PatchFilterGroup: patchFilterGroup{PatchFilters: []patchFilterJSON{
				{Key: "PRODUCT", Values: []string{"*"}},
				{Key: "CLASSIFICATION", Values: []string{"Security"}},
				{Key: "SEVERITY", Values: []string{"Critical", "Important"}},
			}}, ApproveAfterDays: &seven, ComplianceLevel: defaultComplianceLvl},
			{PatchFilterGroup: patchFilterGroup{PatchFilters: []patchFilterJSON{
				{Key: "PRODUCT", Values: []string{"*"}},
				{Key: "CLASSIFICATION", Values: []string{"Bugfix"}},
			}}, ApproveAfterDays: &seven, ComplianceLevel: defaultComplianceLvl},
		}
	}
	return b
}

// baseline finds a baseline by id: the scope's own or an AWS-provided one.
func (sc *SSMScope) baseline(id string) *PatchBaseline {
	if b := sc.Baselines[id]; b != nil {
		return b
	}
	for os := range awsBaselineNames {
		if b := awsBaseline(sc.Region, os); b != nil && (b.ID == id) {
			return b
		}
	}
	return nil
}

// defaultBaseline is the scope's default baseline for an OS.
func (sc *SSMScope) defaultBaseline(os string) *PatchBaseline {
	if id := sc.DefaultBaselines[os]; id != "" {
		if b := sc.baseline(id); b != nil {
			return b
		}
	}
	return awsBaseline(sc.Region, os)
}

func patchGroupKey(os, group string) string { return os + ":" + group }

// baselineForGroup is the baseline registered for a patch group (for an
// OS), else the default.
func (sc *SSMScope) baselineForGroup(os, group string) *PatchBaseline {
	if group != "" {
		if id := sc.PatchGroups[patchGroupKey(os, group)]; id != "" {
			if b := sc.baseline(id); b != nil {
				return b
			}
		}
	}
	return sc.defaultBaseline(os)
}

// instancePatchGroup is the instance's patch group tag ("Patch Group" or
// "PatchGroup").
func instancePatchGroup(inst *Instance) string {
	if g := inst.Tags[patchGroupTag]; g != "" {
		return g
	}
	return inst.Tags[patchGroupTagNoSpace]
}

// ---- approval ---------------------------------------------------------

// approval says whether a patch is approved by a baseline at now, and with
// which compliance level.
type approval struct {
	Approved bool
	Rejected bool
	Level    string
}

func filterGroupMatches(g patchFilterGroup, p *Patch) bool {
	for _, f := range g.PatchFilters {
		var have string
		switch f.Key {
		case "PRODUCT":
			have = productAmazonLinux
		case "CLASSIFICATION":
			have = p.Classification
		case "SEVERITY":
			have = p.Severity
		default:
			continue
		}
		ok := false
		for _, v := range f.Values {
			if v == "*" || strings.EqualFold(v, have) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// patchListMatches matches an approved/rejected list entry against an
// advisory: its id, or one of its packages by name or name-version
// (wildcards allowed).
func patchListMatches(list []string, p *Patch) bool {
	for _, e := range list {
		if matchWildcard(e, p.ID) {
			return true
		}
		for _, cve := range p.CVEs {
			if e == cve {
				return true
			}
		}
		for _, pp := range p.Packages {
			if matchWildcard(e, pp.Name) || matchWildcard(e, pp.Name+"-"+pp.Version) || matchWildcard(e, pp.Name+"-"+pp.Version+".*") {
				return true
			}
		}
	}
	return false
}

func (b *PatchBaseline) approve(p *Patch, now time.Time) approval {
	if patchListMatches(b.RejectedPatches, p) {
		return approval{Rejected: true}
	}
	if patchListMatches(b.ApprovedPatches, p) {
		return approval{Approved: true, Level: b.ApprovedPatchesComplianceLevel}
	}
	if len(b.GlobalFilters.PatchFilters) > 0 && !filterGroupMatches(b.GlobalFilters, p) {
		return approval{}
	}
	for _, r := range b.ApprovalRules.PatchRules {
		if !filterGroupMatches(r.PatchFilterGroup, p) {
			continue
		}
		switch {
		case r.ApproveAfterDays != nil:
			if p.Released.Add(time.Duration(*r.ApproveAfterDays) * 24 * time.Hour).After(now) {
				continue
			}
		case r.ApproveUntilDate != "":
			until, err := time.Parse("2006-01-02", r.ApproveUntilDate)
			if err != nil || p.Released.After(until.Add(24*time.Hour-time.Second)) {
				continue
			}
		}
		lvl := r.ComplianceLevel
		if lvl == "" {
			lvl = defaultComplianceLvl
		}
		return approval{Approved: true, Level: lvl}
	}
	return approval{}
}

// ApprovedPatches lists the advisories a baseline approves at now.
func (w *World) ApprovedPatches(b *PatchBaseline, now time.Time) []*Patch {
	var out []*Patch
	for _, p := range w.Catalogue.Released(now) {
		if b.approve(p, now).Approved {
			out = append(out, p)
		}
	}
	return out
}

var severityRank = map[string]int{"Critical": 4, "Important": 3, "Medium": 2, "Low": 1}
var levelRank = map[string]int{"CRITICAL": 6, "HIGH": 5, "MEDIUM": 4, "LOW": 3, "INFORMATIONAL": 2, "UNSPECIFIED": 1}

func archOf(inst *Instance, pkg *CatalogPackage) string {
	if pkg != nil && pkg.NoArch {
		return "noarch"
	}
	if inst.Architecture == "arm64" {
		return "aarch64"
	}
	return "x86_64"
}

// patchCompliance is the instance's patch compliance against a baseline at
// now: one row per package, as Patch Manager reports Amazon Linux.
func (w *World) patchCompliance(inst *Instance, b *PatchBaseline, pendingReboot []string, installedAt time.Time, now time.Time) []PatchCompliance {
	cat := w.Catalogue
	type pkgInfo struct {
		approvedMissing, approvedHave, rejectedHave, unapprovedSecurity []*Patch
		level                                                           string
	}
	infos := map[string]*pkgInfo{}
	info := func(n string) *pkgInfo {
		if infos[n] == nil {
			infos[n] = &pkgInfo{}
		}
		return infos[n]
	}
	for _, p := range cat.Released(now) {
		a := b.approve(p, now)
		for _, pp := range p.Packages {
			cur, installed := inst.Content.Packages[pp.Name]
			pi := info(pp.Name)
			switch {
			case a.Rejected:
				if installed && vercmp(cur, pp.Version) >= 0 {
					pi.rejectedHave = append(pi.rejectedHave, p)
				}
			case a.Approved:
				if !installed || vercmp(cur, pp.Version) < 0 {
					pi.approvedMissing = append(pi.approvedMissing, p)
					if levelRank[a.Level] > levelRank[pi.level] {
						pi.level = a.Level
					}
				} else {
					pi.approvedHave = append(pi.approvedHave, p)
				}
			case p.Classification == "Security" && installed && vercmp(cur, pp.Version) < 0:
				pi.unapprovedSecurity = append(pi.unapprovedSecurity, p)
			}
		}
	}
	var rows []PatchCompliance
	names := sortedKeys(infos)
	for name := range inst.Content.Packages {
		if infos[name] == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		pi := infos[name]
		if pi == nil {
			pi = &pkgInfo{}
		}
		cur, installed := inst.Content.Packages[name]
		pkg := cat.Packages[name]
		kb := name + "." + archOf(inst, pkg)
		row := PatchCompliance{KBId: kb, ComplianceLevel: defaultComplianceLvl}
		describe := func(ps []*Patch) {
			var cves []string
			for _, p := range ps {
				if severityRank[p.Severity] > severityRank[row.Severity] {
					row.Severity = p.Severity
				}
				if row.Classification == "" || p.Classification == "Security" {
					row.Classification = p.Classification
				}
				cves = append(cves, p.CVEs...)
				row.Advisories = append(row.Advisories, p.ID)
			}
			row.CVEIds = strings.Join(cves, ",")
		}
		switch {
		case !installed:
			if len(pi.approvedMissing) == 0 {
				continue
			}
			row.State = patchNotApplicable
			newest := newestFix(pi.approvedMissing, name)
			row.Title = kb + ":0:" + newest
			describe(pi.approvedMissing)
		case len(pi.approvedMissing) > 0:
			row.State = patchMissing
			row.Title = kb + ":0:" + newestFix(pi.approvedMissing, name)
			row.ComplianceLevel = pi.level
			describe(pi.approvedMissing)
		case len(pi.approvedHave) > 0:
			row.State = patchInstalled
			if ssmContains(pendingReboot, name) {
				row.State = patchPendingReboot
			}
			row.Title = kb + ":0:" + cur
			row.InstalledTime = installedAt
			describe(pi.approvedHave)
		case len(pi.rejectedHave) > 0 && b.RejectedPatchesAction != "BLOCK":
			row.State = patchInstalledReject
			row.Title = kb + ":0:" + cur
			row.InstalledTime = installedAt
			describe(pi.rejectedHave)
		case len(pi.unapprovedSecurity) > 0 && b.AvailableSecurityUpdatesStatus != "":
			row.State = patchAvailableSecUpd
			row.Title = kb + ":0:" + newestFix(pi.unapprovedSecurity, name)
			describe(pi.unapprovedSecurity)
		default:
			row.State = patchInstalledOther
			row.Title = kb + ":0:" + cur
			row.InstalledTime = installedAt
			if pkg != nil {
				for _, v := range pkg.Versions {
					if v.Version == cur && v.Advisory != "" {
						if p := cat.Patch(v.Advisory); p != nil {
							describe([]*Patch{p})
						}
					}
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func newestFix(ps []*Patch, name string) string {
	best := ""
	for _, p := range ps {
		if v := p.fixedVersion(name); best == "" || vercmp(v, best) > 0 {
			best = v
		}
	}
	return best
}

// rebootPackages need a reboot to take effect after an update.
var rebootPackages = map[string]bool{"kernel": true, "glibc": true, "systemd": true, "openssl-libs": true}

// runPatchBaseline performs AWS-RunPatchBaseline on an instance at t and
// returns the plugin output and exit code.
func (w *World) runPatchBaseline(cmd *Command, inv *Invocation, inst *Instance, t time.Time) (string, int) {
	sc := w.ssmScope(cmd.Account, cmd.Region)
	group := instancePatchGroup(inst)
	b := sc.baselineForGroup(osAmazonLinux2023, group)
	op := firstValue(cmd.Parameters["Operation"])
	if op == "" {
		op = "Scan"
	}
	reboot := firstValue(cmd.Parameters["RebootOption"])
	if reboot == "" {
		reboot = "RebootIfNeeded"
	}
	snapshot := firstValue(cmd.Parameters["SnapshotId"])
	if snapshot == "" {
		snapshot = w.NewUUID()
	}
	prev := sc.PatchStates[inst.ID]
	st := &InstancePatchState{
		InstanceID: inst.ID, PatchGroup: group, BaselineID: b.ID, SnapshotID: snapshot, Operation: op,
		RebootOption: reboot, Start: inv.StartedAt, End: t, CommandID: cmd.ID,
		InstallOverrideList: firstValue(cmd.Parameters["InstallOverrideList"]),
	}
	if prev != nil {
		st.PendingReboot, st.LastNoRebootInstall = prev.PendingReboot, prev.LastNoRebootInstall
	}
	installedAt := inst.LaunchTime
	var out strings.Builder
	fmt.Fprintf(&out, "Patch group: %s\nBaseline: %s (%s)\nOperation: %s\n", orNone(group), b.ID, b.Name, op)
	if op == "Install" {
		approved := w.ApprovedPatches(b, t)
		var upgraded []string
		for _, name := range sortedKeys(inst.Content.Packages) {
			cur := inst.Content.Packages[name]
			target := ""
			for _, p := range approved {
				if v := p.fixedVersion(name); v != "" && vercmp(v, cur) > 0 && (target == "" || vercmp(v, target) > 0) {
					target = v
				}
			}
			if target != "" {
				inst.Content.Packages[name] = target
				upgraded = append(upgraded, name+"-"+target)
				if rebootPackages[name] && reboot == "NoReboot" && !ssmContains(st.PendingReboot, name) {
					st.PendingReboot = append(st.PendingReboot, name)
				}
			}
		}
		if reboot == "RebootIfNeeded" {
			st.PendingReboot = nil
		} else {
			st.LastNoRebootInstall = t
		}
		ids := make([]string, 0, len(approved))
		for _, p := range approved {
			ids = append(ids, p.ID)
		}
		sort.Strings(ids)
		sum := sha256.Sum256([]byte(b.ID + "\n" + strings.Join(ids, "\n")))
		inst.Content.Steps = append(inst.Content.Steps, ContentStep{Name: patchInstallStepName, Digest: hex.EncodeToString(sum[:])})
		installedAt = t
		if len(upgraded) > 0 {
			fmt.Fprintf(&out, "Upgraded:\n  %s\n", strings.Join(upgraded, "\n  "))
		} else {
			out.WriteString("No approved patches are missing.\n")
		}
		if len(st.PendingReboot) > 0 {
			fmt.Fprintf(&out, "Reboot required (RebootOption=NoReboot): %s\n", strings.Join(st.PendingReboot, ", "))
		} else if len(upgraded) > 0 {
			out.WriteString("Rebooting if needed.\n")
		}
	}
	st.Patches = w.patchCompliance(inst, b, st.PendingReboot, installedAt, t)
	c := st.counts()
	fmt.Fprintf(&out, "Installed: %d, InstalledOther: %d, Missing: %d, NotApplicable: %d, Failed: %d\n",
		c.Installed, c.InstalledOther, c.Missing, c.NotApplicable, c.Failed)
	sc.PatchStates[inst.ID] = st
	return out.String(), 0
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

type patchCounts struct {
	Installed, InstalledOther, PendingReboot, Rejected, Missing, Failed, NotApplicable, AvailableSec int
	CriticalNonCompliant, SecurityNonCompliant, OtherNonCompliant                                    int
}

func (st *InstancePatchState) counts() patchCounts {
	var c patchCounts
	for _, p := range st.Patches {
		switch p.State {
		case patchInstalled:
			c.Installed++
		case patchInstalledOther:
			c.InstalledOther++
		case patchPendingReboot:
			c.PendingReboot++
		case patchInstalledReject:
			c.Rejected++
		case patchMissing:
			c.Missing++
		case patchFailed:
			c.Failed++
		case patchNotApplicable:
			c.NotApplicable++
		case patchAvailableSecUpd:
			c.AvailableSec++
		}
		if p.State == patchMissing || p.State == patchFailed {
			switch {
			case p.ComplianceLevel == "CRITICAL":
				c.CriticalNonCompliant++
			case p.Classification == "Security":
				c.SecurityNonCompliant++
			default:
				c.OtherNonCompliant++
			}
		}
	}
	return c
}

// ---- wire -------------------------------------------------------------

func (s *Server) registerSSMPatch() {
	s.handle(svcSSM, "CreatePatchBaseline", ssmCreatePatchBaseline)
	s.handle(svcSSM, "UpdatePatchBaseline", ssmUpdatePatchBaseline)
	s.handle(svcSSM, "GetPatchBaseline", ssmGetPatchBaseline)
	s.handle(svcSSM, "DeletePatchBaseline", ssmDeletePatchBaseline)
	s.handle(svcSSM, "DescribePatchBaselines", ssmDescribePatchBaselines)
	s.handle(svcSSM, "RegisterPatchBaselineForPatchGroup", ssmRegisterPatchBaselineForPatchGroup)
	s.handle(svcSSM, "DeregisterPatchBaselineForPatchGroup", ssmDeregisterPatchBaselineForPatchGroup)
	s.handle(svcSSM, "GetPatchBaselineForPatchGroup", ssmGetPatchBaselineForPatchGroup)
	s.handle(svcSSM, "DescribePatchGroups", ssmDescribePatchGroups)
	s.handle(svcSSM, "DescribePatchGroupState", ssmDescribePatchGroupState)
	s.handle(svcSSM, "RegisterDefaultPatchBaseline", ssmRegisterDefaultPatchBaseline)
	s.handle(svcSSM, "GetDefaultPatchBaseline", ssmGetDefaultPatchBaseline)
	s.handle(svcSSM, "DescribeAvailablePatches", ssmDescribeAvailablePatches)
	s.handle(svcSSM, "DescribeEffectivePatchesForPatchBaseline", ssmDescribeEffectivePatches)
	s.handle(svcSSM, "DescribeInstancePatchStates", ssmDescribeInstancePatchStates)
	s.handle(svcSSM, "DescribeInstancePatchStatesForPatchGroup", ssmDescribeInstancePatchStatesForPatchGroup)
	s.handle(svcSSM, "DescribeInstancePatches", ssmDescribeInstancePatches)
	s.handle(svcSSM, "ListComplianceItems", ssmListComplianceItems)
	s.handle(svcSSM, "ListResourceComplianceSummaries", ssmListResourceComplianceSummaries)
}

type baselineInput struct {
	BaselineID                               string            `json:"BaselineId"`
	OperatingSystem                          string            `json:"OperatingSystem"`
	Name                                     *string           `json:"Name"`
	GlobalFilters                            *patchFilterGroup `json:"GlobalFilters"`
	ApprovalRules                            *patchRuleGroup   `json:"ApprovalRules"`
	ApprovedPatches                          []string          `json:"ApprovedPatches"`
	ApprovedPatchesComplianceLevel           string            `json:"ApprovedPatchesComplianceLevel"`
	ApprovedPatchesEnableNonSecurity         *bool             `json:"ApprovedPatchesEnableNonSecurity"`
	RejectedPatches                          []string          `json:"RejectedPatches"`
	RejectedPatchesAction                    string            `json:"RejectedPatchesAction"`
	Description                              *string           `json:"Description"`
	Sources                                  []map[string]any  `json:"Sources"`
	AvailableSecurityUpdatesComplianceStatus string            `json:"AvailableSecurityUpdatesComplianceStatus"`
	ClientToken                              string            `json:"ClientToken"`
	Tags                                     []ssmTag          `json:"Tags"`
	Replace                                  bool              `json:"Replace"`
}

var baselineNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-.]{3,128}$`)

// validFilterKeys are the patch filter keys Amazon Linux baselines accept.
var linuxFilterValues = map[string][]string{
	"PRODUCT":        {"*", "AmazonLinux2023", "AmazonLinux2", "AmazonLinux2018.03"},
	"CLASSIFICATION": append([]string{"*"}, PatchClassifications...),
	"SEVERITY":       append([]string{"*", "None"}, PatchSeverities...),
}

func validateFilterGroup(os string, g *patchFilterGroup, where string) error {
	if g == nil {
		return nil
	}
	if len(g.PatchFilters) > 4 {
		return errValidationException("1 validation error detected: Value at '%s.patchFilters' failed to satisfy constraint: Member must have length less than or equal to 4", where)
	}
	seen := map[string]bool{}
	for _, f := range g.PatchFilters {
		if seen[f.Key] {
			return errValidationException("Duplicate patch filter key %s in %s.", f.Key, where)
		}
		seen[f.Key] = true
		if !strings.HasPrefix(os, "AMAZON_LINUX") {
			continue
		}
		allowed, ok := linuxFilterValues[f.Key]
		if !ok {
			return errValidationException("Patch filter key %s is not supported for operating system %s. Valid keys: PRODUCT, CLASSIFICATION, SEVERITY.", f.Key, os)
		}
		if len(f.Values) == 0 {
			return errValidationException("Patch filter %s needs at least one value.", f.Key)
		}
		for _, v := range f.Values {
			if !ssmContains(allowed, v) {
				return errValidationException("Value %s is not valid for patch filter %s for operating system %s.", v, f.Key, os)
			}
		}
	}
	return nil
}

func validateRules(os string, r *patchRuleGroup) error {
	if r == nil {
		return nil
	}
	if len(r.PatchRules) > 10 {
		return errValidationException("1 validation error detected: Value at 'approvalRules.patchRules' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	for i := range r.PatchRules {
		rule := &r.PatchRules[i]
		if err := validateFilterGroup(os, &rule.PatchFilterGroup, "approvalRules.patchRules.patchFilterGroup"); err != nil {
			return err
		}
		if (rule.ApproveAfterDays == nil) == (rule.ApproveUntilDate == "") {
			return errValidationException("Either ApproveAfterDays or ApproveUntilDate must be specified for each approval rule, but not both.")
		}
		if rule.ApproveAfterDays != nil && (*rule.ApproveAfterDays < 0 || *rule.ApproveAfterDays > 360) {
			return errValidationException("1 validation error detected: Value '%d' at 'approvalRules.patchRules.member.approveAfterDays' failed to satisfy constraint: Member must have value between 0 and 360", *rule.ApproveAfterDays)
		}
		if rule.ApproveUntilDate != "" {
			if _, err := time.Parse("2006-01-02", rule.ApproveUntilDate); err != nil {
				return errValidationException("ApproveUntilDate %s must be in the format YYYY-MM-DD.", rule.ApproveUntilDate)
			}
		}
		if rule.ComplianceLevel == "" {
			rule.ComplianceLevel = defaultComplianceLvl
		}
		if !ssmContains(complianceLevels, rule.ComplianceLevel) {
			return errValidationException("Compliance level %s is not valid.", rule.ComplianceLevel)
		}
	}
	return nil
}

func applyBaselineInput(b *PatchBaseline, in *baselineInput, replace bool) error {
	if in.Name != nil {
		if !baselineNameRE.MatchString(*in.Name) {
			return errValidationException("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$", *in.Name)
		}
		b.Name = *in.Name
	}
	if err := validateFilterGroup(b.OperatingSystem, in.GlobalFilters, "globalFilters"); err != nil {
		return err
	}
	if err := validateRules(b.OperatingSystem, in.ApprovalRules); err != nil {
		return err
	}
	if in.GlobalFilters != nil || replace {
		b.GlobalFilters = patchFilterGroup{PatchFilters: []patchFilterJSON{}}
		if in.GlobalFilters != nil {
			b.GlobalFilters = *in.GlobalFilters
		}
	}
	if in.ApprovalRules != nil || replace {
		b.ApprovalRules = patchRuleGroup{PatchRules: []patchRuleJSON{}}
		if in.ApprovalRules != nil {
			b.ApprovalRules = *in.ApprovalRules
		}
	}
	if in.ApprovedPatches != nil || replace {
		if len(in.ApprovedPatches) > 50 {
			return errValidationException("ApprovedPatches can contain at most 50 entries.")
		}
		b.ApprovedPatches = append([]string{}, in.ApprovedPatches...)
	}
	if in.RejectedPatches != nil || replace {
		if len(in.RejectedPatches) > 50 {
			return errValidationException("RejectedPatches can contain at most 50 entries.")
		}
		b.RejectedPatches = append([]string{}, in.RejectedPatches...)
	}
	if in.ApprovedPatchesComplianceLevel != "" {
		if !ssmContains(complianceLevels, in.ApprovedPatchesComplianceLevel) {
			return errValidationException("Compliance level %s is not valid.", in.ApprovedPatchesComplianceLevel)
		}
		b.ApprovedPatchesComplianceLevel = in.ApprovedPatchesComplianceLevel
	} else if replace {
		b.ApprovedPatchesComplianceLevel = defaultComplianceLvl
	}
	if in.ApprovedPatchesEnableNonSecurity != nil {
		b.ApprovedPatchesEnableNonSecurity = *in.ApprovedPatchesEnableNonSecurity
	}
	switch in.RejectedPatchesAction {
	case "":
		if replace {
			b.RejectedPatchesAction = rejectAllowDependency
		}
	case rejectAllowDependency, "BLOCK":
		b.RejectedPatchesAction = in.RejectedPatchesAction
	default:
		return errValidationException("RejectedPatchesAction must be ALLOW_AS_DEPENDENCY or BLOCK.")
	}
	if in.Description != nil {
		b.Description = *in.Description
	} else if replace {
		b.Description = ""
	}
	if in.Sources != nil || replace {
		b.Sources = in.Sources
	}
	switch in.AvailableSecurityUpdatesComplianceStatus {
	case "":
	case "COMPLIANT", "NON_COMPLIANT":
		b.AvailableSecurityUpdatesStatus = in.AvailableSecurityUpdatesComplianceStatus
	default:
		return errValidationException("AvailableSecurityUpdatesComplianceStatus must be COMPLIANT or NON_COMPLIANT.")
	}
	return nil
}

func ssmCreatePatchBaseline(c *Call) (any, error) {
	var in baselineInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	sc := c.ssm()
	if in.ClientToken != "" {
		if id := sc.BaselineTokens[in.ClientToken]; id != "" {
			if b := sc.Baselines[id]; b != nil {
				if in.Name != nil && *in.Name != b.Name {
					return nil, Errorf("IdempotentParameterMismatch", "The client token %s was used with different parameters.", in.ClientToken)
				}
				return map[string]any{"BaselineId": b.ID}, nil
			}
		}
	}
	if in.Name == nil {
		return nil, errValidationException("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	if in.OperatingSystem == "" {
		in.OperatingSystem = "WINDOWS"
	}
	if !ssmContains(operatingSystems, in.OperatingSystem) {
		return nil, errValidationException("1 validation error detected: Value '%s' at 'operatingSystem' failed to satisfy constraint: Member must satisfy enum value set: %v", in.OperatingSystem, operatingSystems)
	}
	tags, err := validateTags(in.Tags)
	if err != nil {
		return nil, err
	}
	b := &PatchBaseline{ID: c.World.NewID("pb"), Account: c.Account, Region: c.Region, OperatingSystem: in.OperatingSystem,
		ApprovedPatchesComplianceLevel: defaultComplianceLvl, RejectedPatchesAction: rejectAllowDependency,
		Created: c.Now, Modified: c.Now, Tags: tags}
	if err := applyBaselineInput(b, &in, true); err != nil {
		return nil, err
	}
	for _, other := range sc.Baselines {
		if other.Name == b.Name {
			return nil, Errorf("AlreadyExistsException", "A patch baseline with the name %s already exists.", b.Name)
		}
	}
	if len(sc.Baselines) >= 50 {
		return nil, Errorf("ResourceLimitExceededException", "You can create at most 50 patch baselines.")
	}
	sc.Baselines[b.ID] = b
	if in.ClientToken != "" {
		sc.BaselineTokens[in.ClientToken] = b.ID
	}
	return map[string]any{"BaselineId": b.ID}, nil
}

// baselineOut is GetPatchBaseline's and UpdatePatchBaseline's result.
func baselineOut(sc *SSMScope, b *PatchBaseline, withGroups bool) map[string]any {
	out := map[string]any{
		"BaselineId": b.ID, "Name": b.Name, "OperatingSystem": b.OperatingSystem, "GlobalFilters": b.GlobalFilters,
		"ApprovalRules": b.ApprovalRules, "ApprovedPatches": nonNilStrings(b.ApprovedPatches),
		"ApprovedPatchesComplianceLevel": b.ApprovedPatchesComplianceLevel, "ApprovedPatchesEnableNonSecurity": b.ApprovedPatchesEnableNonSecurity,
		"RejectedPatches": nonNilStrings(b.RejectedPatches), "RejectedPatchesAction": b.RejectedPatchesAction,
		"Description": b.Description, "Sources": nonNilMaps(b.Sources),
	}
	if b.AvailableSecurityUpdatesStatus != "" {
		out["AvailableSecurityUpdatesComplianceStatus"] = b.AvailableSecurityUpdatesStatus
	}
	if !b.Created.IsZero() {
		out["CreatedDate"], out["ModifiedDate"] = epochAt(b.Created), epochAt(b.Modified)
	}
	if withGroups {
		groups := []string{}
		for _, k := range sortedKeys(sc.PatchGroups) {
			if sc.PatchGroups[k] == b.ID {
				groups = append(groups, strings.SplitN(k, ":", 2)[1])
			}
		}
		out["PatchGroups"] = groups
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMaps(s []map[string]any) []map[string]any {
	if s == nil {
		return []map[string]any{}
	}
	return s
}

func findBaseline(c *Call, id string) (*PatchBaseline, error) {
	if id == "" {
		return nil, errValidationException("1 validation error detected: Value null at 'baselineId' failed to satisfy constraint: Member must not be null")
	}
	b := c.ssm().baseline(id)
	if b == nil {
		return nil, Errorf("DoesNotExistException", "Patch Baseline %s does not exist.", id)
	}
	return b, nil
}

func ssmGetPatchBaseline(c *Call) (any, error) {
	var in baselineInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	b, err := findBaseline(c, in.BaselineID)
	if err != nil {
		return nil, err
	}
	return baselineOut(c.ssm(), b, true), nil
}

func ssmUpdatePatchBaseline(c *Call) (any, error) {
	var in baselineInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	b, err := findBaseline(c, in.BaselineID)
	if err != nil {
		return nil, err
	}
	if b.AWSOwned {
		return nil, Errorf("AccessDeniedException", "AWS-provided patch baselines cannot be modified.")
	}
	cp := *b
	if err := applyBaselineInput(&cp, &in, in.Replace); err != nil {
		return nil, err
	}
	cp.Modified = c.Now
	*b = cp
	return baselineOut(c.ssm(), b, false), nil
}

func ssmDeletePatchBaseline(c *Call) (any, error) {
	var in baselineInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	sc := c.ssm()
	b, err := findBaseline(c, in.BaselineID)
	if err != nil {
		return nil, err
	}
	if b.AWSOwned {
		return nil, Errorf("AccessDeniedException", "AWS-provided patch baselines cannot be deleted.")
	}
	for k, id := range sc.PatchGroups {
		if id == b.ID {
			return nil, Errorf("ResourceInUseException", "Patch Baseline %s is registered with patch group %s; deregister it first.", b.ID, strings.SplitN(k, ":", 2)[1])
		}
	}
	for _, id := range sc.DefaultBaselines {
		if id == b.ID {
			return nil, Errorf("ResourceInUseException", "Patch Baseline %s is the default patch baseline; register another default first.", b.ID)
		}
	}
	delete(sc.Baselines, b.ID)
	return map[string]any{"BaselineId": b.ID}, nil
}

func (sc *SSMScope) allBaselines() []*PatchBaseline {
	var out []*PatchBaseline
	for _, os := range sortedKeys(awsBaselineNames) {
		out = append(out, awsBaseline(sc.Region, os))
	}
	for _, id := range sortedKeys(sc.Baselines) {
		out = append(out, sc.Baselines[id])
	}
	return out
}

func baselineIdentity(sc *SSMScope, b *PatchBaseline) map[string]any {
	return map[string]any{"BaselineId": b.ID, "BaselineName": b.Name, "OperatingSystem": b.OperatingSystem,
		"BaselineDescription": b.Description, "DefaultBaseline": sc.defaultBaseline(b.OperatingSystem).ID == b.ID}
}

func ssmDescribePatchBaselines(c *Call) (any, error) {
	var in ssmListInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	sc := c.ssm()
	kept, err := ssmKeep(sc.allBaselines(), in.Filters, func(b *PatchBaseline, f ssmFilter) (bool, error) {
		m := false
		switch f.Key {
		case "NAME_PREFIX":
			for _, v := range f.Values {
				m = m || strings.HasPrefix(b.Name, v)
			}
		case "OWNER":
			for _, v := range f.Values {
				m = m || v == "All" || (v == "AWS" && b.AWSOwned) || (v == "Self" && !b.AWSOwned)
			}
		case "OPERATING_SYSTEM":
			m = ssmContains(f.Values, b.OperatingSystem)
		default:
			return false, errValidationException("Filter key %s is not valid. Valid keys: NAME_PREFIX, OWNER, OPERATING_SYSTEM.", f.Key)
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(kept, in.NextToken, in.MaxResults, 100, 100, "baselines")
	if err != nil {
		return nil, err
	}
	return ssmList("BaselineIdentities", pg, next, func(b *PatchBaseline) map[string]any {
		return baselineIdentity(sc, b)
	}), nil
}

func ssmRegisterPatchBaselineForPatchGroup(c *Call) (any, error) {
	var in struct {
		BaselineID string `json:"BaselineId"`
		PatchGroup string `json:"PatchGroup"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.PatchGroup == "" || len(in.PatchGroup) > 256 {
		return nil, errValidationException("1 validation error detected: Value at 'patchGroup' failed to satisfy constraint: Member must have length between 1 and 256")
	}
	b, err := findBaseline(c, in.BaselineID)
	if err != nil {
		return nil, err
	}
	sc := c.ssm()
	key := patchGroupKey(b.OperatingSystem, in.PatchGroup)
	if cur := sc.PatchGroups[key]; cur != "" {
		return nil, Errorf("AlreadyExistsException", "Patch Group %s is already registered with baseline %s for operating system %s.", in.PatchGroup, cur, b.OperatingSystem)
	}
	sc.PatchGroups[key] = b.ID
	return map[string]any{"BaselineId": b.ID, "PatchGroup": in.PatchGroup}, nil
}

func ssmDeregisterPatchBaselineForPatchGroup(c *Call) (any, error) {
	var in struct {
		BaselineID string `json:"BaselineId"`
		PatchGroup string `json:"PatchGroup"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	b, err := findBaseline(c, in.BaselineID)
	if err != nil {
		return nil, err
	}
	sc := c.ssm()
	key := patchGroupKey(b.OperatingSystem, in.PatchGroup)
	if sc.PatchGroups[key] != b.ID {
		return nil, Errorf("InvalidResourceId", "Patch Baseline %s is not registered with patch group %s.", b.ID, in.PatchGroup)
	}
	delete(sc.PatchGroups, key)
	return map[string]any{"BaselineId": b.ID, "PatchGroup": in.PatchGroup}, nil
}

func ssmGetPatchBaselineForPatchGroup(c *Call) (any, error) {
	var in struct {
		PatchGroup      string `json:"PatchGroup"`
		OperatingSystem string `json:"OperatingSystem"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.OperatingSystem == "" {
		in.OperatingSystem = "WINDOWS"
	}
	if !ssmContains(operatingSystems, in.OperatingSystem) {
		return nil, errValidationException("Operating system %s is not valid.", in.OperatingSystem)
	}
	b := c.ssm().baselineForGroup(in.OperatingSystem, in.PatchGroup)
	if b == nil {
		return nil, Errorf("DoesNotExistException", "No patch baseline for patch group %s.", in.PatchGroup)
	}
	return map[string]any{"BaselineId": b.ID, "PatchGroup": in.PatchGroup, "OperatingSystem": in.OperatingSystem}, nil
}

func ssmDescribePatchGroups(c *Call) (any, error) {
	var in ssmListInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	sc := c.ssm()
	var mappings []map[string]any
	for _, k := range sortedKeys(sc.PatchGroups) {
		parts := strings.SplitN(k, ":", 2)
		b := sc.baseline(sc.PatchGroups[k])
		if b == nil {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			switch f.Key {
			case "NAME_PREFIX":
				m := false
				for _, v := range f.Values {
					m = m || strings.HasPrefix(parts[1], v)
				}
				ok = ok && m
			case "OPERATING_SYSTEM":
				ok = ok && ssmContains(f.Values, parts[0])
			default:
				return nil, errValidationException("Filter key %s is not valid. Valid keys: NAME_PREFIX, OPERATING_SYSTEM.", f.Key)
			}
		}
		if ok {
			mappings = append(mappings, map[string]any{"PatchGroup": parts[1], "BaselineIdentity": baselineIdentity(sc, b)})
		}
	}
	pg, next, err := ssmPage(mappings, in.NextToken, in.MaxResults, 100, 100, "patchgroups")
	if err != nil {
		return nil, err
	}
	return ssmListOf("Mappings", pg, next), nil
}

func ssmRegisterDefaultPatchBaseline(c *Call) (any, error) {
	var in baselineInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	b, err := findBaseline(c, in.BaselineID)
	if err != nil {
		return nil, err
	}
	c.ssm().DefaultBaselines[b.OperatingSystem] = b.ID
	return map[string]any{"BaselineId": b.ID}, nil
}

func ssmGetDefaultPatchBaseline(c *Call) (any, error) {
	var in struct {
		OperatingSystem string `json:"OperatingSystem"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.OperatingSystem == "" {
		in.OperatingSystem = "WINDOWS"
	}
	b := c.ssm().defaultBaseline(in.OperatingSystem)
	if b == nil {
		return nil, errValidationException("Operating system %s is not valid.", in.OperatingSystem)
	}
	return map[string]any{"BaselineId": b.ID, "OperatingSystem": in.OperatingSystem}, nil
}

func ssmDescribeEffectivePatches(c *Call) (any, error) {
	var in baselineInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	b, err := findBaseline(c, in.BaselineID)
	if err != nil {
		return nil, err
	}
	if b.OperatingSystem != "WINDOWS" {
		return nil, Errorf("UnsupportedOperatingSystem", "The operating system you specified is not supported, or the operation is not supported for the operating system. DescribeEffectivePatchesForPatchBaseline supports Windows patch baselines only.")
	}
	return map[string]any{"EffectivePatches": []any{}}, nil
}

func ssmDescribeAvailablePatches(c *Call) (any, error) {
	var in ssmListInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	type row struct {
		p  *Patch
		pp PatchPackage
	}
	var rows []row
	for _, p := range c.World.Catalogue.Released(c.Now) {
		for _, pp := range p.Packages {
			ok := true
			for _, f := range in.Filters {
				var have []string
				switch f.Key {
				case "PRODUCT":
					have = []string{productAmazonLinux, "*"}
				case "CLASSIFICATION":
					have = []string{p.Classification}
				case "SEVERITY":
					have = []string{p.Severity}
				case "ADVISORY_ID":
					have = []string{p.ID}
				case "CVE_ID":
					have = p.CVEs
				case "NAME":
					have = []string{pp.Name}
				case "OPERATING_SYSTEM":
					have = []string{osAmazonLinux2023}
				default:
					return nil, errValidationException("Filter key %s is not valid for Amazon Linux 2023.", f.Key)
				}
				m := false
				for _, v := range f.Values {
					for _, h := range have {
						m = m || matchWildcard(v, h)
					}
				}
				ok = ok && m
			}
			if ok {
				rows = append(rows, row{p, pp})
			}
		}
	}
	pg, next, err := ssmPage(rows, in.NextToken, in.MaxResults, 100, 100, "available")
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, r := range pg {
		ver, rel := splitVR(r.pp.Version)
		arch := "x86_64"
		if pkg := c.World.Catalogue.Packages[r.pp.Name]; pkg != nil && pkg.NoArch {
			arch = "noarch"
		}
		out = append(out, map[string]any{
			"Id": r.pp.Name + "." + arch + ":0:" + r.pp.Version, "ReleaseDate": epochAt(r.p.Released), "Title": r.p.Title,
			"Description": r.p.Description, "Classification": r.p.Classification, "Severity": r.p.Severity,
			"Product": productAmazonLinux, "ProductFamily": "AmazonLinux", "Vendor": "Amazon",
			"AdvisoryIds": []string{r.p.ID}, "CVEIds": nonNilStrings(r.p.CVEs), "BugzillaIds": []string{},
			"Name": r.pp.Name, "Epoch": 0, "Version": ver, "Release": rel, "Arch": arch, "Repository": "amazonlinux",
		})
	}
	return ssmListOf("Patches", out, next), nil
}

func patchStateOut(st *InstancePatchState) map[string]any {
	c := st.counts()
	out := map[string]any{
		"InstanceId": st.InstanceID, "PatchGroup": st.PatchGroup, "BaselineId": st.BaselineID, "SnapshotId": st.SnapshotID,
		"InstalledCount": c.Installed, "InstalledOtherCount": c.InstalledOther, "InstalledPendingRebootCount": c.PendingReboot,
		"InstalledRejectedCount": c.Rejected, "MissingCount": c.Missing, "FailedCount": c.Failed,
		"UnreportedNotApplicableCount": 0, "NotApplicableCount": c.NotApplicable, "AvailableSecurityUpdateCount": c.AvailableSec,
		"OperationStartTime": epochAt(st.Start), "OperationEndTime": epochAt(st.End), "Operation": st.Operation,
		"RebootOption": st.RebootOption, "CriticalNonCompliantCount": c.CriticalNonCompliant,
		"SecurityNonCompliantCount": c.SecurityNonCompliant, "OtherNonCompliantCount": c.OtherNonCompliant,
	}
	if st.InstallOverrideList != "" {
		out["InstallOverrideList"] = st.InstallOverrideList
	}
	if !st.LastNoRebootInstall.IsZero() {
		out["LastNoRebootInstallOperationTime"] = epochAt(st.LastNoRebootInstall)
	}
	return out
}

func ssmDescribeInstancePatchStates(c *Call) (any, error) {
	var in struct {
		InstanceIDs []string `json:"InstanceIds"`
		MaxResults  int      `json:"MaxResults"`
		NextToken   string   `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if len(in.InstanceIDs) == 0 || len(in.InstanceIDs) > 50 {
		return nil, errValidationException("1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length between 1 and 50")
	}
	if in.MaxResults != 0 && (in.MaxResults < 10 || in.MaxResults > 100) {
		return nil, errValidationException("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 10 and 100", in.MaxResults)
	}
	sc := c.ssm()
	var states []*InstancePatchState
	for _, id := range in.InstanceIDs {
		if st := sc.PatchStates[id]; st != nil {
			states = append(states, st)
		}
	}
	pg, next, err := ssmPage(states, in.NextToken, in.MaxResults, 10, 100, "patchstates")
	if err != nil {
		return nil, err
	}
	return ssmList("InstancePatchStates", pg, next, patchStateOut), nil
}

var patchStateFilterKeys = map[string]func(patchCounts) int{
	"InstalledCount":               func(c patchCounts) int { return c.Installed },
	"InstalledOtherCount":          func(c patchCounts) int { return c.InstalledOther },
	"InstalledPendingRebootCount":  func(c patchCounts) int { return c.PendingReboot },
	"InstalledRejectedCount":       func(c patchCounts) int { return c.Rejected },
	"MissingCount":                 func(c patchCounts) int { return c.Missing },
	"FailedCount":                  func(c patchCounts) int { return c.Failed },
	"NotApplicableCount":           func(c patchCounts) int { return c.NotApplicable },
	"UnreportedNotApplicableCount": func(c patchCounts) int { return 0 },
	"AvailableSecurityUpdateCount": func(c patchCounts) int { return c.AvailableSec },
	"CriticalNonCompliantCount":    func(c patchCounts) int { return c.CriticalNonCompliant },
	"SecurityNonCompliantCount":    func(c patchCounts) int { return c.SecurityNonCompliant },
	"OtherNonCompliantCount":       func(c patchCounts) int { return c.OtherNonCompliant },
}

func ssmDescribeInstancePatchStatesForPatchGroup(c *Call) (any, error) {
	var in struct {
		PatchGroup string `json:"PatchGroup"`
		Filters    []struct {
			Key    string   `json:"Key"`
			Values []string `json:"Values"`
			Type   string   `json:"Type"`
		} `json:"Filters"`
		MaxResults int    `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.PatchGroup == "" {
		return nil, errValidationException("1 validation error detected: Value null at 'patchGroup' failed to satisfy constraint: Member must not be null")
	}
	if len(in.Filters) > 4 {
		return nil, errValidationException("At most 4 filters are allowed.")
	}
	if in.MaxResults != 0 && (in.MaxResults < 10 || in.MaxResults > 100) {
		return nil, errValidationException("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 10 and 100", in.MaxResults)
	}
	sc := c.ssm()
	var states []*InstancePatchState
	for _, id := range sortedKeys(sc.PatchStates) {
		st := sc.PatchStates[id]
		if st.PatchGroup != in.PatchGroup {
			continue
		}
		counts := st.counts()
		ok := true
		for _, f := range in.Filters {
			get := patchStateFilterKeys[f.Key]
			if get == nil {
				return nil, errValidationException("Filter key %s is not valid.", f.Key)
			}
			if len(f.Values) != 1 {
				return nil, errValidationException("Filter %s takes exactly one value.", f.Key)
			}
			var want int
			if _, err := fmt.Sscanf(f.Values[0], "%d", &want); err != nil {
				return nil, errValidationException("Filter %s value %s is not a number.", f.Key, f.Values[0])
			}
			have := get(counts)
			switch f.Type {
			case "Equal":
				ok = ok && have == want
			case "NotEqual":
				ok = ok && have != want
			case "LessThan":
				ok = ok && have < want
			case "GreaterThan":
				ok = ok && have > want
			default:
				return nil, errValidationException("Filter type %s is not valid: Equal, NotEqual, LessThan, GreaterThan.", f.Type)
			}
		}
		if ok {
			states = append(states, st)
		}
	}
	pg, next, err := ssmPage(states, in.NextToken, in.MaxResults, 50, 100, "groupstates:"+in.PatchGroup)
	if err != nil {
		return nil, err
	}
	return ssmList("InstancePatchStates", pg, next, patchStateOut), nil
}

func ssmDescribeInstancePatches(c *Call) (any, error) {
	var in struct {
		InstanceID string      `json:"InstanceId"`
		Filters    []ssmFilter `json:"Filters"`
		MaxResults int         `json:"MaxResults"`
		NextToken  string      `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.MaxResults != 0 && (in.MaxResults < 10 || in.MaxResults > 100) {
		return nil, errValidationException("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 10 and 100", in.MaxResults)
	}
	inst := c.World.EC2.Instances[in.InstanceID]
	if inst == nil || inst.Account != c.Account || inst.Region != c.Region {
		return nil, Errorf("InvalidInstanceId", "Instance %s is not a managed instance in this account and region.", in.InstanceID)
	}
	var patches []PatchCompliance
	if st := c.ssm().PatchStates[in.InstanceID]; st != nil {
		patches = st.Patches
	}
	rows, err := ssmKeep(patches, in.Filters, func(p PatchCompliance, f ssmFilter) (bool, error) {
		var have string
		switch f.Key {
		case "Classification":
			have = p.Classification
		case "KBId":
			have = p.KBId
		case "Severity":
			have = p.Severity
		case "State":
			have = p.State
		default:
			return false, errValidationException("Filter key %s is not valid. Valid keys: Classification, KBId, Severity, State.", f.Key)
		}
		m := false
		for _, v := range f.Values {
			m = m || strings.EqualFold(v, have) || (f.Key == "State" && strings.EqualFold(strings.ReplaceAll(v, "_", ""), strings.ReplaceAll(have, "_", "")))
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(rows, in.NextToken, in.MaxResults, 10, 100, "patches:"+in.InstanceID)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, p := range pg {
		row := map[string]any{"Title": p.Title, "KBId": p.KBId, "Classification": p.Classification,
			"Severity": p.Severity, "State": p.State, "CVEIds": p.CVEIds}
		if !p.InstalledTime.IsZero() {
			row["InstalledTime"] = epochAt(p.InstalledTime)
		} else {
			row["InstalledTime"] = 0
		}
		out = append(out, row)
	}
	return ssmListOf("Patches", out, next), nil
}

// ---- compliance -------------------------------------------------------

type complianceFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
	Type   string   `json:"Type"`
}

func complianceMatch(fs []complianceFilter, fields map[string]string) (bool, error) {
	for _, f := range fs {
		have, ok := fields[f.Key]
		if !ok {
			return false, errValidationException("Filter key %s is not supported by the sandbox (ComplianceType, Status, Severity, OverallSeverity, InstanceId).", f.Key)
		}
		m := false
		for _, v := range f.Values {
			switch f.Type {
			case "", "EQUAL":
				m = m || have == v
			case "NOT_EQUAL":
				m = m || have != v
			case "BEGIN_WITH":
				m = m || strings.HasPrefix(have, v)
			default:
				return false, errValidationException("Filter type %s is not supported by the sandbox.", f.Type)
			}
		}
		if !m {
			return false, nil
		}
	}
	return true, nil
}

func complianceSeverity(p PatchCompliance) string {
	if p.State == patchMissing || p.State == patchFailed {
		return p.ComplianceLevel
	}
	return defaultComplianceLvl
}

func complianceStatus(p PatchCompliance) string {
	if p.State == patchMissing || p.State == patchFailed || p.State == patchInstalledReject {
		return "NON_COMPLIANT"
	}
	return "COMPLIANT"
}

func executionSummary(st *InstancePatchState) map[string]any {
	return map[string]any{"ExecutionTime": epochAt(st.End), "ExecutionId": st.SnapshotID, "ExecutionType": "Command"}
}

func ssmListComplianceItems(c *Call) (any, error) {
	var in struct {
		Filters       []complianceFilter `json:"Filters"`
		ResourceIDs   []string           `json:"ResourceIds"`
		ResourceTypes []string           `json:"ResourceTypes"`
		MaxResults    int                `json:"MaxResults"`
		NextToken     string             `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	for _, t := range in.ResourceTypes {
		if t != "ManagedInstance" {
			return nil, Errorf("InvalidResourceType", "Resource type %s is not valid.", t)
		}
	}
	sc := c.ssm()
	ids := in.ResourceIDs
	if len(ids) == 0 {
		ids = sortedKeys(sc.PatchStates)
	}
	var items []map[string]any
	for _, id := range ids {
		st := sc.PatchStates[id]
		if st == nil {
			continue
		}
		for _, p := range st.Patches {
			if p.State == patchNotApplicable {
				continue
			}
			fields := map[string]string{"ComplianceType": "Patch", "Status": complianceStatus(p), "Severity": complianceSeverity(p), "InstanceId": id}
			ok, err := complianceMatch(in.Filters, fields)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			items = append(items, map[string]any{
				"ComplianceType": "Patch", "ResourceType": "ManagedInstance", "ResourceId": id, "Id": p.KBId, "Title": p.Title,
				"Status": complianceStatus(p), "Severity": complianceSeverity(p), "ExecutionSummary": executionSummary(st),
				"Details": map[string]string{"Classification": p.Classification, "PatchSeverity": p.Severity, "PatchState": p.State,
					"PatchBaselineId": st.BaselineID, "PatchGroup": st.PatchGroup, "CVEIds": p.CVEIds},
			})
		}
	}
	pg, next, err := ssmPage(items, in.NextToken, in.MaxResults, 50, 50, "compliance")
	if err != nil {
		return nil, err
	}
	return ssmListOf("ComplianceItems", pg, next), nil
}

func severitySummary(counts map[string]int) map[string]int {
	return map[string]int{"CriticalCount": counts["CRITICAL"], "HighCount": counts["HIGH"], "MediumCount": counts["MEDIUM"],
		"LowCount": counts["LOW"], "InformationalCount": counts["INFORMATIONAL"], "UnspecifiedCount": counts["UNSPECIFIED"]}
}

func ssmListResourceComplianceSummaries(c *Call) (any, error) {
	var in struct {
		Filters    []complianceFilter `json:"Filters"`
		MaxResults int                `json:"MaxResults"`
		NextToken  string             `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	sc := c.ssm()
	var items []map[string]any
	for _, id := range sortedKeys(sc.PatchStates) {
		st := sc.PatchStates[id]
		comp, non := map[string]int{}, map[string]int{}
		nComp, nNon := 0, 0
		overall := ""
		for _, p := range st.Patches {
			if p.State == patchNotApplicable {
				continue
			}
			sev := complianceSeverity(p)
			if complianceStatus(p) == "NON_COMPLIANT" {
				non[sev]++
				nNon++
				if levelRank[sev] > levelRank[overall] {
					overall = sev
				}
			} else {
				comp[sev]++
				nComp++
			}
		}
		status := "COMPLIANT"
		if nNon > 0 {
			status = "NON_COMPLIANT"
		} else {
			overall = defaultComplianceLvl
		}
		fields := map[string]string{"ComplianceType": "Patch", "Status": status, "OverallSeverity": overall, "InstanceId": id}
		ok, err := complianceMatch(in.Filters, fields)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		items = append(items, map[string]any{
			"ComplianceType": "Patch", "ResourceType": "ManagedInstance", "ResourceId": id, "Status": status,
			"OverallSeverity": overall, "ExecutionSummary": executionSummary(st),
			"CompliantSummary":    map[string]any{"CompliantCount": nComp, "SeveritySummary": severitySummary(comp)},
			"NonCompliantSummary": map[string]any{"NonCompliantCount": nNon, "SeveritySummary": severitySummary(non)},
		})
	}
	pg, next, err := ssmPage(items, in.NextToken, in.MaxResults, 50, 50, "compliance-summaries")
	if err != nil {
		return nil, err
	}
	return ssmListOf("ResourceComplianceSummaryItems", pg, next), nil
}

func ssmDescribePatchGroupState(c *Call) (any, error) {
	var in struct {
		PatchGroup string `json:"PatchGroup"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.PatchGroup == "" {
		return nil, errValidationException("1 validation error detected: Value null at 'patchGroup' failed to satisfy constraint: Member must not be null")
	}
	out := map[string]int{}
	for _, st := range c.ssm().PatchStates {
		if st.PatchGroup != in.PatchGroup {
			continue
		}
		cn := st.counts()
		out["Instances"]++
		inc := func(k string, n int) {
			if n > 0 {
				out[k]++
			}
		}
		inc("InstancesWithInstalledPatches", cn.Installed)
		inc("InstancesWithInstalledOtherPatches", cn.InstalledOther)
		inc("InstancesWithInstalledPendingRebootPatches", cn.PendingReboot)
		inc("InstancesWithInstalledRejectedPatches", cn.Rejected)
		inc("InstancesWithMissingPatches", cn.Missing)
		inc("InstancesWithFailedPatches", cn.Failed)
		inc("InstancesWithNotApplicablePatches", cn.NotApplicable)
		inc("InstancesWithCriticalNonCompliantPatches", cn.CriticalNonCompliant)
		inc("InstancesWithSecurityNonCompliantPatches", cn.SecurityNonCompliant)
		inc("InstancesWithOtherNonCompliantPatches", cn.OtherNonCompliant)
		inc("InstancesWithAvailableSecurityUpdates", cn.AvailableSec)
	}
	res := map[string]any{}
	for _, k := range []string{"Instances", "InstancesWithInstalledPatches", "InstancesWithInstalledOtherPatches",
		"InstancesWithInstalledPendingRebootPatches", "InstancesWithInstalledRejectedPatches", "InstancesWithMissingPatches",
		"InstancesWithFailedPatches", "InstancesWithNotApplicablePatches", "InstancesWithUnreportedNotApplicablePatches",
		"InstancesWithCriticalNonCompliantPatches", "InstancesWithSecurityNonCompliantPatches",
		"InstancesWithOtherNonCompliantPatches", "InstancesWithAvailableSecurityUpdates"} {
		res[k] = out[k]
	}
	return res, nil
}
