package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Document is an SSM document the account created (CreateDocument). The
// AWS-owned documents (AWS-RunShellScript, AWS-RunPatchBaseline,
// AWS-UpdateLinuxAmi) stay built in; the sandbox runs the account's own
// Automation documents step by step (ssm_automation_custom.go).
type Document struct {
	Name           string             `json:"name"`
	Account        string             `json:"account"`
	DocumentType   string             `json:"document_type"`
	TargetType     string             `json:"target_type,omitempty"`
	DefaultVersion int                `json:"default_version"`
	Versions       []*DocumentVersion `json:"versions"` // version N at N-1
	Tags           Tags               `json:"tags,omitempty"`
	Created        time.Time          `json:"created"`
}

// DocumentVersion is one version's content as sent, with its format and
// SHA-256 hash (of the content as sent, as AWS reports it).
type DocumentVersion struct {
	Version     int       `json:"version"`
	VersionName string    `json:"version_name,omitempty"`
	Content     string    `json:"content"`
	Format      string    `json:"format"`
	Hash        string    `json:"hash"`
	Created     time.Time `json:"created"`
	// Description and Schema come from the content.
	Description string `json:"description,omitempty"`
	Schema      string `json:"schema"`
}

// automationDoc is the part of an Automation document (schema 0.3) the
// sandbox interprets.
type automationDoc struct {
	SchemaVersion string                   `json:"schemaVersion" yaml:"schemaVersion"`
	Description   string                   `json:"description,omitempty" yaml:"description,omitempty"`
	AssumeRole    string                   `json:"assumeRole,omitempty" yaml:"assumeRole,omitempty"`
	Parameters    map[string]*docParameter `json:"parameters,omitempty" yaml:"parameters,omitempty"`
	MainSteps     []*docStep               `json:"mainSteps" yaml:"mainSteps"`
	Outputs       []string                 `json:"outputs,omitempty" yaml:"outputs,omitempty"`
}

type docParameter struct {
	Type        string `json:"type" yaml:"type"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Default     any    `json:"default,omitempty" yaml:"default,omitempty"`
}

type docStep struct {
	Name           string         `json:"name" yaml:"name"`
	Action         string         `json:"action" yaml:"action"`
	OnFailure      string         `json:"onFailure,omitempty" yaml:"onFailure,omitempty"`
	IsEnd          bool           `json:"isEnd,omitempty" yaml:"isEnd,omitempty"`
	MaxAttempts    int            `json:"maxAttempts,omitempty" yaml:"maxAttempts,omitempty"`
	TimeoutSeconds int            `json:"timeoutSeconds,omitempty" yaml:"timeoutSeconds,omitempty"`
	Inputs         map[string]any `json:"inputs,omitempty" yaml:"inputs,omitempty"`
}

// automationActions are the step actions the sandbox runs.
var automationActions = map[string]bool{
	"aws:runInstances": true, "aws:runCommand": true, "aws:changeInstanceState": true,
	"aws:createImage": true, "aws:createTags": true,
}

var docNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-.]{3,128}$`)

func (s *Server) registerSSMDocuments() {
	s.handle(svcSSM, "CreateDocument", ssmCreateDocument)
	s.handle(svcSSM, "UpdateDocument", ssmUpdateDocument)
	s.handle(svcSSM, "GetDocument", ssmGetDocument)
	s.handle(svcSSM, "DescribeDocument", ssmDescribeDocument)
	s.handle(svcSSM, "UpdateDocumentDefaultVersion", ssmUpdateDocumentDefaultVersion)
	s.handle(svcSSM, "DeleteDocument", ssmDeleteDocument)
	s.handle(svcSSM, "ListDocuments", ssmListDocuments)
	s.handle(svcSSM, "ListDocumentVersions", ssmListDocumentVersions)
}

