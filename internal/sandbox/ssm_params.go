package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Parameter is one Parameter Store parameter with its full history.
type Parameter struct {
	Name     string              `json:"name"`
	Account  string              `json:"account"` // "" for AWS-owned public parameters
	Region   string              `json:"region"`
	Tags     Tags                `json:"tags,omitempty"`
	Versions []*ParameterVersion `json:"versions"`
}

// ParameterVersion is one immutable version of a parameter.
type ParameterVersion struct {
	Version        int       `json:"version"`
	Value          string    `json:"value"`
	Type           string    `json:"type"`
	KeyID          string    `json:"key_id,omitempty"`
	DataType       string    `json:"data_type"`
	Tier           string    `json:"tier"`
	Description    string    `json:"description,omitempty"`
	AllowedPattern string    `json:"allowed_pattern,omitempty"`
	Policies       string    `json:"policies,omitempty"`
	Modified       time.Time `json:"modified"`
	User           string    `json:"user"`
	Labels         []string  `json:"labels,omitempty"`
	VisibleAt      time.Time `json:"visible_at,omitzero"`
}

const (
	maxParameterVersions = 100
	maxLabelsPerVersion  = 10
	maxHierarchyLevels   = 15
	publicParamPrefix    = "/aws/"
	amazonLinuxParamPath = "/aws/service/ami-amazon-linux-latest/"
)

// visible returns the versions readable at now (eventual consistency).
func (p *Parameter) visible(now time.Time) []*ParameterVersion {
	out := make([]*ParameterVersion, 0, len(p.Versions))
	for _, v := range p.Versions {
		if !v.VisibleAt.After(now) {
			out = append(out, v)
		}
	}
	return out
}

// latest is the newest visible version, nil when none is visible yet.
func (p *Parameter) latest(now time.Time) *ParameterVersion {
	vs := p.visible(now)
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

func (p *Parameter) arn() string {
	return ssmARN(p.Region, p.Account, "parameter/"+strings.TrimPrefix(p.Name, "/"))
}

// ---- wire shapes ------------------------------------------------------

type paramJSON struct {
	Name             string  `json:"Name"`
	Type             string  `json:"Type"`
	Value            string  `json:"Value"`
	Version          int     `json:"Version"`
	Selector         string  `json:"Selector,omitempty"`
	LastModifiedDate awsTime `json:"LastModifiedDate,omitzero"`
	ARN              string  `json:"ARN"`
	DataType         string  `json:"DataType"`
}

type paramMetaJSON struct {
	Name             string           `json:"Name"`
	ARN              string           `json:"ARN"`
	Type             string           `json:"Type"`
	KeyID            string           `json:"KeyId,omitempty"`
	LastModifiedDate awsTime          `json:"LastModifiedDate,omitzero"`
	LastModifiedUser string           `json:"LastModifiedUser,omitempty"`
	Description      string           `json:"Description,omitempty"`
	AllowedPattern   string           `json:"AllowedPattern,omitempty"`
	Version          int              `json:"Version"`
	Tier             string           `json:"Tier"`
	Policies         []map[string]any `json:"Policies"`
	DataType         string           `json:"DataType"`
}

type paramHistoryJSON struct {
	Name             string           `json:"Name"`
	Type             string           `json:"Type"`
	KeyID            string           `json:"KeyId,omitempty"`
	LastModifiedDate awsTime          `json:"LastModifiedDate,omitzero"`
	LastModifiedUser string           `json:"LastModifiedUser,omitempty"`
	Description      string           `json:"Description,omitempty"`
	Value            string           `json:"Value"`
	AllowedPattern   string           `json:"AllowedPattern,omitempty"`
	Version          int              `json:"Version"`
	Labels           []string         `json:"Labels"`
	Tier             string           `json:"Tier"`
	Policies         []map[string]any `json:"Policies"`
	DataType         string           `json:"DataType"`
}

type paramFilter struct {
	Key    string   `json:"Key"`
	Option string   `json:"Option"`
	Values []string `json:"Values"`
}

func (p *Parameter) toJSON(v *ParameterVersion, selector string, decrypt bool) paramJSON {
	return paramJSON{
		Name: p.Name, Type: v.Type, Value: v.shownValue(decrypt), Version: v.Version, Selector: selector,
		LastModifiedDate: epochAt(v.Modified), ARN: p.arn(), DataType: v.DataType,
	}
}

func (p *Parameter) metaJSON(v *ParameterVersion) paramMetaJSON {
	return paramMetaJSON{
		Name: p.Name, ARN: p.arn(), Type: v.Type, KeyID: v.KeyID, LastModifiedDate: epochAt(v.Modified),
		LastModifiedUser: v.User, Description: v.Description, AllowedPattern: v.AllowedPattern,
		Version: v.Version, Tier: v.Tier, Policies: []map[string]any{}, DataType: v.DataType,
	}
}

// shownValue is the value as a read returns it: SecureString values are
// ciphertext unless decrypted. The ciphertext is a stable, opaque blob (the
// sandbox has no KMS), so callers that forget WithDecryption see it.
func (v *ParameterVersion) shownValue(decrypt bool) string {
	if v.Type != "SecureString" || decrypt {
		return v.Value
	}
	sum := sha256.Sum256([]byte(v.KeyID + "\x00" + strconv.Itoa(v.Version) + "\x00" + v.Value))
	blob := append([]byte{0x01, 0x02, 0x02, 0x00, 0x78}, sum[:]...)
	blob = append(blob, []byte(v.Value)...)
	for i := 5 + len(sum); i < len(blob); i++ {
		blob[i] ^= sum[i%len(sum)]
	}
	return base64.StdEncoding.EncodeToString(blob)
}

// ---- registration -----------------------------------------------------

func (s *Server) registerSSMParameters() {
	s.handle(svcSSM, "PutParameter", ssmPutParameter)
	s.handle(svcSSM, "GetParameter", ssmGetParameter)
	s.handle(svcSSM, "GetParameters", ssmGetParameters)
	s.handle(svcSSM, "GetParametersByPath", ssmGetParametersByPath)
	s.handle(svcSSM, "GetParameterHistory", ssmGetParameterHistory)
	s.handle(svcSSM, "DeleteParameter", ssmDeleteParameter)
	s.handle(svcSSM, "DeleteParameters", ssmDeleteParameters)
	s.handle(svcSSM, "LabelParameterVersion", ssmLabelParameterVersion)
	s.handle(svcSSM, "UnlabelParameterVersion", ssmUnlabelParameterVersion)
	s.handle(svcSSM, "DescribeParameters", ssmDescribeParameters)
	s.handle(svcSSM, "AddTagsToResource", ssmAddTagsToResource)
	s.handle(svcSSM, "ListTagsForResource", ssmListTagsForResource)
	s.handle(svcSSM, "RemoveTagsFromResource", ssmRemoveTagsFromResource)
}

// ---- validation -------------------------------------------------------

var (
	paramNameRE  = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`)
	paramAMIRE   = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)
	kmsKeyIDRE   = regexp.MustCompile(`^(alias/[a-zA-Z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[0-9a-zA-Z-]+|alias/[a-zA-Z0-9/_-]+))$`)
	paramLabelRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,100}$`)
)

