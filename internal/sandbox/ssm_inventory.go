package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Systems Manager Inventory. What AWS-GatherSoftwareInventory would report
// is derived from the content model: while an instance is running and
// managed, its AWS:Application inventory is its package set
// (Content.Packages), captured now, and AWS:InstanceInformation describes
// it. Items an agent (or a test) sends with PutInventory are stored as sent
// and win over the derived ones of the same type.

// Inventory type names the sandbox derives.
const (
	InvTypeApplication  = "AWS:Application"
	InvTypeInstanceInfo = "AWS:InstanceInformation"
	invCaptureLayout    = "2006-01-02T15:04:05Z"
)

// InventoryState holds the items put with PutInventory, keyed
// "account/region/instance/type".
type InventoryState struct {
	Items map[string]*InventoryItem `json:"items"`
}

// InventoryItem is one inventory type of one instance.
type InventoryItem struct {
	TypeName      string              `json:"TypeName"`
	SchemaVersion string              `json:"SchemaVersion"`
	CaptureTime   string              `json:"CaptureTime"`
	ContentHash   string              `json:"ContentHash,omitempty"`
	Content       []map[string]string `json:"Content"`
	Context       map[string]string   `json:"Context,omitempty"`
}

func (w *World) inventory() *InventoryState {
	if w.Inventory == nil {
		w.Inventory = &InventoryState{}
	}
	if w.Inventory.Items == nil {
		w.Inventory.Items = map[string]*InventoryItem{}
	}
	return w.Inventory
}

func invKey(account, region, instance, typeName string) string {
	return account + "/" + region + "/" + instance + "/" + typeName
}

func (s *Server) registerSSMInventory() {
	s.handle(svcSSM, "PutInventory", ssmPutInventory)
	s.handle(svcSSM, "ListInventoryEntries", ssmListInventoryEntries)
	s.handle(svcSSM, "GetInventory", ssmGetInventory)
}

var invTypeRE = regexp.MustCompile(`^(AWS|Custom):[a-zA-Z0-9_\-\.]{1,100}$`)

// inventoryInstance returns an instance of the call's scope that Systems
// Manager knows (managed), or InvalidInstanceId.
func inventoryInstance(c *Call, id string) (*Instance, error) {
	inst := c.World.EC2.Instances[id]
	if inst == nil || inst.Account != c.Account || inst.Region != c.Region || !c.World.managedInstance(inst) {
		return nil, Errorf("InvalidInstanceId", "Instance Id %s is not a managed instance.", id)
	}
	return inst, nil
}

