package sandbox

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// S3 is served path-style only (http://endpoint/<bucket>/<key>), as the
// REST-XML protocol: the operation is read from the method, the path and the
// query, not from an Action parameter. Buckets live per account and region
// (the sandbox keeps no global bucket namespace): the same name in two
// accounts is two buckets.

const (
	svcS3       = "s3"
	s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
	// s3MaxKeys is S3's page size limit for ListObjectsV2.
	s3MaxKeys = 1000
)

// S3State is every bucket, keyed "account/region/bucket".
type S3State struct {
	Buckets map[string]*Bucket `json:"buckets"`
}

// Bucket is one S3 bucket.
type Bucket struct {
	Name    string               `json:"name"`
	Account string               `json:"account"`
	Region  string               `json:"region"`
	Created time.Time            `json:"created"`
	Objects map[string]*S3Object `json:"objects"`
}

// S3Object is one stored object: its bytes and what S3 reports about them.
type S3Object struct {
	Key          string            `json:"key"`
	Body         []byte            `json:"body"`
	ETag         string            `json:"etag"` // hex MD5, unquoted
	ContentType  string            `json:"content_type,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"` // x-amz-meta-* without the prefix, lowercase
	LastModified time.Time         `json:"last_modified"`
	// Checksums are the x-amz-checksum-* headers sent with the PUT,
	// returned on GET/HEAD when the client asks (x-amz-checksum-mode).
	Checksums map[string]string `json:"checksums,omitempty"`
}

// s3 returns the S3 state, creating it on first use (worlds saved before S3
// existed have none).
func (w *World) s3() *S3State {
	if w.S3 == nil {
		w.S3 = &S3State{}
	}
	if w.S3.Buckets == nil {
		w.S3.Buckets = map[string]*Bucket{}
	}
	return w.S3
}

// Bucket returns a bucket of account in region, nil when it does not exist.
func (w *World) Bucket(account, region, name string) *Bucket {
	return w.s3().Buckets[account+"/"+region+"/"+name]
}

// CreateBucket makes a bucket (tests and seeding); it reports whether the
// bucket is new.
func (w *World) CreateBucket(account, region, name string, now time.Time) (*Bucket, bool) {
	if b := w.Bucket(account, region, name); b != nil {
		return b, false
	}
	b := &Bucket{Name: name, Account: account, Region: region, Created: now, Objects: map[string]*S3Object{}}
	w.s3().Buckets[account+"/"+region+"/"+name] = b
	return b, true
}

// s3Request is one decoded S3 REST call.
type s3Request struct {
	method string
	bucket string
	key    string
	query  map[string][]string
	header http.Header
	body   []byte
	// declared is the request's Content-Length (-1 when unknown).
	declared int64
}

// s3Op names the operation of a REST request, as the request log and the
// fault rules see it.
func s3Op(r *s3Request) string {
	switch {
	case r.bucket == "":
		if r.method == http.MethodGet {
			return "ListBuckets"
		}
	case r.key == "":
		switch r.method {
		case http.MethodPut:
			return "CreateBucket"
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodGet:
			if formGet(r.query, "list-type") == "2" {
				return "ListObjectsV2"
			}
			if formHas(r.query, "location") {
				return "GetBucketLocation"
			}
			return "ListObjects"
		case http.MethodDelete:
			return "DeleteBucket"
		}
	default:
		switch r.method {
		case http.MethodPut:
			if r.header.Get("X-Amz-Copy-Source") != "" {
				return "CopyObject"
			}
			return "PutObject"
		case http.MethodGet:
			return "GetObject"
		case http.MethodHead:
			return "HeadObject"
		case http.MethodDelete:
			return "DeleteObject"
		}
	}
	return r.method + "Unknown"
}

func s3Mutating(op string) bool {
	switch op {
	case "CreateBucket", "PutObject", "DeleteObject", "DeleteBucket":
		return true
	}
	return false
}