const nameRuleMsg = `Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_`

// validateParamName checks a name for writing.
func validateParamName(name string) error {
	if name == "" || len(name) > 2048 {
		return errValidationException("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 2048")
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, publicParamPrefix) || lower == "/aws" {
		return Errorf("AccessDeniedException", "No access to reserved parameter name: %s.", name)
	}
	first := strings.TrimPrefix(lower, "/")
	if strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") || !paramNameRE.MatchString(name) {
		return errValidationException("%s", nameRuleMsg)
	}
	if strings.Contains(name, "/") {
		if !strings.HasPrefix(name, "/") {
			return errValidationException("Parameter name must be a fully qualified name.")
		}
		if strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
			return errValidationException("%s", nameRuleMsg)
		}
		if levels := strings.Count(name, "/"); levels > maxHierarchyLevels {
			return Errorf("HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of %d levels. Parameter name %s has %d levels.", maxHierarchyLevels, name, levels)
		}
	}
	return nil
}

func validLabel(l string) bool {
	lower := strings.ToLower(l)
	if !paramLabelRE.MatchString(l) || strings.HasPrefix(lower, "aws") || strings.HasPrefix(lower, "ssm") {
		return false
	}
	return l[0] < '0' || l[0] > '9'
}

// ---- lookup -----------------------------------------------------------

// paramRef is a parsed name reference: a name or ARN with an optional
// ":version" or ":label" selector.
type paramRef struct {
	Name     string
	Selector string // "" or ":3" / ":label" as given
	Version  int
	Label    string
}

func parseParamRef(c *Call, raw string) (paramRef, error) {
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "arn:") {
		// arn:aws:ssm:REGION:ACCOUNT:parameter/NAME[:selector]
		parts := strings.SplitN(s, ":", 6)
		if len(parts) != 6 || parts[2] != "ssm" || !strings.HasPrefix(parts[5], "parameter") {
			return paramRef{}, errValidationException("Invalid parameter ARN: %s", raw)
		}
		if parts[3] != c.Region || (parts[4] != "" && parts[4] != c.Account) {
			// Cross-account sharing (RAM) is not modelled.
			return paramRef{}, Errorf("ParameterNotFound", "Parameter %s not found.", raw)
		}
		rest := strings.TrimPrefix(parts[5], "parameter")
		if !strings.HasPrefix(rest, "/") {
			return paramRef{}, errValidationException("Invalid parameter ARN: %s", raw)
		}
		if parts[4] == "" {
			s = rest // public: parameter/aws/service/... → /aws/service/...
		} else {
			s = rest
			// A name without a leading slash is stored as parameter/NAME.
			if c.World != nil {
				if _, ok := c.ssm().Parameters[strings.TrimPrefix(rest, "/")]; ok {
					s = strings.TrimPrefix(rest, "/")
				}
			}
		}
	}
	ref := paramRef{Name: s}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		ref.Name, ref.Selector = s[:i], s[i:]
		sel := s[i+1:]
		if sel == "" {
			return ref, errValidationException("Invalid parameter selector in %s", raw)
		}
		if n, err := strconv.Atoi(sel); err == nil {
			if n < 1 {
				return ref, errValidationException("Invalid version number %s in %s", sel, raw)
			}
			ref.Version = n
		} else {
			ref.Label = sel
		}
	}
	if ref.Name == "" {
		return ref, errValidationException("Parameter name cannot be empty")
	}
	return ref, nil
}

