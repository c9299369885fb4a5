package sandbox

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ---- key pairs ----

type ec2KeyPairXML struct {
	KeyPairID   string      `xml:"keyPairId"`
	KeyName     string      `xml:"keyName"`
	Fingerprint string      `xml:"keyFingerprint"`
	KeyType     string      `xml:"keyType"`
	PublicKey   string      `xml:"publicKey,omitempty"`
	CreateTime  string      `xml:"createTime"`
	Tags        []ec2TagXML `xml:"tagSet>item"`
}

func (w *World) ec2KeyPairByName(account, region, name string) *KeyPair {
	for _, k := range w.EC2.KeyPairs {
		if k.Account == account && k.Region == region && k.Name == name {
			return k
		}
	}
	return nil
}

func ec2ColonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// ec2NewKeyMaterial makes a real private key as EC2 would hand it out: RSA
// (PEM, SHA-1 fingerprint of the PKCS#8 key) or ED25519 (PKCS#8 PEM here,
// SHA-256 fingerprint of the public key).
func ec2NewKeyMaterial(keyType string) (material, fingerprint, public string, err error) {
	switch keyType {
	case "ed25519":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return "", "", "", err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return "", "", "", err
		}
		sum := sha256.Sum256(pub)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
			base64.StdEncoding.EncodeToString(sum[:]) + "=", "ssh-ed25519 " + base64.StdEncoding.EncodeToString(pub), nil
	default:
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return "", "", "", err
		}
		pk8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", "", "", err
		}
		sum := sha1.Sum(pk8)
		pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
			ec2ColonHex(sum[:]), "ssh-rsa " + base64.StdEncoding.EncodeToString(pubDER), nil
	}
}