// serveS3 answers one S3 REST request; c carries the SigV4 scope already.
func (s *Server) serveS3(w http.ResponseWriter, r *http.Request, c *Call, body []byte, started time.Time) {
	req := &s3Request{method: r.Method, query: r.URL.Query(), header: r.Header, body: body, declared: r.ContentLength}
	p := strings.TrimPrefix(r.URL.Path, "/")
	req.bucket, req.key, _ = strings.Cut(p, "/")
	c.Action = s3Op(req)
	c.Form = req.query

	if rule := s.matchFault(c); rule != nil {
		c.fault = rule
		if rule.Latency.Duration > 0 {
			select {
			case <-time.After(rule.Latency.Duration):
			case <-r.Context().Done():
				return
			}
		}
		if e := s.rollFault(c, rule); e != nil {
			if e.Code == "Throttling" {
				e = &APIError{Status: http.StatusServiceUnavailable, Code: "SlowDown", Message: "Please reduce your request rate."}
			}
			writeS3Error(w, c, req, e)
			s.record(c, e, started, true)
			return
		}
	}

	s.mu.Lock()
	c.Now = s.tickLocked()
	c.World = s.world
	c.server = s
	var resp *s3Response
	var herr error
	if !s.world.HasRegion(c.Region) {
		herr = &APIError{Status: http.StatusBadRequest, Code: "AuthorizationHeaderMalformed", Message: fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong", c.Region)}
	} else {
		resp, herr = safeS3(c, req)
	}
	if herr == nil && s.opts.StateFile != "" && s3Mutating(c.Action) {
		herr = s.saveLocked()
	}
	s.mu.Unlock()

	if herr != nil {
		var e *APIError
		if !errors.As(herr, &e) {
			e = &APIError{Status: 500, Code: "InternalError", Message: herr.Error()}
		}
		writeS3Error(w, c, req, e)
		s.record(c, e, started, false)
		return
	}
	resp.write(w, c)
	s.record(c, nil, started, false)
}

func safeS3(c *Call, req *s3Request) (resp *s3Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &APIError{Status: 500, Code: "InternalError", Message: fmt.Sprintf("sandbox panic in s3:%s: %v", c.Action, r)}
		}
	}()
	return s3Handle(c, req)
}

// s3Response is a REST response: status, headers and an optional body
// (raw bytes, or a value encoded as XML).
type s3Response struct {
	status int
	header http.Header
	raw    []byte
	xml    any
}

func (r *s3Response) write(w http.ResponseWriter, c *Call) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	h.Set("X-Amz-Request-Id", c.RequestID)
	h.Set("X-Amz-Id-2", base64.StdEncoding.EncodeToString([]byte(c.RequestID)))
	body := r.raw
	if r.xml != nil {
		b, err := xml.Marshal(r.xml)
		if err != nil {
			writeS3Error(w, c, nil, &APIError{Status: 500, Code: "InternalError", Message: err.Error()})
			return
		}
		body = append([]byte(xml.Header), b...)
		h.Set("Content-Type", "application/xml")
	}
	if h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(body)
}

// s3ErrorBody is S3's error document.
type s3ErrorBody struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	RequestID  string   `xml:"RequestId"`
	HostID     string   `xml:"HostId"`
}

// writeS3Error writes S3's XML error shape. HEAD responses carry no body,
// as on S3: the SDK reads the status (404 → NotFound).
func writeS3Error(w http.ResponseWriter, c *Call, req *s3Request, e *APIError) {
	h := w.Header()
	h.Set("X-Amz-Request-Id", c.RequestID)
	h.Set("X-Amz-Id-2", base64.StdEncoding.EncodeToString([]byte(c.RequestID)))
	if req != nil && req.method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	doc := s3ErrorBody{Code: e.Code, Message: e.Message, RequestID: c.RequestID, HostID: base64.StdEncoding.EncodeToString([]byte(c.RequestID))}
	if req != nil {
		switch e.Code {
		case "NoSuchBucket", "BucketAlreadyOwnedByYou", "BucketNotEmpty":
			doc.BucketName = req.bucket
		case "NoSuchKey":
			doc.Key = req.key
		}
	}
	b, _ := xml.Marshal(doc)
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	w.Write(append([]byte(xml.Header), b...))
}