func ssmPutInventory(c *Call) (any, error) {
	var in struct {
		InstanceId string           `json:"InstanceId"`
		Items      []*InventoryItem `json:"Items"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.InstanceId == "" {
		return nil, errValidationException("1 validation error detected: Value null at 'instanceId' failed to satisfy constraint: Member must not be null")
	}
	if len(in.Items) == 0 || len(in.Items) > 30 {
		return nil, errValidationException("1 validation error detected: Value at 'items' failed to satisfy constraint: Member must have length between 1 and 30")
	}
	if _, err := inventoryInstance(c, in.InstanceId); err != nil {
		return nil, err
	}
	for _, it := range in.Items {
		if !invTypeRE.MatchString(it.TypeName) {
			return nil, Errorf("InvalidTypeNameException", "The parameter type name %q is not valid.", it.TypeName)
		}
		if it.SchemaVersion == "" || it.CaptureTime == "" {
			return nil, errValidationException("Items need TypeName, SchemaVersion and CaptureTime")
		}
		if _, err := time.Parse(invCaptureLayout, it.CaptureTime); err != nil {
			return nil, Errorf("InvalidItemContentException", "CaptureTime %q is not in the format %s", it.CaptureTime, invCaptureLayout)
		}
		if len(it.Content) > 10000 {
			return nil, Errorf("ItemSizeLimitExceededException", "The inventory item size has exceeded the size limit.")
		}
	}
	inv := c.World.inventory()
	for _, it := range in.Items {
		cp := *it
		if cp.ContentHash == "" {
			cp.ContentHash = contentHash(cp.Content)
		}
		inv.Items[invKey(c.Account, c.Region, in.InstanceId, it.TypeName)] = &cp
	}
	return map[string]string{"Message": "Inventory upload accepted"}, nil
}

// InventoryItems returns every inventory item of an instance, type name
// first: the ones put, else the ones derived from its state.
func (w *World) InventoryItems(inst *Instance, now time.Time) map[string]*InventoryItem {
	out := map[string]*InventoryItem{}
	if w.managedInstance(inst) && inst.State == StateRunning {
		out[InvTypeApplication] = w.applicationInventory(inst, now)
		out[InvTypeInstanceInfo] = w.instanceInfoInventory(inst, now)
	}
	prefix := invKey(inst.Account, inst.Region, inst.ID, "")
	for k, it := range w.inventory().Items {
		if strings.HasPrefix(k, prefix) {
			out[it.TypeName] = it
		}
	}
	return out
}

// applicationInventory is AWS:Application as the gather document reports
// it on Amazon Linux: one entry per installed package.
func (w *World) applicationInventory(inst *Instance, now time.Time) *InventoryItem {
	arch := inst.Architecture
	if arch == "arm64" {
		arch = "aarch64"
	}
	if arch == "" {
		arch = "x86_64"
	}
	var entries []map[string]string
	for _, name := range inst.Content.PackageNames() {
		evr := inst.Content.Packages[name]
		epoch, vr := "", evr
		if e, rest, ok := strings.Cut(evr, ":"); ok {
			epoch, vr = e, rest
		}
		ver, rel := splitVR(vr)
		a, publisher := arch, ""
		if p := w.Catalogue.Packages[name]; p != nil {
			if p.NoArch {
				a = "noarch"
			}
			if !p.Lazy {
				publisher = "Amazon Linux"
			}
		}
		e := map[string]string{
			"Name": name, "Version": ver, "Release": rel, "Architecture": a,
			"Publisher": publisher, "ApplicationType": "System Environment/Base",
			"PackageId": name + "-" + vr + "." + a + ".rpm",
		}
		if epoch != "" {
			e["Epoch"] = epoch
		}
		entries = append(entries, e)
	}
	return &InventoryItem{
		TypeName: InvTypeApplication, SchemaVersion: "1.1",
		CaptureTime: now.UTC().Format(invCaptureLayout), Content: entries, ContentHash: contentHash(entries),
	}
}

func (w *World) instanceInfoInventory(inst *Instance, now time.Time) *InventoryItem {
	agent, _ := w.agentVersion(inst)
	e := map[string]string{
		"InstanceId": inst.ID, "AgentType": "amazon-ssm-agent", "AgentVersion": agent,
		"ComputerName": "ip-" + strings.ReplaceAll(inst.PrivateIP, ".", "-") + ".ec2.internal",
		"IpAddress":    inst.PrivateIP, "PlatformName": "Amazon Linux", "PlatformType": "Linux",
		"PlatformVersion": "2023", "ResourceType": "EC2Instance", "InstanceStatus": "Active",
	}
	content := []map[string]string{e}
	return &InventoryItem{
		TypeName: InvTypeInstanceInfo, SchemaVersion: "1.0",
		CaptureTime: now.UTC().Format(invCaptureLayout), Content: content, ContentHash: contentHash(content),
	}
}

func contentHash(content []map[string]string) string {
	b, _ := json.Marshal(content)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// invFilter is an InventoryFilter: Key, Values, Type.
type invFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
	Type   string   `json:"Type"`
}

func (f invFilter) validate() error {
	switch f.Type {
	case "", "Equal", "NotEqual", "BeginWith", "Exists", "LessThan", "GreaterThan":
	default:
		return Errorf("InvalidFilter", "The filter type %q is not valid.", f.Type)
	}
	if f.Key == "" || (len(f.Values) == 0 && f.Type != "Exists") {
		return Errorf("InvalidFilter", "A filter needs a Key and Values.")
	}
	return nil
}

// match applies the filter to one attribute value (present or not).
func (f invFilter) match(v string, present bool) bool {
	switch f.Type {
	case "Exists":
		return present
	case "NotEqual":
		for _, x := range f.Values {
			if v == x {
				return false
			}
		}
		return present
	}
	if !present {
		return false
	}
	for _, x := range f.Values {
		switch f.Type {
		case "", "Equal":
			if v == x {
				return true
			}
		case "BeginWith":
			if strings.HasPrefix(v, x) {
				return true
			}
		case "LessThan":
			if v < x {
				return true
			}
		case "GreaterThan":
			if v > x {
				return true
			}
		}
	}
	return false
}

func ssmListInventoryEntries(c *Call) (any, error) {
	var in struct {
		InstanceId string      `json:"InstanceId"`
		TypeName   string      `json:"TypeName"`
		Filters    []invFilter `json:"Filters"`
		MaxResults int         `json:"MaxResults"`
		NextToken  string      `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.InstanceId == "" || in.TypeName == "" {
		return nil, errValidationException("1 validation error detected: InstanceId and TypeName must not be null")
	}
	if !invTypeRE.MatchString(in.TypeName) {
		return nil, Errorf("InvalidTypeNameException", "The parameter type name %q is not valid.", in.TypeName)
	}
	for _, f := range in.Filters {
		if err := f.validate(); err != nil {
			return nil, err
		}
	}
	inst, err := inventoryInstance(c, in.InstanceId)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"InstanceId": inst.ID, "TypeName": in.TypeName, "Entries": []map[string]string{}}
	item := c.World.InventoryItems(inst, c.Now)[in.TypeName]
	if item == nil {
		return out, nil
	}
	var entries []map[string]string
	for _, e := range item.Content {
		ok := true
		for _, f := range in.Filters {
			v, present := e[f.Key]
			if !f.match(v, present) {
				ok = false
				break
			}
		}
		if ok {
			entries = append(entries, e)
		}
	}
	page, next, err := ssmPage(entries, in.NextToken, in.MaxResults, 50, 50, "inv:"+inst.ID+":"+in.TypeName)
	if err != nil {
		return nil, err
	}
	if page == nil {
		page = []map[string]string{}
	}
	out["Entries"], out["SchemaVersion"], out["CaptureTime"] = page, item.SchemaVersion, item.CaptureTime
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func ssmGetInventory(c *Call) (any, error) {
	var in struct {
		Filters          []invFilter `json:"Filters"`
		ResultAttributes []struct {
			TypeName string `json:"TypeName"`
		} `json:"ResultAttributes"`
		Aggregators []json.RawMessage `json:"Aggregators"`
		MaxResults  int               `json:"MaxResults"`
		NextToken   string            `json:"NextToken"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if len(in.Aggregators) > 0 {
		return nil, Errorf("UnsupportedFeatureRequiredException", "the sandbox does not aggregate inventory")
	}
	for _, f := range in.Filters {
		if err := f.validate(); err != nil {
			return nil, err
		}
		if typ, _, ok := strings.Cut(f.Key, "."); !ok || !invTypeRE.MatchString(typ) {
			return nil, Errorf("InvalidFilter", "The filter key %q is not TypeName.Attribute.", f.Key)
		}
	}
	want := map[string]bool{}
	for _, ra := range in.ResultAttributes {
		want[ra.TypeName] = true
	}
	var ids []string
	for id, inst := range c.World.EC2.Instances {
		if inst.Account == c.Account && inst.Region == c.Region && c.World.managedInstance(inst) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	type entity struct {
		ID   string                    `json:"Id"`
		Data map[string]*InventoryItem `json:"Data"`
	}
	var entities []entity
	for _, id := range ids {
		items := c.World.InventoryItems(c.World.EC2.Instances[id], c.Now)
		if len(items) == 0 {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			typ, attr, _ := strings.Cut(f.Key, ".")
			matched := false
			if it := items[typ]; it != nil {
				for _, e := range it.Content {
					v, present := e[attr]
					if f.match(v, present) {
						matched = true
						break
					}
				}
			} else {
				matched = f.match("", false)
			}
			if !matched {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		data := map[string]*InventoryItem{}
		for t, it := range items {
			if len(want) == 0 || want[t] {
				data[t] = it
			}
		}
		entities = append(entities, entity{ID: id, Data: data})
	}
	page, next, err := ssmPage(entities, in.NextToken, in.MaxResults, 50, 100, "getinv")
	if err != nil {
		return nil, err
	}
	return ssmListOf("Entities", page, next), nil
}