func ec2CheckKeyName(w *World, c *Call, name string) *APIError {
	if name == "" {
		return errMissingParameter("KeyName")
	}
	if len(name) > 255 {
		return errInvalidParameterValue("Value (%s) for parameter keyName is invalid. Length exceeds maximum of 255.", name)
	}
	if w.ec2KeyPairByName(c.Account, c.Region, name) != nil {
		return Errorf("InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
	}
	return nil
}

func ec2CreateKeyPair(c *Call) (any, error) {
	f, w := c.Form, c.World
	name := formGet(f, "KeyName")
	if e := ec2CheckKeyName(w, c, name); e != nil {
		return nil, e
	}
	kt := formGet(f, "KeyType")
	if kt == "" {
		kt = "rsa"
	}
	if kt != "rsa" && kt != "ed25519" {
		return nil, errInvalidParameterValue("Value (%s) for parameter keyType is invalid. Valid values: rsa, ed25519", kt)
	}
	if kf := formGet(f, "KeyFormat"); kf != "" && kf != "pem" && kf != "ppk" {
		return nil, errInvalidParameterValue("Value (%s) for parameter keyFormat is invalid. Valid values: pem, ppk", kf)
	}
	specs, e := ec2ParseTagSpecs(f, "TagSpecification", "key-pair")
	if e != nil {
		return nil, e
	}
	material, fp, pub, err := ec2NewKeyMaterial(kt)
	if err != nil {
		return nil, &APIError{Status: 500, Code: "InternalError", Message: "key generation: " + err.Error()}
	}
	kp := &KeyPair{ID: w.NewID("key"), Account: c.Account, Region: c.Region, Name: name, Type: kt, Fingerprint: fp,
		Tags: cloneTags(specs["key-pair"]), CreateTime: c.Now, PublicKey: pub}
	w.EC2.KeyPairs[kp.ID] = kp
	return struct {
		KeyName     string      `xml:"keyName"`
		Fingerprint string      `xml:"keyFingerprint"`
		Material    string      `xml:"keyMaterial"`
		KeyPairID   string      `xml:"keyPairId"`
		Tags        []ec2TagXML `xml:"tagSet>item"`
	}{kp.Name, kp.Fingerprint, material, kp.ID, ec2TagsXML(kp.Tags)}, nil
}

func ec2ImportKeyPair(c *Call) (any, error) {
	f, w := c.Form, c.World
	name := formGet(f, "KeyName")
	if e := ec2CheckKeyName(w, c, name); e != nil {
		return nil, e
	}
	raw := formGet(f, "PublicKeyMaterial")
	if raw == "" {
		return nil, errMissingParameter("PublicKeyMaterial")
	}
	// The SDK base64-encodes the blob; it holds an OpenSSH public key line.
	if dec, err := base64.StdEncoding.DecodeString(raw); err == nil {
		raw = string(dec)
	}
	fields := strings.Fields(raw)
	if len(fields) < 2 || (fields[0] != "ssh-rsa" && fields[0] != "ssh-ed25519") {
		return nil, Errorf("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return nil, Errorf("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
	}
	kt, fp := "rsa", ""
	if fields[0] == "ssh-ed25519" {
		kt = "ed25519"
		sum := sha256.Sum256(blob)
		fp = base64.StdEncoding.EncodeToString(sum[:]) + "="
	} else {
		sum := md5.Sum(blob)
		fp = ec2ColonHex(sum[:])
	}
	specs, e := ec2ParseTagSpecs(f, "TagSpecification", "key-pair")
	if e != nil {
		return nil, e
	}
	kp := &KeyPair{ID: w.NewID("key"), Account: c.Account, Region: c.Region, Name: name, Type: kt, Fingerprint: fp,
		Tags: cloneTags(specs["key-pair"]), CreateTime: c.Now, PublicKey: fields[0] + " " + fields[1]}
	w.EC2.KeyPairs[kp.ID] = kp
	return struct {
		KeyName     string      `xml:"keyName"`
		Fingerprint string      `xml:"keyFingerprint"`
		KeyPairID   string      `xml:"keyPairId"`
		Tags        []ec2TagXML `xml:"tagSet>item"`
	}{kp.Name, kp.Fingerprint, kp.ID, ec2TagsXML(kp.Tags)}, nil
}

func ec2DescribeKeyPairs(c *Call) (any, error) {
	f, w := c.Form, c.World
	names := ec2Dedupe(formList(f, "KeyName"))
	ids := ec2Dedupe(formList(f, "KeyPairId"))
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	var items []*KeyPair
	for _, k := range w.EC2.KeyPairs {
		if k.Account == c.Account && k.Region == c.Region {
			items = append(items, k)
		}
	}
	if len(names) > 0 || len(ids) > 0 {
		var kept []*KeyPair
		for _, n := range names {
			k := w.ec2KeyPairByName(c.Account, c.Region, n)
			if k == nil {
				return nil, Errorf("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", n)
			}
			kept = append(kept, k)
		}
		for _, id := range ids {
			k := w.EC2.KeyPairs[id]
			if k == nil || k.Account != c.Account || k.Region != c.Region {
				return nil, Errorf("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", id)
			}
			kept = append(kept, k)
		}
		items = kept
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[*KeyPair]{
		"key-name":        func(k *KeyPair) []string { return ec2One(k.Name) },
		"key-pair-id":     func(k *KeyPair) []string { return ec2One(k.ID) },
		"fingerprint":     func(k *KeyPair) []string { return ec2One(k.Fingerprint) },
		"key-type":        func(k *KeyPair) []string { return ec2One(k.Type) },
		"key-fingerprint": func(k *KeyPair) []string { return ec2One(k.Fingerprint) },
	}, func(k *KeyPair) Tags { return k.Tags })
	if e != nil {
		return nil, e
	}
	ec2SortBy(items, func(k *KeyPair) string { return k.ID })
	items = ec2DedupeBy(items, func(k *KeyPair) string { return k.ID })
	out := struct {
		Keys []ec2KeyPairXML `xml:"keySet>item"`
	}{}
	withPub := formBool(f, "IncludePublicKey")
	for _, k := range items {
		x := ec2KeyPairXML{KeyPairID: k.ID, KeyName: k.Name, Fingerprint: k.Fingerprint, KeyType: k.Type, CreateTime: ec2Time(k.CreateTime), Tags: ec2TagsXML(k.Tags)}
		if withPub {
			x.PublicKey = k.PublicKey
		}
		out.Keys = append(out.Keys, x)
	}
	return out, nil
}

func ec2DedupeBy[T any](items []T, key func(T) string) []T {
	seen := map[string]bool{}
	out := items[:0]
	for _, it := range items {
		if !seen[key(it)] {
			seen[key(it)] = true
			out = append(out, it)
		}
	}
	return out
}

// DeleteKeyPair succeeds for a missing key, as EC2 does.
func ec2DeleteKeyPair(c *Call) (any, error) {
	f, w := c.Form, c.World
	name, id := formGet(f, "KeyName"), formGet(f, "KeyPairId")
	if name == "" && id == "" {
		return nil, errMissingParameter("KeyName")
	}
	var kp *KeyPair
	if id != "" {
		if !ec2ValidID("key", id) {
			return nil, ec2Malformed("InvalidKeyPair.Malformed", id)
		}
		if k := w.EC2.KeyPairs[id]; k != nil && k.Account == c.Account && k.Region == c.Region {
			kp = k
		}
	} else {
		kp = w.ec2KeyPairByName(c.Account, c.Region, name)
	}
	out := struct {
		Return    bool   `xml:"return"`
		KeyPairID string `xml:"keyPairId,omitempty"`
	}{Return: true}
	if kp != nil {
		delete(w.EC2.KeyPairs, kp.ID)
		out.KeyPairID = kp.ID
	}
	return out, nil
}

// ---- security groups ----

type ec2IpRangeXML struct {
	CidrIP      string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type ec2IpPermissionXML struct {
	IPProtocol string          `xml:"ipProtocol"`
	FromPort   *int            `xml:"fromPort,omitempty"`
	ToPort     *int            `xml:"toPort,omitempty"`
	Groups     []struct{}      `xml:"groups>item"`
	IPRanges   []ec2IpRangeXML `xml:"ipRanges>item"`
}

type ec2SecurityGroupXML struct {
	OwnerID       string               `xml:"ownerId"`
	GroupID       string               `xml:"groupId"`
	GroupName     string               `xml:"groupName"`
	Description   string               `xml:"groupDescription"`
	VpcID         string               `xml:"vpcId"`
	Arn           string               `xml:"securityGroupArn"`
	IPPermissions []ec2IpPermissionXML `xml:"ipPermissions>item"`
	Egress        []ec2IpPermissionXML `xml:"ipPermissionsEgress>item"`
	Tags          []ec2TagXML          `xml:"tagSet>item"`
}

func ec2SGArn(sg *SecurityGroup) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", sg.Region, sg.Account, sg.ID)
}

func ec2PermissionsXML(rules []SGRule) []ec2IpPermissionXML {
	// Rules with the same protocol and ports form one permission.
	type key struct {
		p        string
		from, to int
	}
	var order []key
	byKey := map[key]*ec2IpPermissionXML{}
	for _, r := range rules {
		k := key{r.Protocol, r.FromPort, r.ToPort}
		p := byKey[k]
		if p == nil {
			p = &ec2IpPermissionXML{IPProtocol: r.Protocol}
			if r.Protocol != "-1" {
				from, to := r.FromPort, r.ToPort
				p.FromPort, p.ToPort = &from, &to
			}
			byKey[k] = p
			order = append(order, k)
		}
		p.IPRanges = append(p.IPRanges, ec2IpRangeXML{CidrIP: r.CIDR, Description: r.Description})
	}
	out := make([]ec2IpPermissionXML, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}

func (sg *SecurityGroup) ec2XML() ec2SecurityGroupXML {
	return ec2SecurityGroupXML{
		OwnerID: sg.Account, GroupID: sg.ID, GroupName: sg.Name, Description: sg.Description, VpcID: sg.VpcID,
		Arn: ec2SGArn(sg), IPPermissions: ec2PermissionsXML(sg.Ingress),
		Egress: ec2PermissionsXML([]SGRule{{Protocol: "-1", CIDR: "0.0.0.0/0"}}), Tags: ec2TagsXML(sg.Tags),
	}
}

func (w *World) ec2DefaultVPC(account, region string) *VPC {
	for _, v := range w.EC2.VPCs {
		if v.Account == account && v.Region == region && v.IsDefault {
			return v
		}
	}
	return nil
}

func (w *World) ec2SecurityGroupByName(account, region, vpcID, name string) *SecurityGroup {
	for _, sg := range w.EC2.SecurityGroups {
		if sg.Account == account && sg.Region == region && sg.VpcID == vpcID && sg.Name == name {
			return sg
		}
	}
	return nil
}

// ec2DefaultSecurityGroup returns a VPC's "default" group, creating it on
// first use (every VPC has one on EC2).
func (w *World) ec2DefaultSecurityGroup(account, region, vpcID string) *SecurityGroup {
	if sg := w.ec2SecurityGroupByName(account, region, vpcID, "default"); sg != nil {
		return sg
	}
	sg := &SecurityGroup{ID: w.NewID("sg"), Account: account, Region: region, VpcID: vpcID, Name: "default",
		Description: "default VPC security group"}
	w.EC2.SecurityGroups[sg.ID] = sg
	return sg
}

// ec2GroupFor finds a group by GroupId, or by GroupName in the default VPC.
func ec2GroupFor(c *Call, id, name string) (*SecurityGroup, *APIError) {
	w := c.World
	switch {
	case id != "":
		if !ec2ValidID("sg", id) {
			return nil, ec2Malformed("InvalidGroupId.Malformed", id)
		}
		sg := w.EC2.SecurityGroups[id]
		if sg == nil || sg.Account != c.Account || sg.Region != c.Region {
			return nil, ec2NotFound("security-group", id)
		}
		return sg, nil
	case name != "":
		w.ensureDefaultVPC(c.Account, c.Region)
		vpc := w.ec2DefaultVPC(c.Account, c.Region)
		sg := w.ec2SecurityGroupByName(c.Account, c.Region, vpc.ID, name)
		if name == "default" {
			sg = w.ec2DefaultSecurityGroup(c.Account, c.Region, vpc.ID)
		}
		if sg == nil {
			return nil, Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", name, vpc.ID)
		}
		return sg, nil
	}
	return nil, errMissingParameter("GroupId")
}

func ec2CreateSecurityGroup(c *Call) (any, error) {
	f, w := c.Form, c.World
	name, desc := formGet(f, "GroupName"), formGet(f, "GroupDescription")
	switch {
	case name == "":
		return nil, errMissingParameter("GroupName")
	case desc == "":
		return nil, errMissingParameter("GroupDescription")
	case len(name) > 255 || len(desc) > 255:
		return nil, errInvalidParameterValue("Group name and description are limited to 255 characters")
	case strings.HasPrefix(name, "sg-"):
		return nil, errInvalidParameterValue("Group names may not be in the format sg-*.")
	case name == "default":
		return nil, errInvalidParameterValue("Cannot use reserved security group name: default")
	}
	vpcID := formGet(f, "VpcId")
	if vpcID == "" {
		w.ensureDefaultVPC(c.Account, c.Region)
		vpcID = w.ec2DefaultVPC(c.Account, c.Region).ID
	} else {
		if !ec2ValidID("vpc", vpcID) {
			return nil, ec2Malformed("InvalidVpcID.Malformed", vpcID)
		}
		v := w.EC2.VPCs[vpcID]
		if v == nil || v.Account != c.Account || v.Region != c.Region {
			return nil, Errorf("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpcID)
		}
	}
	if w.ec2SecurityGroupByName(c.Account, c.Region, vpcID, name) != nil {
		return nil, Errorf("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, vpcID)
	}
	specs, e := ec2ParseTagSpecs(f, "TagSpecification", "security-group")
	if e != nil {
		return nil, e
	}
	sg := &SecurityGroup{ID: w.NewID("sg"), Account: c.Account, Region: c.Region, VpcID: vpcID, Name: name,
		Description: desc, Tags: cloneTags(specs["security-group"])}
	w.EC2.SecurityGroups[sg.ID] = sg
	return struct {
		GroupID string      `xml:"groupId"`
		Arn     string      `xml:"securityGroupArn"`
		Tags    []ec2TagXML `xml:"tagSet>item"`
	}{sg.ID, ec2SGArn(sg), ec2TagsXML(sg.Tags)}, nil
}

func ec2DescribeSecurityGroups(c *Call) (any, error) {
	f, w := c.Form, c.World
	ids := ec2Dedupe(formList(f, "GroupId"))
	names := ec2Dedupe(formList(f, "GroupName"))
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	w.ensureDefaultVPC(c.Account, c.Region)
	w.ec2DefaultSecurityGroup(c.Account, c.Region, w.ec2DefaultVPC(c.Account, c.Region).ID)
	var items []*SecurityGroup
	if len(ids) > 0 || len(names) > 0 {
		for _, id := range ids {
			sg, e := ec2GroupFor(c, id, "")
			if e != nil {
				return nil, e
			}
			items = append(items, sg)
		}
		for _, n := range names {
			sg, e := ec2GroupFor(c, "", n)
			if e != nil {
				return nil, e
			}
			items = append(items, sg)
		}
	} else {
		for _, sg := range w.EC2.SecurityGroups {
			if sg.Account == c.Account && sg.Region == c.Region {
				items = append(items, sg)
			}
		}
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[*SecurityGroup]{
		"group-id":    func(s *SecurityGroup) []string { return ec2One(s.ID) },
		"group-name":  func(s *SecurityGroup) []string { return ec2One(s.Name) },
		"vpc-id":      func(s *SecurityGroup) []string { return ec2One(s.VpcID) },
		"description": func(s *SecurityGroup) []string { return ec2One(s.Description) },
		"owner-id":    func(s *SecurityGroup) []string { return ec2One(s.Account) },
		"ip-permission.cidr": func(s *SecurityGroup) []string {
			var out []string
			for _, r := range s.Ingress {
				out = append(out, r.CIDR)
			}
			return out
		},
		"ip-permission.from-port": func(s *SecurityGroup) []string {
			var out []string
			for _, r := range s.Ingress {
				out = append(out, strconv.Itoa(r.FromPort))
			}
			return out
		},
		"ip-permission.to-port": func(s *SecurityGroup) []string {
			var out []string
			for _, r := range s.Ingress {
				out = append(out, strconv.Itoa(r.ToPort))
			}
			return out
		},
		"ip-permission.protocol": func(s *SecurityGroup) []string {
			var out []string
			for _, r := range s.Ingress {
				out = append(out, r.Protocol)
			}
			return out
		},
	}, func(s *SecurityGroup) Tags { return s.Tags })
	if e != nil {
		return nil, e
	}
	ec2SortBy(items, func(s *SecurityGroup) string { return s.ID })
	items = ec2DedupeBy(items, func(s *SecurityGroup) string { return s.ID })
	page, next, e := ec2Paginate(f, items, func(s *SecurityGroup) string { return s.ID }, 5, 1000)
	if e != nil {
		return nil, e
	}
	out := struct {
		Groups    []ec2SecurityGroupXML `xml:"securityGroupInfo>item"`
		NextToken string                `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, sg := range page {
		out.Groups = append(out.Groups, sg.ec2XML())
	}
	return out, nil
}

// ec2ParseIngress reads IpPermissions.N (or the flat CidrIp/IpProtocol/
// FromPort/ToPort form) into rules.
func ec2ParseIngress(c *Call) ([]SGRule, *APIError) {
	f := c.Form
	var rules []SGRule
	add := func(proto, fromS, toS string, cidrs []ec2IpRangeXML) *APIError {
		p, e := ec2Protocol(proto)
		if e != nil {
			return e
		}
		from, to := -1, -1
		if p != "-1" {
			var err error
			if from, err = strconv.Atoi(fromS); err != nil && p != "icmp" {
				return errInvalidParameterValue("Invalid value '%s' for fromPort", fromS)
			}
			if to, err = strconv.Atoi(toS); err != nil && p != "icmp" {
				return errInvalidParameterValue("Invalid value '%s' for toPort", toS)
			}
			if (p == "tcp" || p == "udp") && (from < 0 || to > 65535 || from > to) {
				return errInvalidParameterValue("Invalid port range: %d-%d", from, to)
			}
		}
		if len(cidrs) == 0 {
			return errMissingParameter("IpPermissions.IpRanges")
		}
		for _, r := range cidrs {
			if !ec2ValidCIDR(r.CidrIP) {
				return errInvalidParameterValue("CIDR block %s is malformed", r.CidrIP)
			}
			rules = append(rules, SGRule{Protocol: p, FromPort: from, ToPort: to, CIDR: r.CidrIP, Description: r.Description})
		}
		return nil
	}
	for _, p := range formStructs(f, "IpPermissions") {
		var cidrs []ec2IpRangeXML
		for _, r := range formStructs(f, p+".IpRanges") {
			cidrs = append(cidrs, ec2IpRangeXML{CidrIP: formGet(f, r+".CidrIp"), Description: formGet(f, r+".Description")})
		}
		if e := add(formGet(f, p+".IpProtocol"), formGet(f, p+".FromPort"), formGet(f, p+".ToPort"), cidrs); e != nil {
			return nil, e
		}
	}
	if cidr := formGet(f, "CidrIp"); cidr != "" || formHas(f, "IpProtocol") {
		if e := add(formGet(f, "IpProtocol"), formGet(f, "FromPort"), formGet(f, "ToPort"), []ec2IpRangeXML{{CidrIP: cidr}}); e != nil {
			return nil, e
		}
	}
	if len(rules) == 0 {
		return nil, errMissingParameter("IpPermissions")
	}
	return rules, nil
}

func ec2Protocol(p string) (string, *APIError) {
	switch strings.ToLower(p) {
	case "tcp", "6":
		return "tcp", nil
	case "udp", "17":
		return "udp", nil
	case "icmp", "1":
		return "icmp", nil
	case "-1", "all":
		return "-1", nil
	case "":
		return "", errMissingParameter("IpProtocol")
	}
	if n, err := strconv.Atoi(p); err == nil && n >= 0 && n <= 255 {
		return p, nil
	}
	return "", errInvalidParameterValue("Invalid IP protocol: %s", p)
}

func ec2ValidCIDR(s string) bool {
	ip, bits, ok := strings.Cut(s, "/")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 0 || n > 32 {
		return false
	}
	parts := strings.Split(ip, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 255 {
			return false
		}
	}
	return true
}

func ec2RuleString(r SGRule) string {
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", r.CIDR, strings.ToUpper(r.Protocol), r.FromPort, r.ToPort)
}

func ec2SameRule(a, b SGRule) bool {
	return a.Protocol == b.Protocol && a.FromPort == b.FromPort && a.ToPort == b.ToPort && a.CIDR == b.CIDR
}

func ec2AuthorizeSecurityGroupIngress(c *Call) (any, error) {
	sg, e := ec2GroupFor(c, formGet(c.Form, "GroupId"), formGet(c.Form, "GroupName"))
	if e != nil {
		return nil, e
	}
	rules, e := ec2ParseIngress(c)
	if e != nil {
		return nil, e
	}
	for i, r := range rules {
		for _, have := range sg.Ingress {
			if ec2SameRule(r, have) {
				return nil, Errorf("InvalidPermission.Duplicate", "the specified rule %q already exists", ec2RuleString(r))
			}
		}
		for _, other := range rules[:i] {
			if ec2SameRule(r, other) {
				return nil, Errorf("InvalidPermission.Duplicate", "the specified rule %q already exists", ec2RuleString(r))
			}
		}
	}
	type ruleXML struct {
		ID         string `xml:"securityGroupRuleId"`
		GroupID    string `xml:"groupId"`
		OwnerID    string `xml:"groupOwnerId"`
		IsEgress   bool   `xml:"isEgress"`
		IPProtocol string `xml:"ipProtocol"`
		FromPort   int    `xml:"fromPort"`
		ToPort     int    `xml:"toPort"`
		CidrIPv4   string `xml:"cidrIpv4"`
	}
	out := struct {
		Return bool      `xml:"return"`
		Rules  []ruleXML `xml:"securityGroupRuleSet>item"`
	}{Return: true}
	for _, r := range rules {
		r.ID = c.World.NewID("sgr")
		sg.Ingress = append(sg.Ingress, r)
		out.Rules = append(out.Rules, ruleXML{r.ID, sg.ID, sg.Account, false, r.Protocol, r.FromPort, r.ToPort, r.CIDR})
	}
	return out, nil
}

func ec2RevokeSecurityGroupIngress(c *Call) (any, error) {
	sg, e := ec2GroupFor(c, formGet(c.Form, "GroupId"), formGet(c.Form, "GroupName"))
	if e != nil {
		return nil, e
	}
	var rules []SGRule
	ruleIDs := formList(c.Form, "SecurityGroupRuleId")
	if len(ruleIDs) == 0 {
		if rules, e = ec2ParseIngress(c); e != nil {
			return nil, e
		}
	}
	for _, id := range ruleIDs {
		found := false
		for _, have := range sg.Ingress {
			if have.ID == id {
				rules, found = append(rules, have), true
			}
		}
		if !found {
			return nil, Errorf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
		}
	}
	for _, r := range rules {
		found := false
		for _, have := range sg.Ingress {
			if ec2SameRule(r, have) {
				found = true
			}
		}
		if !found {
			return nil, Errorf("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
		}
	}
	kept := sg.Ingress[:0]
	for _, have := range sg.Ingress {
		drop := false
		for _, r := range rules {
			if ec2SameRule(r, have) {
				drop = true
			}
		}
		if !drop {
			kept = append(kept, have)
		}
	}
	sg.Ingress = kept
	return ec2ReturnTrue, nil
}

func ec2DeleteSecurityGroup(c *Call) (any, error) {
	sg, e := ec2GroupFor(c, formGet(c.Form, "GroupId"), formGet(c.Form, "GroupName"))
	if e != nil {
		return nil, e
	}
	if sg.Name == "default" {
		return nil, Errorf("CannotDelete", "the specified group: %q name: \"default\" cannot be deleted by a user", sg.ID)
	}
	for _, inst := range c.World.EC2.Instances {
		if inst.State != StateTerminated && ec2Contains(inst.SecurityGroupIDs, sg.ID) {
			return nil, Errorf("DependencyViolation", "resource %s has a dependent object", sg.ID)
		}
	}
	delete(c.World.EC2.SecurityGroups, sg.ID)
	return struct {
		Return  bool   `xml:"return"`
		GroupID string `xml:"groupId"`
	}{true, sg.ID}, nil
}

// ---- tags ----

// ec2TaggableFor resolves a CreateTags/DeleteTags resource id for the caller.
func ec2TaggableFor(c *Call, id string) (*ec2TaggedResource, *APIError) {
	prefix, _, _ := strings.Cut(id, "-")
	typ, ok := ec2ResourceTypes[prefix]
	if !ok || !ec2ValidID(prefix, id) {
		return nil, Errorf("InvalidID", "The ID '%s' is not valid", id)
	}
	r := c.World.ec2LookupTagged(id)
	if r == nil || r.Region != c.Region || ec2Hidden(r.VisibleAt, c.Now) {
		return nil, ec2NotFound(typ, id)
	}
	if r.Type == "image" {
		img := c.World.EC2.Images[id]
		if !img.launchableBy(c.Account) {
			return nil, ec2NotFound(typ, id)
		}
	} else if r.Account != c.Account {
		return nil, ec2NotFound(typ, id)
	}
	if r.OwnedBy != c.Account {
		return nil, Errorf("UnauthorizedOperation", "You are not authorized to tag %s: the sandbox keeps tags on the owner's resource only.", id)
	}
	return r, nil
}

func ec2CreateTags(c *Call) (any, error) {
	ids := formList(c.Form, "ResourceId")
	if len(ids) == 0 {
		return nil, errMissingParameter("ResourceId")
	}
	tags, _, e := ec2ParseTags(c.Form, "Tag")
	if e != nil {
		return nil, e
	}
	if len(tags) == 0 {
		return nil, errMissingParameter("Tag")
	}
	var rs []*ec2TaggedResource
	for _, id := range ids {
		r, e := ec2TaggableFor(c, id)
		if e != nil {
			return nil, e
		}
		merged := len(*r.Tags)
		for k := range tags {
			if _, ok := (*r.Tags)[k]; !ok {
				merged++
			}
		}
		if merged > 50 {
			return nil, Errorf("TagLimitExceeded", "The maximum number of tags (50) for resource %s was exceeded", id)
		}
		rs = append(rs, r)
	}
	for _, r := range rs {
		c.World.ec2SetTags(c, r, tags)
	}
	return ec2ReturnTrue, nil
}

// DeleteTags removes keys; a Tag.N without Value removes the key whatever
// its value, with a Value only when it matches; no Tag removes all.
func ec2DeleteTags(c *Call) (any, error) {
	f := c.Form
	ids := formList(f, "ResourceId")
	if len(ids) == 0 {
		return nil, errMissingParameter("ResourceId")
	}
	type del struct {
		key      string
		value    string
		hasValue bool
	}
	var dels []del
	for _, p := range formStructs(f, "Tag") {
		dels = append(dels, del{formGet(f, p+".Key"), formGet(f, p+".Value"), formHas(f, p+".Value")})
	}
	var rs []*ec2TaggedResource
	for _, id := range ids {
		r, e := ec2TaggableFor(c, id)
		if e != nil {
			return nil, e
		}
		rs = append(rs, r)
	}
	for _, r := range rs {
		if len(dels) == 0 {
			*r.Tags = Tags{}
			continue
		}
		for _, d := range dels {
			if v, ok := (*r.Tags)[d.key]; ok && (!d.hasValue || v == d.value) {
				delete(*r.Tags, d.key)
			}
		}
	}
	return ec2ReturnTrue, nil
}

type ec2TagDescription struct {
	ResourceID   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Key          string `xml:"key"`
	Value        string `xml:"value"`
}

func ec2DescribeTags(c *Call) (any, error) {
	f, w := c.Form, c.World
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	var items []ec2TagDescription
	add := func(r *ec2TaggedResource) {
		if r == nil || r.Account != c.Account || r.Region != c.Region || ec2Hidden(r.VisibleAt, c.Now) {
			return
		}
		for _, k := range sortedKeys(*r.Tags) {
			items = append(items, ec2TagDescription{r.ID, r.Type, k, (*r.Tags)[k]})
		}
	}
	for id := range w.EC2.Images {
		add(w.ec2LookupTagged(id))
	}
	for id, inst := range w.EC2.Instances {
		if ec2InstanceVisible(c, inst) {
			add(w.ec2LookupTagged(id))
		}
	}
	for _, m := range []func() []string{
		func() []string { return sortedKeys(w.EC2.Snapshots) }, func() []string { return sortedKeys(w.EC2.Volumes) },
		func() []string { return sortedKeys(w.EC2.SecurityGroups) }, func() []string { return sortedKeys(w.EC2.KeyPairs) },
		func() []string { return sortedKeys(w.EC2.LaunchTemplates) }, func() []string { return sortedKeys(w.EC2.VPCs) },
		func() []string { return sortedKeys(w.EC2.Subnets) },
	} {
		for _, id := range m() {
			add(w.ec2LookupTagged(id))
		}
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[ec2TagDescription]{
		"resource-id":   func(t ec2TagDescription) []string { return ec2One(t.ResourceID) },
		"resource-type": func(t ec2TagDescription) []string { return ec2One(t.ResourceType) },
		"key":           func(t ec2TagDescription) []string { return ec2One(t.Key) },
		"value":         func(t ec2TagDescription) []string { return ec2One(t.Value) },
	}, func(t ec2TagDescription) Tags { return Tags{t.Key: t.Value} })
	if e != nil {
		return nil, e
	}
	key := func(t ec2TagDescription) string { return t.ResourceID + "\x00" + t.Key }
	sort.Slice(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	page, next, e := ec2Paginate(f, items, key, 5, 1000)
	if e != nil {
		return nil, e
	}
	return struct {
		Tags      []ec2TagDescription `xml:"tagSet>item"`
		NextToken string              `xml:"nextToken,omitempty"`
	}{page, next}, nil
}

// ---- volumes ----

type ec2VolumeXML struct {
	VolumeID    string `xml:"volumeId"`
	Size        int    `xml:"size"`
	SnapshotID  string `xml:"snapshotId"`
	AZ          string `xml:"availabilityZone"`
	Status      string `xml:"status"`
	CreateTime  string `xml:"createTime"`
	Attachments []struct {
		VolumeID            string `xml:"volumeId"`
		InstanceID          string `xml:"instanceId"`
		Device              string `xml:"device"`
		Status              string `xml:"status"`
		AttachTime          string `xml:"attachTime"`
		DeleteOnTermination bool   `xml:"deleteOnTermination"`
	} `xml:"attachmentSet>item"`
	VolumeType         string      `xml:"volumeType"`
	Iops               int         `xml:"iops,omitempty"`
	Throughput         int         `xml:"throughput,omitempty"`
	Encrypted          bool        `xml:"encrypted"`
	KMSKeyID           string      `xml:"kmsKeyId,omitempty"`
	MultiAttachEnabled bool        `xml:"multiAttachEnabled"`
	Tags               []ec2TagXML `xml:"tagSet>item"`
}

func (v *Volume) ec2XML() ec2VolumeXML {
	x := ec2VolumeXML{VolumeID: v.ID, Size: v.Size, SnapshotID: v.SnapshotID, AZ: v.AZ, Status: v.State,
		CreateTime: ec2Time(v.CreateTime), VolumeType: v.Type, Iops: v.Iops, Throughput: v.Throughput,
		Encrypted: v.Encrypted, KMSKeyID: v.KMSKeyID, Tags: ec2TagsXML(v.Tags)}
	if v.InstanceID != "" {
		x.Attachments = append(x.Attachments, struct {
			VolumeID            string `xml:"volumeId"`
			InstanceID          string `xml:"instanceId"`
			Device              string `xml:"device"`
			Status              string `xml:"status"`
			AttachTime          string `xml:"attachTime"`
			DeleteOnTermination bool   `xml:"deleteOnTermination"`
		}{v.ID, v.InstanceID, v.Device, "attached", ec2Time(v.CreateTime), v.DeleteOnTermination})
	}
	return x
}

func ec2VolumeFor(c *Call, id string) (*Volume, *APIError) {
	if id == "" {
		return nil, errMissingParameter("VolumeId")
	}
	if !ec2ValidID("vol", id) {
		return nil, ec2Malformed("InvalidVolumeID.Malformed", id)
	}
	v := c.World.EC2.Volumes[id]
	if v == nil || v.Account != c.Account || v.Region != c.Region || ec2Hidden(v.VisibleAt, c.Now) {
		return nil, ec2NotFound("volume", id)
	}
	return v, nil
}

func ec2DescribeVolumes(c *Call) (any, error) {
	f := c.Form
	ids := ec2Dedupe(formList(f, "VolumeId"))
	if e := ec2NoMaxWithIDs(f, ids, "volumeId"); e != nil {
		return nil, e
	}
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	var items []*Volume
	if len(ids) > 0 {
		for _, id := range ids {
			v, e := ec2VolumeFor(c, id)
			if e != nil {
				return nil, e
			}
			items = append(items, v)
		}
	} else {
		for _, v := range c.World.EC2.Volumes {
			if v.Account == c.Account && v.Region == c.Region && !ec2Hidden(v.VisibleAt, c.Now) {
				items = append(items, v)
			}
		}
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[*Volume]{
		"volume-id":              func(v *Volume) []string { return ec2One(v.ID) },
		"status":                 func(v *Volume) []string { return ec2One(v.State) },
		"size":                   func(v *Volume) []string { return ec2Int(v.Size) },
		"snapshot-id":            func(v *Volume) []string { return ec2One(v.SnapshotID) },
		"volume-type":            func(v *Volume) []string { return ec2One(v.Type) },
		"encrypted":              func(v *Volume) []string { return ec2Bool(v.Encrypted) },
		"availability-zone":      func(v *Volume) []string { return ec2One(v.AZ) },
		"create-time":            func(v *Volume) []string { return ec2One(ec2Time(v.CreateTime)) },
		"attachment.instance-id": func(v *Volume) []string { return ec2One(v.InstanceID) },
		"attachment.device":      func(v *Volume) []string { return ec2One(v.Device) },
		"attachment.delete-on-termination": func(v *Volume) []string {
			return ec2Bool(v.DeleteOnTermination)
		},
		"attachment.status": func(v *Volume) []string {
			if v.InstanceID != "" {
				return ec2One("attached")
			}
			return nil
		},
	}, func(v *Volume) Tags { return v.Tags })
	if e != nil {
		return nil, e
	}
	ec2SortBy(items, func(v *Volume) string { return v.ID })
	page, next, e := ec2Paginate(f, items, func(v *Volume) string { return v.ID }, 5, 500)
	if e != nil {
		return nil, e
	}
	out := struct {
		Volumes   []ec2VolumeXML `xml:"volumeSet>item"`
		NextToken string         `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, v := range page {
		out.Volumes = append(out.Volumes, v.ec2XML())
	}
	return out, nil
}

func ec2DeleteVolume(c *Call) (any, error) {
	v, e := ec2VolumeFor(c, formGet(c.Form, "VolumeId"))
	if e != nil {
		return nil, e
	}
	if v.State == "in-use" {
		return nil, Errorf("VolumeInUse", "Volume %s is currently attached to %s", v.ID, v.InstanceID)
	}
	delete(c.World.EC2.Volumes, v.ID)
	return ec2ReturnTrue, nil
}

// ---- VPCs and subnets ----

// ec2Select is what a Describe call is about: the ids it names, in order,
// or else every item of all that mine keeps (in map order: callers sort).
// As on EC2, a malformed id or one the caller cannot see (mine rejects it)
// fails the whole call: <code>.Malformed or <code>.NotFound.
func ec2Select[T comparable](all map[string]T, ids []string, prefix, code string, mine func(T) bool) ([]T, *APIError) {
	var zero T
	if len(ids) == 0 {
		var items []T
		for _, v := range all {
			if mine(v) {
				items = append(items, v)
			}
		}
		return items, nil
	}
	out := make([]T, 0, len(ids))
	for _, id := range ids {
		if !ec2ValidID(prefix, id) {
			return nil, ec2Malformed(code+".Malformed", id)
		}
		v := all[id]
		if v == zero || !mine(v) {
			return nil, Errorf(code+".NotFound", "The %s ID '%s' does not exist", prefix, id)
		}
		out = append(out, v)
	}
	return out, nil
}

func ec2DescribeVpcs(c *Call) (any, error) {
	f, w := c.Form, c.World
	w.ensureDefaultVPC(c.Account, c.Region)
	ids := ec2Dedupe(formList(f, "VpcId"))
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	items, e := ec2Select(w.EC2.VPCs, ids, "vpc", "InvalidVpcID", func(v *VPC) bool { return v.Account == c.Account && v.Region == c.Region })
	if e != nil {
		return nil, e
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[*VPC]{
		"vpc-id":     func(v *VPC) []string { return ec2One(v.ID) },
		"is-default": func(v *VPC) []string { return ec2Bool(v.IsDefault) },
		"isDefault":  func(v *VPC) []string { return ec2Bool(v.IsDefault) },
		"state":      func(*VPC) []string { return ec2One("available") },
		"cidr":       func(v *VPC) []string { return ec2One(v.CIDR) },
		"cidr-block": func(v *VPC) []string { return ec2One(v.CIDR) },
		"owner-id":   func(v *VPC) []string { return ec2One(v.Account) },
	}, func(v *VPC) Tags { return v.Tags })
	if e != nil {
		return nil, e
	}
	ec2SortBy(items, func(v *VPC) string { return v.ID })
	page, next, e := ec2Paginate(f, items, func(v *VPC) string { return v.ID }, 5, 1000)
	if e != nil {
		return nil, e
	}
	type vpcXML struct {
		VpcID           string      `xml:"vpcId"`
		OwnerID         string      `xml:"ownerId"`
		State           string      `xml:"state"`
		CidrBlock       string      `xml:"cidrBlock"`
		DhcpOptionsID   string      `xml:"dhcpOptionsId"`
		InstanceTenancy string      `xml:"instanceTenancy"`
		IsDefault       bool        `xml:"isDefault"`
		Tags            []ec2TagXML `xml:"tagSet>item"`
	}
	out := struct {
		Vpcs      []vpcXML `xml:"vpcSet>item"`
		NextToken string   `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, v := range page {
		out.Vpcs = append(out.Vpcs, vpcXML{v.ID, v.Account, "available", v.CIDR, "dopt-" + strings.TrimPrefix(v.ID, "vpc-")[:8], "default", v.IsDefault, ec2TagsXML(v.Tags)})
	}
	return out, nil
}

func ec2DescribeSubnets(c *Call) (any, error) {
	f, w := c.Form, c.World
	w.ensureDefaultVPC(c.Account, c.Region)
	ids := ec2Dedupe(formList(f, "SubnetId"))
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	items, e := ec2Select(w.EC2.Subnets, ids, "subnet", "InvalidSubnetID", func(s *Subnet) bool { return s.Account == c.Account && s.Region == c.Region })
	if e != nil {
		return nil, e
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[*Subnet]{
		"subnet-id":            func(s *Subnet) []string { return ec2One(s.ID) },
		"vpc-id":               func(s *Subnet) []string { return ec2One(s.VpcID) },
		"default-for-az":       func(s *Subnet) []string { return ec2Bool(s.IsDefault) },
		"defaultForAz":         func(s *Subnet) []string { return ec2Bool(s.IsDefault) },
		"availability-zone":    func(s *Subnet) []string { return ec2One(s.AZ) },
		"availabilityZone":     func(s *Subnet) []string { return ec2One(s.AZ) },
		"availability-zone-id": func(s *Subnet) []string { return ec2One(ec2AZID(s.AZ)) },
		"state":                func(*Subnet) []string { return ec2One("available") },
		"cidr-block":           func(s *Subnet) []string { return ec2One(s.CIDR) },
		"cidr":                 func(s *Subnet) []string { return ec2One(s.CIDR) },
		"owner-id":             func(s *Subnet) []string { return ec2One(s.Account) },
		"map-public-ip-on-launch": func(s *Subnet) []string {
			return ec2Bool(s.IsDefault)
		},
	}, func(s *Subnet) Tags { return s.Tags })
	if e != nil {
		return nil, e
	}
	ec2SortBy(items, func(s *Subnet) string { return s.ID })
	page, next, e := ec2Paginate(f, items, func(s *Subnet) string { return s.ID }, 5, 1000)
	if e != nil {
		return nil, e
	}
	type subnetXML struct {
		SubnetID                string      `xml:"subnetId"`
		SubnetArn               string      `xml:"subnetArn"`
		State                   string      `xml:"state"`
		OwnerID                 string      `xml:"ownerId"`
		VpcID                   string      `xml:"vpcId"`
		CidrBlock               string      `xml:"cidrBlock"`
		AvailableIPAddressCount int         `xml:"availableIpAddressCount"`
		AvailabilityZone        string      `xml:"availabilityZone"`
		AvailabilityZoneID      string      `xml:"availabilityZoneId"`
		DefaultForAz            bool        `xml:"defaultForAz"`
		MapPublicIPOnLaunch     bool        `xml:"mapPublicIpOnLaunch"`
		Tags                    []ec2TagXML `xml:"tagSet>item"`
	}
	out := struct {
		Subnets   []subnetXML `xml:"subnetSet>item"`
		NextToken string      `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, s := range page {
		out.Subnets = append(out.Subnets, subnetXML{s.ID, fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", s.Region, s.Account, s.ID),
			"available", s.Account, s.VpcID, s.CIDR, 4091 - s.NextIP, s.AZ, ec2AZID(s.AZ), s.IsDefault, s.IsDefault, ec2TagsXML(s.Tags)})
	}
	return out, nil
}

// ---- regions and zones ----

func ec2DescribeRegions(c *Call) (any, error) {
	f, w := c.Form, c.World
	names := formList(f, "RegionName")
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	type regionXML struct {
		RegionName  string `xml:"regionName"`
		Endpoint    string `xml:"regionEndpoint"`
		OptInStatus string `xml:"optInStatus"`
	}
	var items []regionXML
	for _, r := range w.Regions {
		items = append(items, regionXML{r, "ec2." + r + ".amazonaws.com", "opt-in-not-required"})
	}
	if len(names) > 0 {
		var kept []regionXML
		for _, n := range names {
			if !w.HasRegion(n) {
				return nil, errInvalidParameterValue("Invalid region name: %s", n)
			}
			kept = append(kept, regionXML{n, "ec2." + n + ".amazonaws.com", "opt-in-not-required"})
		}
		items = kept
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[regionXML]{
		"region-name":   func(r regionXML) []string { return ec2One(r.RegionName) },
		"endpoint":      func(r regionXML) []string { return ec2One(r.Endpoint) },
		"opt-in-status": func(r regionXML) []string { return ec2One(r.OptInStatus) },
	}, nil)
	if e != nil {
		return nil, e
	}
	return struct {
		Regions []regionXML `xml:"regionInfo>item"`
	}{items}, nil
}

func ec2DescribeAvailabilityZones(c *Call) (any, error) {
	f := c.Form
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	type azXML struct {
		ZoneName           string `xml:"zoneName"`
		ZoneID             string `xml:"zoneId"`
		ZoneState          string `xml:"zoneState"`
		RegionName         string `xml:"regionName"`
		GroupName          string `xml:"groupName"`
		NetworkBorderGroup string `xml:"networkBorderGroup"`
		OptInStatus        string `xml:"optInStatus"`
		ZoneType           string `xml:"zoneType"`
	}
	var items []azXML
	for _, z := range []string{"a", "b", "c"} {
		name := c.Region + z
		items = append(items, azXML{name, ec2AZID(name), "available", c.Region, c.Region, c.Region, "opt-in-not-required", "availability-zone"})
	}
	names, zids := formList(f, "ZoneName"), formList(f, "ZoneId")
	if len(names) > 0 || len(zids) > 0 {
		var kept []azXML
		for _, it := range items {
			if ec2Contains(names, it.ZoneName) || ec2Contains(zids, it.ZoneID) {
				kept = append(kept, it)
			}
		}
		for _, n := range names {
			if !strings.HasPrefix(n, c.Region) || len(n) != len(c.Region)+1 || n[len(n)-1] < 'a' || n[len(n)-1] > 'c' {
				return nil, errInvalidParameterValue("Invalid availability zone: [%s]", n)
			}
		}
		items = kept
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[azXML]{
		"zone-name":   func(a azXML) []string { return ec2One(a.ZoneName) },
		"zone-id":     func(a azXML) []string { return ec2One(a.ZoneID) },
		"state":       func(a azXML) []string { return ec2One(a.ZoneState) },
		"region-name": func(a azXML) []string { return ec2One(a.RegionName) },
		"zone-type":   func(a azXML) []string { return ec2One(a.ZoneType) },
		"group-name":  func(a azXML) []string { return ec2One(a.GroupName) },
	}, nil)
	if e != nil {
		return nil, e
	}
	return struct {
		Zones []azXML `xml:"availabilityZoneInfo>item"`
	}{items}, nil
}

func ec2DescribeAccountAttributes(c *Call) (any, error) {
	w := c.World
	w.ensureDefaultVPC(c.Account, c.Region)
	type valueItem struct {
		Value string `xml:"attributeValue"`
	}
	type attrXML struct {
		Name   string      `xml:"attributeName"`
		Values []valueItem `xml:"attributeValueSet>item"`
	}
	all := []attrXML{
		{"supported-platforms", []valueItem{{"VPC"}}},
		{"default-vpc", []valueItem{{w.ec2DefaultVPC(c.Account, c.Region).ID}}},
		{"max-instances", []valueItem{{"100"}}},
		{"vpc-max-security-groups-per-interface", []valueItem{{"5"}}},
		{"max-elastic-ips", []valueItem{{"5"}}},
		{"vpc-max-elastic-ips", []valueItem{{"5"}}},
	}
	names := formList(c.Form, "AttributeName")
	if len(names) == 0 {
		return struct {
			Attrs []attrXML `xml:"accountAttributeSet>item"`
		}{all}, nil
	}
	var out []attrXML
	for _, n := range names {
		found := false
		for _, a := range all {
			if a.Name == n {
				out, found = append(out, a), true
			}
		}
		if !found {
			return nil, errInvalidParameterValue("Value (%s) for parameter attributeName is invalid.", n)
		}
	}
	return struct {
		Attrs []attrXML `xml:"accountAttributeSet>item"`
	}{out}, nil
}