func s3Err(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...), Sender: status < 500}
}

func errNoSuchBucket() *APIError {
	return s3Err(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
}

func errNoSuchKey() *APIError {
	return s3Err(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
}

func s3Handle(c *Call, req *s3Request) (*s3Response, error) {
	w := c.World
	if c.Action == "ListBuckets" {
		return s3ListBuckets(c)
	}
	if !validBucketName(req.bucket) {
		return nil, s3Err(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	}
	if c.Action == "CreateBucket" {
		return s3CreateBucket(c, req)
	}
	b := w.Bucket(c.Account, c.Region, req.bucket)
	if b == nil {
		return nil, errNoSuchBucket()
	}
	switch c.Action {
	case "HeadBucket":
		return &s3Response{header: http.Header{"X-Amz-Bucket-Region": {b.Region}}}, nil
	case "GetBucketLocation":
		loc := b.Region
		if loc == "us-east-1" {
			loc = ""
		}
		return &s3Response{xml: struct {
			XMLName xml.Name `xml:"LocationConstraint"`
			Xmlns   string   `xml:"xmlns,attr"`
			Value   string   `xml:",chardata"`
		}{Xmlns: s3Namespace, Value: loc}}, nil
	case "DeleteBucket":
		if len(b.Objects) > 0 {
			return nil, s3Err(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty")
		}
		delete(w.s3().Buckets, c.Account+"/"+c.Region+"/"+b.Name)
		return &s3Response{status: http.StatusNoContent}, nil
	case "ListObjectsV2":
		return s3ListObjectsV2(c, req, b)
	case "PutObject":
		return s3PutObject(c, req, b)
	case "GetObject", "HeadObject":
		o := b.Objects[req.key]
		if o == nil {
			return nil, errNoSuchKey()
		}
		resp := &s3Response{header: objectHeaders(o, req)}
		if c.Action == "GetObject" {
			resp.raw = o.Body
		}
		return resp, nil
	case "DeleteObject":
		delete(b.Objects, req.key)
		return &s3Response{status: http.StatusNoContent}, nil
	}
	return nil, s3Err(http.StatusNotImplemented, "NotImplemented", "the sandbox does not implement %s %s on S3", req.method, c.Action)
}

// validBucketName applies S3's naming rules (3-63 lowercase letters,
// digits, dots and hyphens, starting and ending with a letter or digit).
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i, r := range name {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || ((r == '-' || r == '.') && i > 0 && i < len(name)-1)
		if !ok {
			return false
		}
	}
	return true
}

func s3CreateBucket(c *Call, req *s3Request) (*s3Response, error) {
	if len(req.body) > 0 {
		var conf struct {
			LocationConstraint string `xml:"LocationConstraint"`
		}
		if err := xml.Unmarshal(req.body, &conf); err != nil {
			return nil, s3Err(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
		}
		if conf.LocationConstraint != "" && conf.LocationConstraint != c.Region {
			return nil, s3Err(http.StatusBadRequest, "IllegalLocationConstraintException",
				"The %s location constraint is incompatible for the region specific endpoint this request was sent to.", conf.LocationConstraint)
		}
	}
	if _, created := c.World.CreateBucket(c.Account, c.Region, req.bucket, c.Now); !created {
		return nil, s3Err(http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
	}
	return &s3Response{header: http.Header{"Location": {"/" + req.bucket}}}, nil
}

func s3ListBuckets(c *Call) (*s3Response, error) {
	type bucketXML struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
		BucketRegion string `xml:"BucketRegion"`
	}
	var list []bucketXML
	for _, k := range sortedKeys(c.World.s3().Buckets) {
		b := c.World.s3().Buckets[k]
		if b.Account == c.Account {
			list = append(list, bucketXML{Name: b.Name, CreationDate: b.Created.UTC().Format(time.RFC3339), BucketRegion: b.Region})
		}
	}
	return &s3Response{xml: struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Xmlns   string   `xml:"xmlns,attr"`
		Owner   struct{ ID string }
		Buckets []bucketXML `xml:"Buckets>Bucket"`
	}{Xmlns: s3Namespace, Owner: struct{ ID string }{ID: c.Account}, Buckets: list}}, nil
}

func s3PutObject(c *Call, req *s3Request, b *Bucket) (*s3Response, error) {
	if req.header.Get("X-Amz-Copy-Source") != "" {
		return nil, s3Err(http.StatusNotImplemented, "NotImplemented", "the sandbox does not implement CopyObject")
	}
	if req.key == "" || len(req.key) > 1024 {
		return nil, s3Err(http.StatusBadRequest, "KeyTooLongError", "Your key is too long")
	}
	if req.declared > int64(len(req.body)) {
		// ServeHTTP reads at most 16 MiB of any request.
		return nil, s3Err(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the sandbox's maximum object size (%d bytes).", len(req.body))
	}
	body, err := decodeS3Body(req)
	if err != nil {
		return nil, err
	}
	sum := md5.Sum(body)
	etag := hex.EncodeToString(sum[:])
	if want := req.header.Get("Content-Md5"); want != "" {
		if want != base64.StdEncoding.EncodeToString(sum[:]) {
			return nil, s3Err(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
		}
	}
	o := &S3Object{
		Key: req.key, Body: body, ETag: etag, ContentType: req.header.Get("Content-Type"),
		LastModified: c.Now.UTC().Truncate(time.Second),
	}
	for k, v := range req.header {
		lk := strings.ToLower(k)
		switch {
		case strings.HasPrefix(lk, "x-amz-meta-"):
			if o.Metadata == nil {
				o.Metadata = map[string]string{}
			}
			o.Metadata[strings.TrimPrefix(lk, "x-amz-meta-")] = strings.Join(v, ",")
		case strings.HasPrefix(lk, "x-amz-checksum-") && lk != "x-amz-checksum-algorithm":
			if o.Checksums == nil {
				o.Checksums = map[string]string{}
			}
			o.Checksums[lk] = v[0]
		}
	}
	if o.ContentType == "" {
		o.ContentType = "binary/octet-stream"
	}
	b.Objects[req.key] = o
	h := http.Header{"Etag": {`"` + etag + `"`}}
	for k, v := range o.Checksums {
		h.Set(k, v)
	}
	return &s3Response{header: h}, nil
}

// decodeS3Body returns the object bytes, undoing aws-chunked framing
// (STREAMING-* payloads: "<hex-size>[;chunk-signature=…]\r\n<data>\r\n",
// ending with a zero-size chunk and optional trailers).
func decodeS3Body(req *s3Request) ([]byte, error) {
	sha := req.header.Get("X-Amz-Content-Sha256")
	chunked := strings.HasPrefix(sha, "STREAMING-") || strings.Contains(req.header.Get("Content-Encoding"), "aws-chunked")
	if !chunked {
		return req.body, nil
	}
	var out []byte
	rest := req.body
	for {
		line, after, ok := strings.Cut(string(rest), "\r\n")
		if !ok {
			return nil, s3Err(http.StatusBadRequest, "IncompleteBody", "malformed aws-chunked body")
		}
		sizeHex, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
		if err != nil || n < 0 || int(n) > len(after) {
			return nil, s3Err(http.StatusBadRequest, "IncompleteBody", "malformed aws-chunked body")
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, after[:n]...)
		rest = []byte(strings.TrimPrefix(after[n:], "\r\n"))
	}
}

func objectHeaders(o *S3Object, req *s3Request) http.Header {
	h := http.Header{}
	h.Set("Etag", `"`+o.ETag+`"`)
	h.Set("Content-Length", strconv.Itoa(len(o.Body)))
	h.Set("Content-Type", o.ContentType)
	h.Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	for k, v := range o.Metadata {
		h.Set("X-Amz-Meta-"+k, v)
	}
	if strings.EqualFold(req.header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		for k, v := range o.Checksums {
			h.Set(k, v)
		}
	}
	return h
}

type s3Contents struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int    `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type s3CommonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type s3ListV2Result struct {
	XMLName               xml.Name         `xml:"ListBucketResult"`
	Xmlns                 string           `xml:"xmlns,attr"`
	Name                  string           `xml:"Name"`
	Prefix                string           `xml:"Prefix"`
	Delimiter             string           `xml:"Delimiter,omitempty"`
	MaxKeys               int              `xml:"MaxKeys"`
	KeyCount              int              `xml:"KeyCount"`
	IsTruncated           bool             `xml:"IsTruncated"`
	ContinuationToken     string           `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string           `xml:"NextContinuationToken,omitempty"`
	StartAfter            string           `xml:"StartAfter,omitempty"`
	Contents              []s3Contents     `xml:"Contents"`
	CommonPrefixes        []s3CommonPrefix `xml:"CommonPrefixes"`
}

// s3ListObjectsV2 lists keys in UTF-8 binary order. With a delimiter, keys
// sharing the prefix up to the delimiter roll up into one common prefix,
// which counts as one entry against MaxKeys. The continuation token is
// opaque (base64 of the last key or prefix returned).
func s3ListObjectsV2(c *Call, req *s3Request, b *Bucket) (*s3Response, error) {
	q := req.query
	prefix, delim := formGet(q, "prefix"), formGet(q, "delimiter")
	maxKeys := s3MaxKeys
	if formHas(q, "max-keys") {
		n, err := strconv.Atoi(formGet(q, "max-keys"))
		if err != nil || n < 0 {
			return nil, s3Err(http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range")
		}
		maxKeys = min(n, s3MaxKeys)
	}
	after := formGet(q, "start-after")
	token := formGet(q, "continuation-token")
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || !strings.HasPrefix(string(raw), "v2:") {
			return nil, s3Err(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
		}
		after = strings.TrimPrefix(string(raw), "v2:")
	}
	keys := make([]string, 0, len(b.Objects))
	for k := range b.Objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := s3ListV2Result{
		Xmlns: s3Namespace, Name: b.Name, Prefix: prefix, Delimiter: delim, MaxKeys: maxKeys,
		ContinuationToken: token, StartAfter: formGet(q, "start-after"),
	}
	last := ""
	for _, k := range keys {
		if after != "" && k <= after {
			continue
		}
		entry, isPrefix := k, false
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				entry, isPrefix = k[:len(prefix)+i+len(delim)], true
			}
		}
		if isPrefix && (entry == last || (after != "" && strings.HasPrefix(after, entry))) {
			continue // rolled up already (on this page or an earlier one)
		}
		if res.KeyCount == maxKeys {
			res.IsTruncated = true
			break
		}
		if isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, s3CommonPrefix{Prefix: entry})
		} else {
			o := b.Objects[k]
			res.Contents = append(res.Contents, s3Contents{
				Key: k, LastModified: o.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"),
				ETag: `"` + o.ETag + `"`, Size: len(o.Body), StorageClass: "STANDARD",
			})
		}
		res.KeyCount++
		last = entry
	}
	if res.IsTruncated {
		// Continue after the last entry; for a common prefix, after every
		// key it rolled up.
		next := last
		if delim != "" && strings.HasSuffix(last, delim) && b.Objects[last] == nil {
			next = last + "\U0010FFFF"
		}
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte("v2:" + next))
	}
	return &s3Response{xml: res}, nil
}