// findParam returns the parameter named, from the caller's scope or the
// public /aws/ namespace, if any version of it is visible.
func findParam(c *Call, name string) *Parameter {
	var p *Parameter
	if isPublicName(name) {
		c.World.syncPublicParameters(c.Now)
		p = c.World.SSM.Public[c.Region][name]
	} else {
		p = c.ssm().Parameters[name]
	}
	if p == nil || p.latest(c.Now) == nil {
		return nil
	}
	return p
}

func isPublicName(name string) bool {
	return strings.HasPrefix(strings.ToLower(name), publicParamPrefix)
}

// resolveRef returns the version a reference selects.
func resolveRef(c *Call, ref paramRef) (*Parameter, *ParameterVersion, error) {
	p := findParam(c, ref.Name)
	if p == nil {
		return nil, nil, Errorf("ParameterNotFound", "Parameter %s not found.", ref.Name)
	}
	vs := p.visible(c.Now)
	switch {
	case ref.Version > 0:
		for _, v := range vs {
			if v.Version == ref.Version {
				return p, v, nil
			}
		}
		return nil, nil, Errorf("ParameterVersionNotFound", "Systems Manager could not find version %d of %s. Verify the version and try again.", ref.Version, ref.Name)
	case ref.Label != "":
		for _, v := range vs {
			for _, l := range v.Labels {
				if l == ref.Label {
					return p, v, nil
				}
			}
		}
		return nil, nil, Errorf("ParameterVersionNotFound", "Systems Manager could not find label %s of %s. Verify the label and try again.", ref.Label, ref.Name)
	}
	return p, vs[len(vs)-1], nil
}

// ---- PutParameter -----------------------------------------------------

type putParameterInput struct {
	Name           string   `json:"Name"`
	Description    *string  `json:"Description"`
	Value          *string  `json:"Value"`
	Type           string   `json:"Type"`
	KeyID          string   `json:"KeyId"`
	Overwrite      bool     `json:"Overwrite"`
	AllowedPattern *string  `json:"AllowedPattern"`
	Tags           []ssmTag `json:"Tags"`
	Tier           string   `json:"Tier"`
	Policies       string   `json:"Policies"`
	DataType       string   `json:"DataType"`
}