func docContentHash(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// parseDocContent decodes content in format (JSON or YAML) into v.
func parseDocContent(content, format string, v any) error {
	switch format {
	case "", "JSON":
		return json.Unmarshal([]byte(content), v)
	case "YAML":
		return yaml.Unmarshal([]byte(content), v)
	default:
		return fmt.Errorf("document format %s is not supported", format)
	}
}

// checkDocContent validates a document's content for its type and returns
// its description and schema version.
func checkDocContent(content, format, docType string) (desc, schema string, err error) {
	if strings.TrimSpace(content) == "" {
		return "", "", errValidationException("1 validation error detected: Value at 'content' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if len(content) > 64*1024 {
		return "", "", Errorf("MaxDocumentSizeExceeded", "The content of the document exceeds 64 KB.")
	}
	if docType != "Automation" {
		var generic struct {
			SchemaVersion string `json:"schemaVersion" yaml:"schemaVersion"`
			Description   string `json:"description" yaml:"description"`
		}
		if err := parseDocContent(content, format, &generic); err != nil {
			return "", "", Errorf("InvalidDocumentContent", "The content for the document is not valid: %v", err)
		}
		return generic.Description, generic.SchemaVersion, nil
	}
	var d automationDoc
	if err := parseDocContent(content, format, &d); err != nil {
		return "", "", Errorf("InvalidDocumentContent", "The content for the document is not valid: %v", err)
	}
	if d.SchemaVersion != "0.3" {
		return "", "", Errorf("InvalidDocumentSchemaVersion", "Automation documents use schema version 0.3, got %q.", d.SchemaVersion)
	}
	if len(d.MainSteps) == 0 {
		return "", "", Errorf("InvalidDocumentContent", "The document has no mainSteps.")
	}
	seen := map[string]bool{}
	for i, st := range d.MainSteps {
		switch {
		case st == nil || st.Name == "":
			return "", "", Errorf("InvalidDocumentContent", "Step %d has no name.", i+1)
		case seen[st.Name]:
			return "", "", Errorf("InvalidDocumentContent", "Step name %s is used twice.", st.Name)
		case !automationActions[st.Action]:
			return "", "", Errorf("InvalidDocumentContent", "Step %s: action %q is not modelled by the sandbox (it runs %s).", st.Name, st.Action, strings.Join(sortedKeys(automationActions), ", "))
		case st.OnFailure != "" && st.OnFailure != "Abort":
			return "", "", Errorf("InvalidDocumentContent", "Step %s: onFailure %q is not modelled by the sandbox (Abort only).", st.Name, st.OnFailure)
		case st.IsEnd && i != len(d.MainSteps)-1:
			return "", "", Errorf("InvalidDocumentContent", "Step %s: isEnd before the last step is not modelled by the sandbox.", st.Name)
		}
		seen[st.Name] = true
	}
	for name, p := range d.Parameters {
		if p == nil {
			return "", "", Errorf("InvalidDocumentContent", "Parameter %s has no definition.", name)
		}
		switch p.Type {
		case "String", "StringList", "Integer", "Boolean":
		default:
			return "", "", Errorf("InvalidDocumentContent", "Parameter %s: type %q is not modelled by the sandbox.", name, p.Type)
		}
	}
	for _, o := range d.Outputs {
		step, _, ok := strings.Cut(o, ".")
		if !ok || !seen[step] {
			return "", "", Errorf("InvalidDocumentContent", "Output %s does not name a step's output.", o)
		}
	}
	return d.Description, d.SchemaVersion, nil
}

func (c *Call) document(name string) (*Document, error) {
	name = automationDocName(name)
	if d := c.ssm().Documents[name]; d != nil {
		return d, nil
	}
	return nil, Errorf("InvalidDocument", "Document with name %s does not exist.", name)
}

// version resolves "", $DEFAULT, $LATEST or a number.
func (d *Document) version(v string) (*DocumentVersion, error) {
	switch v {
	case "", "$DEFAULT":
		return d.Versions[d.DefaultVersion-1], nil
	case "$LATEST":
		return d.Versions[len(d.Versions)-1], nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > len(d.Versions) || d.Versions[n-1] == nil {
		return nil, Errorf("InvalidDocumentVersion", "Document %s has no version %s.", d.Name, v)
	}
	return d.Versions[n-1], nil
}

func (d *Document) description(v *DocumentVersion) map[string]any {
	out := map[string]any{
		"Name": d.Name, "Owner": d.Account, "CreatedDate": epochAt(v.Created), "Status": "Active",
		"DocumentVersion": strconv.Itoa(v.Version), "Hash": v.Hash, "HashType": "Sha256",
		"DocumentType": d.DocumentType, "SchemaVersion": v.Schema, "DocumentFormat": v.Format,
		"LatestVersion": strconv.Itoa(len(d.Versions)), "DefaultVersion": strconv.Itoa(d.DefaultVersion),
		"PlatformTypes": []string{"Windows", "Linux", "MacOS"}, "Tags": ssmTagList(d.Tags),
	}
	if v.Description != "" {
		out["Description"] = v.Description
	}
	if v.VersionName != "" {
		out["VersionName"] = v.VersionName
	}
	if d.TargetType != "" {
		out["TargetType"] = d.TargetType
	}
	if d.DocumentType == "Automation" {
		var ad automationDoc
		if parseDocContent(v.Content, v.Format, &ad) == nil {
			params := []map[string]any{}
			for _, name := range sortedKeys(ad.Parameters) {
				p := ad.Parameters[name]
				m := map[string]any{"Name": name, "Type": p.Type}
				if p.Description != "" {
					m["Description"] = p.Description
				}
				if p.Default != nil {
					m["DefaultValue"] = fmt.Sprint(p.Default)
				}
				params = append(params, m)
			}
			out["Parameters"] = params
		}
	}
	return out
}

func ssmTagList(t Tags) []map[string]string {
	out := []map[string]string{}
	for _, k := range sortedKeys(t) {
		out = append(out, map[string]string{"Key": k, "Value": t[k]})
	}
	return out
}

func ssmCreateDocument(c *Call) (any, error) {
	var in struct {
		Name           string   `json:"Name"`
		Content        string   `json:"Content"`
		DocumentType   string   `json:"DocumentType"`
		DocumentFormat string   `json:"DocumentFormat"`
		TargetType     string   `json:"TargetType"`
		VersionName    string   `json:"VersionName"`
		Tags           []ssmTag `json:"Tags"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if !docNameRE.MatchString(in.Name) {
		return nil, errValidationException("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$", in.Name)
	}
	lower := strings.ToLower(in.Name)
	if strings.HasPrefix(lower, "aws") || strings.HasPrefix(lower, "amazon") {
		return nil, errValidationException("Document names cannot start with aws, amazon or amzn: %s", in.Name)
	}
	if in.DocumentType == "" {
		in.DocumentType = "Command"
	}
	if in.DocumentFormat == "" {
		in.DocumentFormat = "JSON"
	}
	sc := c.ssm()
	if sc.Documents[in.Name] != nil || lookupDocument(in.Name) != nil {
		return nil, Errorf("DocumentAlreadyExists", "Document with same name %s already exists", in.Name)
	}
	desc, schema, err := checkDocContent(in.Content, in.DocumentFormat, in.DocumentType)
	if err != nil {
		return nil, err
	}
	tags, err := validateTags(in.Tags)
	if err != nil {
		return nil, err
	}
	d := &Document{Name: in.Name, Account: c.Account, DocumentType: in.DocumentType, TargetType: in.TargetType,
		DefaultVersion: 1, Tags: tags, Created: c.Now}
	v := &DocumentVersion{Version: 1, VersionName: in.VersionName, Content: in.Content, Format: in.DocumentFormat,
		Hash: docContentHash(in.Content), Created: c.Now, Description: desc, Schema: schema}
	d.Versions = []*DocumentVersion{v}
	sc.Documents[d.Name] = d
	return map[string]any{"DocumentDescription": d.description(v)}, nil
}

func ssmUpdateDocument(c *Call) (any, error) {
	var in struct {
		Name            string `json:"Name"`
		Content         string `json:"Content"`
		DocumentVersion string `json:"DocumentVersion"`
		DocumentFormat  string `json:"DocumentFormat"`
		TargetType      string `json:"TargetType"`
		VersionName     string `json:"VersionName"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	d, err := c.document(in.Name)
	if err != nil {
		return nil, err
	}
	latest := d.Versions[len(d.Versions)-1]
	if in.DocumentVersion != "" && in.DocumentVersion != "$LATEST" && in.DocumentVersion != strconv.Itoa(latest.Version) {
		return nil, Errorf("InvalidDocumentVersion", "Only the latest version (%d) of document %s can be updated.", latest.Version, d.Name)
	}
	if in.DocumentFormat == "" {
		in.DocumentFormat = "JSON"
	}
	hash := docContentHash(in.Content)
	if hash == latest.Hash {
		return nil, Errorf("DuplicateDocumentContent", "The content of the association document matches another document. Change the content of the document and try again.")
	}
	desc, schema, err := checkDocContent(in.Content, in.DocumentFormat, d.DocumentType)
	if err != nil {
		return nil, err
	}
	if in.TargetType != "" {
		d.TargetType = in.TargetType
	}
	v := &DocumentVersion{Version: latest.Version + 1, VersionName: in.VersionName, Content: in.Content, Format: in.DocumentFormat,
		Hash: hash, Created: c.Now, Description: desc, Schema: schema}
	d.Versions = append(d.Versions, v)
	return map[string]any{"DocumentDescription": d.description(v)}, nil
}

func ssmGetDocument(c *Call) (any, error) {
	var in struct {
		Name            string `json:"Name"`
		DocumentVersion string `json:"DocumentVersion"`
		DocumentFormat  string `json:"DocumentFormat"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	d, err := c.document(in.Name)
	if err != nil {
		return nil, err
	}
	v, err := d.version(in.DocumentVersion)
	if err != nil {
		return nil, err
	}
	content, format := v.Content, v.Format
	if in.DocumentFormat != "" && in.DocumentFormat != v.Format {
		var generic any
		if err := parseDocContent(v.Content, v.Format, &generic); err != nil {
			return nil, Errorf("InvalidDocumentContent", "The stored content cannot be converted: %v", err)
		}
		var raw []byte
		switch in.DocumentFormat {
		case "JSON":
			raw, err = json.MarshalIndent(generic, "", "  ")
		case "YAML":
			raw, err = yaml.Marshal(generic)
		default:
			return nil, errValidationException("Value '%s' at 'documentFormat' failed to satisfy constraint: Member must satisfy enum value set: [YAML, JSON, TEXT]", in.DocumentFormat)
		}
		if err != nil {
			return nil, Errorf("InvalidDocumentContent", "The stored content cannot be converted: %v", err)
		}
		content, format = string(raw), in.DocumentFormat
	}
	out := map[string]any{"Name": d.Name, "CreatedDate": epochAt(v.Created), "DocumentVersion": strconv.Itoa(v.Version),
		"Status": "Active", "Content": content, "DocumentType": d.DocumentType, "DocumentFormat": format}
	if v.VersionName != "" {
		out["VersionName"] = v.VersionName
	}
	return out, nil
}

func ssmDescribeDocument(c *Call) (any, error) {
	var in struct {
		Name            string `json:"Name"`
		DocumentVersion string `json:"DocumentVersion"`
		VersionName     string `json:"VersionName"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	d, err := c.document(in.Name)
	if err != nil {
		return nil, err
	}
	v, err := d.version(in.DocumentVersion)
	if err != nil {
		return nil, err
	}
	if in.VersionName != "" {
		v = nil
		for _, dv := range d.Versions {
			if dv.VersionName == in.VersionName {
				v = dv
			}
		}
		if v == nil {
			return nil, Errorf("InvalidDocumentVersion", "Document %s has no version named %s.", d.Name, in.VersionName)
		}
	}
	return map[string]any{"Document": d.description(v)}, nil
}

func ssmUpdateDocumentDefaultVersion(c *Call) (any, error) {
	var in struct {
		Name            string `json:"Name"`
		DocumentVersion string `json:"DocumentVersion"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	d, err := c.document(in.Name)
	if err != nil {
		return nil, err
	}
	if _, err := strconv.Atoi(in.DocumentVersion); err != nil {
		return nil, errValidationException("Value '%s' at 'documentVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (^[1-9][0-9]*$)", in.DocumentVersion)
	}
	v, err := d.version(in.DocumentVersion)
	if err != nil {
		return nil, err
	}
	d.DefaultVersion = v.Version
	desc := map[string]any{"Name": d.Name, "DefaultVersion": strconv.Itoa(v.Version)}
	if v.VersionName != "" {
		desc["DefaultVersionName"] = v.VersionName
	}
	return map[string]any{"Description": desc}, nil
}

func ssmDeleteDocument(c *Call) (any, error) {
	var in struct {
		Name            string `json:"Name"`
		DocumentVersion string `json:"DocumentVersion"`
		Force           bool   `json:"Force"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	d, err := c.document(in.Name)
	if err != nil {
		return nil, err
	}
	if in.DocumentVersion != "" {
		// Deleting one version is modelled as on AWS only for non-default ones.
		v, err := d.version(in.DocumentVersion)
		if err != nil {
			return nil, err
		}
		if v.Version == d.DefaultVersion || v.Version == len(d.Versions) {
			return nil, Errorf("InvalidDocumentOperation", "The default or latest version of document %s cannot be deleted.", d.Name)
		}
		d.Versions[v.Version-1] = nil
		return map[string]any{}, nil
	}
	delete(c.ssm().Documents, d.Name)
	return map[string]any{}, nil
}

func ssmListDocuments(c *Call) (any, error) {
	var in ssmListInput
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	sc := c.ssm()
	kept, err := ssmKeep(sortedValues(sc.Documents), in.Filters, func(d *Document, f ssmFilter) (bool, error) {
		switch f.Key {
		case "Owner":
			return ssmContains(f.Values, "Self") || ssmContains(f.Values, "Private") || ssmContains(f.Values, d.Account), nil
		case "Name":
			m := false
			for _, v := range f.Values {
				m = m || strings.HasPrefix(d.Name, v)
			}
			return m, nil
		case "DocumentType":
			return ssmContains(f.Values, d.DocumentType), nil
		}
		if tag, isTag := strings.CutPrefix(f.Key, "tag:"); isTag {
			return ssmContains(f.Values, d.Tags[tag]), nil
		}
		return false, Errorf("InvalidFilterKey", "The filter key %s is not supported by the sandbox.", f.Key)
	})
	if err != nil {
		return nil, err
	}
	pg, next, err := ssmPage(kept, in.NextToken, in.MaxResults, 50, 50, "documents")
	if err != nil {
		return nil, err
	}
	ids := []map[string]any{}
	for _, d := range pg {
		v := d.Versions[d.DefaultVersion-1]
		ids = append(ids, map[string]any{"Name": d.Name, "Owner": d.Account, "CreatedDate": epochAt(d.Created),
			"DocumentVersion": strconv.Itoa(v.Version), "DocumentType": d.DocumentType, "SchemaVersion": v.Schema,
			"DocumentFormat": v.Format, "PlatformTypes": []string{"Windows", "Linux", "MacOS"}, "Tags": ssmTagList(d.Tags)})
	}
	return ssmListOf("DocumentIdentifiers", ids, next), nil
}

func ssmListDocumentVersions(c *Call) (any, error) {
	var in struct {
		Name       string `json:"Name"`
		MaxResults int    `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	d, err := c.document(in.Name)
	if err != nil {
		return nil, err
	}
	var vs []*DocumentVersion
	for _, v := range d.Versions {
		if v != nil {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Version < vs[j].Version })
	pg, next, err := ssmPage(vs, in.NextToken, in.MaxResults, 50, 50, "docversions:"+d.Name)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, v := range pg {
		m := map[string]any{"Name": d.Name, "DocumentVersion": strconv.Itoa(v.Version), "CreatedDate": epochAt(v.Created),
			"IsDefaultVersion": v.Version == d.DefaultVersion, "DocumentFormat": v.Format, "Status": "Active"}
		if v.VersionName != "" {
			m["VersionName"] = v.VersionName
		}
		out = append(out, m)
	}
	return ssmListOf("DocumentVersions", out, next), nil
}