func ssmPutParameter(c *Call) (any, error) {
	var in putParameterInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := validateParamName(in.Name); err != nil {
		return nil, err
	}
	if in.Value == nil {
		return nil, errValidationException("1 validation error detected: Value null at 'value' failed to satisfy constraint: Member must not be null")
	}
	value := *in.Value
	if value == "" {
		return nil, errValidationException("1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if in.Description != nil && len(*in.Description) > 1024 {
		return nil, errValidationException("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	if in.Overwrite && len(in.Tags) > 0 {
		return nil, errValidationException("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
	}
	tags, err := validateTags(in.Tags)
	if err != nil {
		return nil, err
	}
	sc := c.ssm()
	key := c.Account + "/" + c.Region + "/" + in.Name
	if n := c.World.SSM.Contended[key]; n > 0 {
		c.World.SSM.Contended[key] = n - 1
		return nil, Errorf("TooManyUpdates", "There are concurrent updates for the resource that you're trying to update. Please try again.")
	}

	p := sc.Parameters[in.Name]
	var prev *ParameterVersion
	if p != nil && len(p.Versions) > 0 {
		prev = p.Versions[len(p.Versions)-1]
		if !in.Overwrite {
			return nil, Errorf("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
		}
	}

	nv := &ParameterVersion{Value: value, Modified: c.Now, User: callerARN(c.Account), Tier: "Standard", DataType: "text"}
	if prev != nil {
		nv.Type, nv.KeyID, nv.DataType, nv.Tier = prev.Type, prev.KeyID, prev.DataType, prev.Tier
		nv.Description, nv.AllowedPattern, nv.Policies = prev.Description, prev.AllowedPattern, prev.Policies
	}
	if in.Type != "" {
		switch in.Type {
		case "String", "StringList", "SecureString":
		default:
			return nil, errValidationException("1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
		}
		if prev != nil && prev.Type != in.Type && (prev.Type == "SecureString" || in.Type == "SecureString") {
			return nil, Errorf("HierarchyTypeMismatchException", "The parameter type can't be changed between SecureString and %s. Create a new parameter instead.", map[bool]string{true: in.Type, false: prev.Type}[prev.Type == "SecureString"])
		}
		nv.Type = in.Type
	}
	if nv.Type == "" {
		return nil, errValidationException("A parameter type is required when you create a parameter.")
	}
	if in.Description != nil {
		nv.Description = *in.Description
	}
	if in.AllowedPattern != nil {
		nv.AllowedPattern = *in.AllowedPattern
	}
	if in.Policies != "" {
		nv.Policies = in.Policies
	}
	// KMS key: only for SecureString.
	if in.KeyID != "" {
		if nv.Type != "SecureString" {
			return nil, errValidationException("KeyId is required for SecureString type parameter only.")
		}
		if !kmsKeyIDRE.MatchString(in.KeyID) {
			return nil, Errorf("InvalidKeyId", "Invalid KeyId %s", in.KeyID)
		}
		nv.KeyID = in.KeyID
	}
	if nv.Type == "SecureString" && nv.KeyID == "" {
		nv.KeyID = "alias/aws/ssm"
	}
	if nv.Type != "SecureString" {
		nv.KeyID = ""
	}
	// Data type.
	if in.DataType != "" {
		switch in.DataType {
		case "text", "aws:ec2:image", "aws:ssm:integration":
		default:
			return nil, errValidationException("The following data type is not supported: %s (Data type names are all lowercase.)", in.DataType)
		}
		if prev != nil && prev.DataType != in.DataType && (prev.DataType != "text" || in.DataType != "text") {
			return nil, errValidationException("You can't change the data type of a parameter to or from %s.", map[bool]string{true: prev.DataType, false: in.DataType}[prev.DataType != "text"])
		}
		nv.DataType = in.DataType
	}
	if nv.DataType == "aws:ec2:image" {
		if nv.Type != "String" {
			return nil, errValidationException("The data type aws:ec2:image is only supported for parameters of type String.")
		}
		if !paramAMIRE.MatchString(value) {
			return nil, errValidationException("Parameter value, %s, is not in the correct format for data type aws:ec2:image. The value must be an AMI ID such as ami-12345abcdeEXAMPLE.", value)
		}
	}
	// Tier and size.
	tier := in.Tier
	switch tier {
	case "":
	case "Standard", "Advanced":
		if prev != nil && prev.Tier == "Advanced" && tier == "Standard" {
			return nil, errValidationException("This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.")
		}
		nv.Tier = tier
	case "Intelligent-Tiering":
		if len(value) > 4096 || nv.Policies != "" {
			nv.Tier = "Advanced"
		}
	default:
		return nil, errValidationException("1 validation error detected: Value '%s' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]", tier)
	}
	if nv.Tier == "Standard" && len(value) > 4096 {
		return nil, errValidationException("Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html")
	}
	if len(value) > 8192 {
		return nil, errValidationException("Advanced tier parameters support a maximum parameter value of 8192 characters.")
	}
	if nv.Tier == "Standard" && nv.Policies != "" {
		return nil, errValidationException("Parameter policies are supported only for the advanced-parameter tier.")
	}
	if nv.AllowedPattern != "" {
		re, err := regexp.Compile(nv.AllowedPattern)
		if err != nil {
			return nil, Errorf("InvalidAllowedPatternException", "The request does not meet the regular expression requirement.")
		}
		if !re.MatchString(value) {
			return nil, Errorf("ParameterPatternMismatchException", "Parameter value, %s, failed to satisfy constraint specified by user: %s.", value, nv.AllowedPattern)
		}
	}

	nv.Version = 1
	if p != nil {
		nv.Version = p.Versions[len(p.Versions)-1].Version + 1
	}
	out := map[string]any{"Version": nv.Version, "Tier": nv.Tier}

	// aws:ec2:image values are validated asynchronously on AWS: the call
	// succeeds, and the version is silently never written when the image
	// is not available to the account in this region.
	if nv.DataType == "aws:ec2:image" && !c.World.imageUsableForParam(value, c.Account, c.Region, c.Now) {
		return out, nil
	}

	if p == nil {
		p = &Parameter{Name: in.Name, Account: c.Account, Region: c.Region, Tags: tags}
		sc.Parameters[in.Name] = p
	}
	if len(p.Versions) >= maxParameterVersions {
		oldest := p.Versions[0]
		if len(oldest.Labels) > 0 {
			return nil, Errorf("ParameterMaxVersionLimitExceeded", "You attempted to create a new version of %s by calling the PutParameter API with the overwrite flag. Version %d, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.", in.Name, oldest.Version)
		}
		p.Versions = p.Versions[1:]
	}
	nv.VisibleAt = c.Now.Add(c.InvisibleFor())
	p.Versions = append(p.Versions, nv)
	return out, nil
}

// imageUsableForParam is the asynchronous aws:ec2:image check: the AMI
// exists in the region, the account may launch it, and it is available.
func (w *World) imageUsableForParam(id, account, region string, now time.Time) bool {
	img := w.EC2.Images[id]
	return img != nil && img.Region == region && img.launchableBy(account) && img.State == "available" && !img.VisibleAt.After(now)
}

func callerARN(account string) string { return "arn:aws:iam::" + account + ":user/sandbox" }

// ---- reads ------------------------------------------------------------

func ssmGetParameter(c *Call) (any, error) {
	var in struct {
		Name           string `json:"Name"`
		WithDecryption bool   `json:"WithDecryption"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	ref, err := parseParamRef(c, in.Name)
	if err != nil {
		return nil, err
	}
	p, v, err := resolveRef(c, ref)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Parameter": p.toJSON(v, ref.Selector, in.WithDecryption)}, nil
}

func ssmGetParameters(c *Call) (any, error) {
	var in struct {
		Names          []string `json:"Names"`
		WithDecryption bool     `json:"WithDecryption"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, errValidationException("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	params := []paramJSON{}
	invalid := []string{}
	seen := map[string]bool{}
	for _, n := range in.Names {
		if seen[n] {
			continue
		}
		seen[n] = true
		ref, err := parseParamRef(c, n)
		if err != nil {
			invalid = append(invalid, n)
			continue
		}
		p, v, err := resolveRef(c, ref)
		if err != nil {
			invalid = append(invalid, n)
			continue
		}
		params = append(params, p.toJSON(v, ref.Selector, in.WithDecryption))
	}
	return map[string]any{"Parameters": params, "InvalidParameters": invalid}, nil
}

// filterParams applies ParameterStringFilters; allowed lists the keys the
// action accepts (tag:K is always accepted).
func filterParams(c *Call, ps []*Parameter, filters []paramFilter, allowed []string) ([]*Parameter, error) {
	for _, f := range filters {
		key := f.Key
		ok := strings.HasPrefix(key, "tag:") && len(key) > 4
		for _, a := range allowed {
			ok = ok || key == a
		}
		if !ok {
			return nil, Errorf("InvalidFilterKey", "The following filter key is not valid: %s. Valid filter keys include: [%s].", key, strings.Join(allowed, ", "))
		}
		opt := f.Option
		switch key {
		case "Name":
			if opt == "" {
				opt = "Equals"
			}
			if opt != "Equals" && opt != "BeginsWith" && opt != "Contains" {
				return nil, Errorf("InvalidFilterOption", "The following filter option is not valid: %s. Valid options include: [BeginsWith, Equals, Contains].", opt)
			}
		case "Path":
			if opt == "" {
				opt = "OneLevel"
			}
			if opt != "OneLevel" && opt != "Recursive" {
				return nil, Errorf("InvalidFilterOption", "The following filter option is not valid: %s. Valid options include: [Recursive, OneLevel].", opt)
			}
		default:
			if opt == "" {
				opt = "Equals"
			}
			if opt != "Equals" && !(key == "Label" && opt == "BeginsWith") {
				return nil, Errorf("InvalidFilterOption", "The following filter option is not valid: %s. Valid options include: [Equals].", opt)
			}
		}
		if len(f.Values) == 0 && !strings.HasPrefix(key, "tag:") {
			return nil, Errorf("InvalidFilterValue", "The following filter values are missing : null for filter key %s.", key)
		}
		var kept []*Parameter
		for _, p := range ps {
			v := p.latest(c.Now)
			if paramFilterMatch(p, v, key, opt, f.Values) {
				kept = append(kept, p)
			}
		}
		ps = kept
	}
	return ps, nil
}

func paramFilterMatch(p *Parameter, v *ParameterVersion, key, opt string, values []string) bool {
	if strings.HasPrefix(key, "tag:") {
		tv, ok := p.Tags[key[4:]]
		if !ok {
			return false
		}
		if len(values) == 0 {
			return true
		}
		return ssmContains(values, tv)
	}
	for _, want := range values {
		switch key {
		case "Name":
			name := p.Name
			if !strings.HasPrefix(want, "/") && strings.HasPrefix(name, "/") && opt != "Contains" {
				name = strings.TrimPrefix(name, "/")
			}
			switch opt {
			case "Equals":
				if name == want {
					return true
				}
			case "BeginsWith":
				if strings.HasPrefix(name, want) {
					return true
				}
			case "Contains":
				if strings.Contains(name, want) {
					return true
				}
			}
		case "Path":
			want = strings.TrimSuffix(want, "/")
			if inPath(p.Name, want, opt == "Recursive") {
				return true
			}
		case "Type":
			if v.Type == want {
				return true
			}
		case "KeyId":
			if v.KeyID == want {
				return true
			}
		case "Tier":
			if v.Tier == want {
				return true
			}
		case "DataType":
			if v.DataType == want {
				return true
			}
		case "Label":
			for _, l := range v.Labels {
				if l == want || (opt == "BeginsWith" && strings.HasPrefix(l, want)) {
					return true
				}
			}
		}
	}
	return false
}

// inPath reports whether name sits under path (one level or recursively).
func inPath(name, path string, recursive bool) bool {
	prefix := path + "/"
	if path == "" {
		prefix = "/"
	}
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	rest := name[len(prefix):]
	return rest != "" && (recursive || !strings.Contains(rest, "/"))
}

func ssmContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func ssmGetParametersByPath(c *Call) (any, error) {
	var in struct {
		Path             string        `json:"Path"`
		Recursive        bool          `json:"Recursive"`
		ParameterFilters []paramFilter `json:"ParameterFilters"`
		WithDecryption   bool          `json:"WithDecryption"`
		MaxResults       int           `json:"MaxResults"`
		NextToken        string        `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	path := strings.TrimSpace(in.Path)
	if !strings.HasPrefix(path, "/") {
		return nil, errValidationException("The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\".")
	}
	if strings.Count(strings.TrimSuffix(path, "/"), "/") > maxHierarchyLevels {
		return nil, Errorf("HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of %d levels.", maxHierarchyLevels)
	}
	path = strings.TrimSuffix(path, "/")
	var ps []*Parameter
	if isPublicName(path + "/") {
		c.World.syncPublicParameters(c.Now)
		for _, p := range c.World.SSM.Public[c.Region] {
			if inPath(p.Name, path, in.Recursive) {
				ps = append(ps, p)
			}
		}
	} else {
		for _, p := range c.ssm().Parameters {
			if p.latest(c.Now) != nil && inPath(p.Name, path, in.Recursive) {
				ps = append(ps, p)
			}
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	ps, err := filterParams(c, ps, in.ParameterFilters, []string{"Type", "KeyId", "Label", "DataType"})
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(ps, in.NextToken, in.MaxResults, 10, 10, "bypath:"+path)
	if err != nil {
		return nil, err
	}
	return ssmList("Parameters", pg, next, func(p *Parameter) paramJSON {
		return p.toJSON(p.latest(c.Now), "", in.WithDecryption)
	}), nil
}

func ssmGetParameterHistory(c *Call) (any, error) {
	var in struct {
		Name           string `json:"Name"`
		WithDecryption bool   `json:"WithDecryption"`
		MaxResults     int    `json:"MaxResults"`
		NextToken      string `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	ref, err := parseParamRef(c, in.Name)
	if err != nil {
		return nil, err
	}
	p := findParam(c, ref.Name)
	if p == nil {
		return nil, Errorf("ParameterNotFound", "Parameter %s not found.", ref.Name)
	}
	vs, next, err := ssmPage(p.visible(c.Now), in.NextToken, in.MaxResults, 50, 50, "history:"+p.Name)
	if err != nil {
		return nil, err
	}
	out := []paramHistoryJSON{}
	for _, v := range vs {
		out = append(out, paramHistoryJSON{
			Name: p.Name, Type: v.Type, KeyID: v.KeyID, LastModifiedDate: epochAt(v.Modified), LastModifiedUser: v.User,
			Description: v.Description, Value: v.shownValue(in.WithDecryption), AllowedPattern: v.AllowedPattern,
			Version: v.Version, Labels: append([]string{}, v.Labels...), Tier: v.Tier, Policies: []map[string]any{}, DataType: v.DataType,
		})
	}
	return ssmListOf("Parameters", out, next), nil
}

func ssmDescribeParameters(c *Call) (any, error) {
	var in struct {
		Filters          []ssmFilter   `json:"Filters"`
		ParameterFilters []paramFilter `json:"ParameterFilters"`
		MaxResults       int           `json:"MaxResults"`
		NextToken        string        `json:"NextToken"`
		Shared           bool          `json:"Shared"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if len(in.Filters) > 0 && len(in.ParameterFilters) > 0 {
		return nil, errValidationException("You can use either Filters or ParameterFilters in a single request.")
	}
	filters := in.ParameterFilters
	for _, f := range in.Filters {
		switch f.Key {
		case "Name":
			filters = append(filters, paramFilter{Key: "Name", Option: "BeginsWith", Values: f.Values})
		case "Type", "KeyId":
			filters = append(filters, paramFilter{Key: f.Key, Option: "Equals", Values: f.Values})
		default:
			return nil, errValidationException("1 validation error detected: Value '%s' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [Name, Type, KeyId]", f.Key)
		}
	}
	var ps []*Parameter
	if !in.Shared {
		for _, p := range c.ssm().Parameters {
			if p.latest(c.Now) != nil {
				ps = append(ps, p)
			}
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	ps, err := filterParams(c, ps, filters, []string{"Name", "Path", "Type", "KeyId", "Tier", "DataType", "Label"})
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(ps, in.NextToken, in.MaxResults, 10, 50, "describe")
	if err != nil {
		return nil, err
	}
	return ssmList("Parameters", pg, next, func(p *Parameter) paramMetaJSON {
		return p.metaJSON(p.latest(c.Now))
	}), nil
}

// ---- delete -----------------------------------------------------------

func ssmDeleteParameter(c *Call) (any, error) {
	var in struct {
		Name string `json:"Name"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if isPublicName(name) {
		return nil, Errorf("AccessDeniedException", "No access to reserved parameter name: %s.", name)
	}
	sc := c.ssm()
	p := sc.Parameters[name]
	if p == nil || p.latest(c.Now) == nil {
		return nil, Errorf("ParameterNotFound", "Parameter %s not found.", name)
	}
	delete(sc.Parameters, name)
	return nil, nil
}

func ssmDeleteParameters(c *Call) (any, error) {
	var in struct {
		Names []string `json:"Names"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, errValidationException("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	sc := c.ssm()
	deleted, invalid := []string{}, []string{}
	for _, n := range in.Names {
		p := sc.Parameters[n]
		if p == nil || p.latest(c.Now) == nil {
			invalid = append(invalid, n)
			continue
		}
		delete(sc.Parameters, n)
		deleted = append(deleted, n)
	}
	return map[string]any{"DeletedParameters": deleted, "InvalidParameters": invalid}, nil
}

// ---- labels -----------------------------------------------------------

func ssmLabelParameterVersion(c *Call) (any, error) {
	var in struct {
		Name             string   `json:"Name"`
		ParameterVersion *int     `json:"ParameterVersion"`
		Labels           []string `json:"Labels"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if len(in.Labels) == 0 || len(in.Labels) > maxLabelsPerVersion {
		return nil, errValidationException("1 validation error detected: Value at 'labels' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	name := strings.TrimSpace(in.Name)
	if isPublicName(name) {
		return nil, Errorf("AccessDeniedException", "No access to reserved parameter name: %s.", name)
	}
	p := c.ssm().Parameters[name]
	if p == nil || p.latest(c.Now) == nil {
		return nil, Errorf("ParameterNotFound", "Parameter %s not found.", name)
	}
	vs := p.visible(c.Now)
	target := vs[len(vs)-1]
	if in.ParameterVersion != nil {
		target = nil
		for _, v := range vs {
			if v.Version == *in.ParameterVersion {
				target = v
			}
		}
		if target == nil {
			return nil, Errorf("ParameterVersionNotFound", "Systems Manager could not find version %d of %s. Verify the version and try again.", *in.ParameterVersion, name)
		}
	}
	invalid := []string{}
	var valid []string
	for _, l := range in.Labels {
		if !validLabel(l) {
			invalid = append(invalid, l)
			continue
		}
		if !ssmContains(valid, l) {
			valid = append(valid, l)
		}
	}
	added := 0
	for _, l := range valid {
		if !ssmContains(target.Labels, l) {
			added++
		}
	}
	if len(target.Labels)+added > maxLabelsPerVersion {
		return nil, Errorf("ParameterVersionLabelLimitExceeded", "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.")
	}
	for _, l := range valid {
		// A label names one version at a time: move it.
		for _, v := range p.Versions {
			v.Labels = ssmRemove(v.Labels, l)
		}
		target.Labels = append(target.Labels, l)
	}
	return map[string]any{"InvalidLabels": invalid, "ParameterVersion": target.Version}, nil
}

func ssmUnlabelParameterVersion(c *Call) (any, error) {
	var in struct {
		Name             string   `json:"Name"`
		ParameterVersion *int     `json:"ParameterVersion"`
		Labels           []string `json:"Labels"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.ParameterVersion == nil {
		return nil, errValidationException("1 validation error detected: Value null at 'parameterVersion' failed to satisfy constraint: Member must not be null")
	}
	if len(in.Labels) == 0 || len(in.Labels) > maxLabelsPerVersion {
		return nil, errValidationException("1 validation error detected: Value at 'labels' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	name := strings.TrimSpace(in.Name)
	p := c.ssm().Parameters[name]
	if p == nil || p.latest(c.Now) == nil {
		return nil, Errorf("ParameterNotFound", "Parameter %s not found.", name)
	}
	var target *ParameterVersion
	for _, v := range p.visible(c.Now) {
		if v.Version == *in.ParameterVersion {
			target = v
		}
	}
	if target == nil {
		return nil, Errorf("ParameterVersionNotFound", "Systems Manager could not find version %d of %s. Verify the version and try again.", *in.ParameterVersion, name)
	}
	removed, invalid := []string{}, []string{}
	for _, l := range in.Labels {
		if ssmContains(target.Labels, l) {
			target.Labels = ssmRemove(target.Labels, l)
			removed = append(removed, l)
		} else {
			invalid = append(invalid, l)
		}
	}
	return map[string]any{"RemovedLabels": removed, "InvalidLabels": invalid}, nil
}

func ssmRemove(list []string, s string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// ---- tags -------------------------------------------------------------

// taggable returns the tag set of an SSM resource by type and id, made
// non-nil so the caller can write to it.
func taggable(c *Call, resourceType, id string) (*Tags, error) {
	sc := c.ssm()
	var tags *Tags
	switch resourceType {
	case "Parameter":
		name := strings.TrimSpace(id)
		if strings.HasPrefix(name, "arn:") {
			ref, err := parseParamRef(c, name)
			if err != nil {
				break // InvalidResourceId below
			}
			name = ref.Name
		}
		if p := sc.Parameters[name]; p != nil && p.latest(c.Now) != nil {
			tags = &p.Tags
		}
	case "PatchBaseline":
		if b := sc.Baselines[id]; b != nil {
			tags = &b.Tags
		}
	case "MaintenanceWindow":
		if mw := sc.Windows[id]; mw != nil {
			tags = &mw.Tags
		}
	case "Automation":
		if a := sc.Automations[id]; a != nil {
			tags = &a.Tags
		}
	case "Document", "ManagedInstance", "OpsItem", "OpsMetadata", "Association":
		return nil, Errorf("InvalidResourceType", "The sandbox does not model tags on %s resources.", resourceType)
	default:
		return nil, Errorf("InvalidResourceType", "The resource type %q is not valid.", resourceType)
	}
	if tags == nil {
		return nil, Errorf("InvalidResourceId", "The resource ID %q is not valid. Verify the ID and try again.", id)
	}
	if *tags == nil {
		*tags = Tags{}
	}
	return tags, nil
}

func ssmAddTagsToResource(c *Call) (any, error) {
	var in struct {
		ResourceType string   `json:"ResourceType"`
		ResourceID   string   `json:"ResourceId"`
		Tags         []ssmTag `json:"Tags"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	tags, err := validateTags(in.Tags)
	if err != nil {
		return nil, err
	}
	t, err := taggable(c, in.ResourceType, in.ResourceID)
	if err != nil {
		return nil, err
	}
	merged := cloneTags(*t)
	for k, v := range tags {
		merged[k] = v
	}
	if len(merged) > 50 {
		return nil, Errorf("TooManyTagsError", "The Tags parameter can contain at most 50 tags")
	}
	*t = merged
	return nil, nil
}

func ssmListTagsForResource(c *Call) (any, error) {
	var in struct {
		ResourceType string `json:"ResourceType"`
		ResourceID   string `json:"ResourceId"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	t, err := taggable(c, in.ResourceType, in.ResourceID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"TagList": tagList(*t)}, nil
}

func ssmRemoveTagsFromResource(c *Call) (any, error) {
	var in struct {
		ResourceType string   `json:"ResourceType"`
		ResourceID   string   `json:"ResourceId"`
		TagKeys      []string `json:"TagKeys"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	t, err := taggable(c, in.ResourceType, in.ResourceID)
	if err != nil {
		return nil, err
	}
	for _, k := range in.TagKeys {
		delete(*t, k)
	}
	return nil, nil
}

// ---- public parameters ------------------------------------------------

// publicImageParam maps a public parameter to the images it points at.
type publicImageParam struct {
	Name     string
	Patterns []string // tried in order; the first that matches any image wins
	Arch     string
}

func amazonLinuxPublicParams() []publicImageParam {
	var out []publicImageParam
	for _, arch := range []string{"x86_64", "arm64"} {
		out = append(out,
			publicImageParam{"al2023-ami-kernel-default-" + arch, []string{"al2023-ami-2023.*-kernel-6.1-" + arch, "al2023-ami-2023.*-kernel-*-" + arch}, arch},
			publicImageParam{"al2023-ami-kernel-6.1-" + arch, []string{"al2023-ami-2023.*-kernel-6.1-" + arch}, arch},
			publicImageParam{"al2023-ami-kernel-6.12-" + arch, []string{"al2023-ami-2023.*-kernel-6.12-" + arch}, arch},
			publicImageParam{"al2023-ami-minimal-kernel-default-" + arch, []string{"al2023-ami-minimal-2023.*-kernel-6.1-" + arch, "al2023-ami-minimal-2023.*-kernel-*-" + arch}, arch},
			publicImageParam{"al2023-ami-minimal-kernel-6.1-" + arch, []string{"al2023-ami-minimal-2023.*-kernel-6.1-" + arch}, arch},
			publicImageParam{"al2023-ami-minimal-kernel-6.12-" + arch, []string{"al2023-ami-minimal-2023.*-kernel-6.12-" + arch}, arch},
		)
	}
	return out
}

// syncPublicParameters points every /aws/service/ami-amazon-linux-latest/
// parameter of every region at the newest matching public Amazon image,
// adding a version when it moved. It is cheap and idempotent, and runs on
// every read of a public parameter, so images published by any path show up.
func (w *World) syncPublicParameters(now time.Time) {
	if w.SSM.Public == nil {
		w.SSM.Public = map[string]map[string]*Parameter{}
	}
	type key struct{ region, arch string }
	byRegion := map[key][]*Image{}
	for _, img := range w.EC2.Images {
		if (img.OwnerAlias != "amazon" && img.Account != AmazonAccount) || img.State != "available" || img.VisibleAt.After(now) || img.CreationDate.After(now) {
			continue
		}
		k := key{img.Region, img.Architecture}
		byRegion[k] = append(byRegion[k], img)
	}
	for _, region := range w.Regions {
		params := w.SSM.Public[region]
		if params == nil {
			params = map[string]*Parameter{}
			w.SSM.Public[region] = params
		}
		for _, spec := range amazonLinuxPublicParams() {
			var best *Image
			for _, pat := range spec.Patterns {
				for _, img := range byRegion[key{region, spec.Arch}] {
					if !matchWildcard(pat, img.Name) {
						continue
					}
					if best == nil || img.CreationDate.After(best.CreationDate) ||
						(img.CreationDate.Equal(best.CreationDate) && img.Name > best.Name) {
						best = img
					}
				}
				if best != nil {
					break
				}
			}
			if best == nil {
				continue
			}
			name := amazonLinuxParamPath + spec.Name
			p := params[name]
			if p == nil {
				p = &Parameter{Name: name, Region: region}
				params[name] = p
			}
			if n := len(p.Versions); n > 0 && p.Versions[n-1].Value == best.ID {
				continue
			}
			modified := now
			if len(p.Versions) == 0 && !best.CreationDate.IsZero() {
				modified = best.CreationDate
			}
			p.Versions = append(p.Versions, &ParameterVersion{
				Version: len(p.Versions) + 1, Value: best.ID, Type: "String", DataType: "text", Tier: "Standard",
				Modified: modified, User: "arn:aws:iam::" + AmazonAccount + ":root",
			})
		}
	}
}
