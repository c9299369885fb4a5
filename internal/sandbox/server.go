// Package sandbox is amibake's in-tree AWS: one loopback HTTP server that
// speaks the real wire protocols of EC2 (Query/XML), Auto Scaling and STS
// (awsquery/XML), SSM (JSON 1.1), CloudWatch (Smithy RPC v2 CBOR) and S3
// (REST) with state machines, a controllable clock and fault injection. The real aws-sdk-go-v2 clients and the real
// packer amazon plugin talk to it through endpoint overrides.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Call is one API request, decoded far enough to dispatch.
type Call struct {
	Service string
	Action  string
	// Attempt is the SDK's attempt number (the amz-sdk-request header:
	// "attempt=2; max=8"), 0 when the client does not say.
	Attempt   int
	Region    string
	Account   string
	AccessKey string
	RequestID string
	Now       time.Time
	// Form holds the Query-protocol parameters (EC2, Auto Scaling, STS).
	Form url.Values
	// Body is the raw JSON body (SSM).
	Body []byte

	World  *World
	server *Server
	fault  *FaultRule
}

// Decode unmarshals a JSON-protocol body into v, as a SerializationException
// when malformed.
func (c *Call) Decode(v any) error {
	if len(c.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.Body, v); err != nil {
		return &APIError{Status: 400, Code: "SerializationException", Message: err.Error(), Sender: true}
	}
	return nil
}

// InvisibleFor is how long a resource created by this call stays invisible
// to reads (eventual consistency fault), zero normally.
func (c *Call) InvisibleFor() time.Duration {
	if c.fault == nil {
		return 0
	}
	return c.fault.InvisibleFor.Duration
}

// Handler serves one action. It runs with the world locked; a returned
// *APIError is written in the service's error format.
type Handler func(c *Call) (any, error)

// Ticker advances one family of state machines to now; it runs under the
// world lock before every request and every admin read.
type Ticker func(w *World, now time.Time)

// Options configure a Server.
type Options struct {
	Seed int64
	// Start is the virtual time at start; zero means the wall clock.
	Start time.Time
	// Mode and Scale pick how virtual time moves (see Clock).
	Mode  ClockMode
	Scale float64
	// Timing overrides the transition delays; nil means Zero for instant
	// mode and Realistic otherwise.
	Timing *Timing
	// StateFile, when set, is loaded at start (if it exists) and written
	// atomically after mutating calls — at most once per SaveEvery, and
	// always on Close.
	StateFile string
	// SaveEvery debounces the state file: a mutating call schedules a
	// write SaveEvery later (unless one is pending), so a burst of calls
	// costs one write. Zero means DefaultSaveEvery; negative writes after
	// every mutating call.
	SaveEvery time.Duration
}

// DefaultSaveEvery is how often at most a busy sandbox rewrites its state
// file: a 50,000-AMI world is ~100 MB of JSON, which took longer to write
// than the call that changed it.
const DefaultSaveEvery = 500 * time.Millisecond

// Server is the sandbox. Safe for concurrent use.
type Server struct {
	mu       sync.Mutex
	world    *World
	clock    *Clock
	opts     Options
	handlers map[string]map[string]Handler // service → action → handler
	tickers  []Ticker
	admin    *http.ServeMux

	faultMu  sync.Mutex
	faults   []FaultRule
	faultRNG *rand.Rand

	logMu sync.Mutex
	log   []LogEntry

	httpServer *http.Server
	listener   net.Listener
	url        string

	// Debounced persistence (under mu): a write is pending while saveTimer
	// is set; saveErr is the last failed background write, reported by
	// Close.
	saveTimer    *time.Timer
	saveErr      error
	closed       bool
	lastSaveTook time.Duration
}

// New builds a server with a fresh world (or the one in opts.StateFile).
func New(opts Options) (*Server, error) {
	start := opts.Start
	if start.IsZero() {
		start = time.Now().UTC().Truncate(time.Second)
	}
	if opts.Mode == "" {
		opts.Mode = ClockInstant
	}
	scale := 1.0
	switch opts.Mode {
	case ClockInstant:
	case ClockScaled:
		scale = opts.Scale
		if scale <= 0 {
			scale = 60
		}
	case ClockManual:
		scale = 0
	default:
		return nil, fmt.Errorf("sandbox: unknown clock mode %q", opts.Mode)
	}
	s := &Server{
		opts:     opts,
		handlers: map[string]map[string]Handler{},
		admin:    http.NewServeMux(),
		faultRNG: rand.New(rand.NewPCG(uint64(opts.Seed)+1, 0x5eed)),
	}
	var w *World
	if opts.StateFile != "" {
		loaded, err := loadWorld(opts.StateFile)
		if err != nil {
			return nil, err
		}
		w = loaded
	}
	if w == nil {
		w = NewWorld(opts.Seed, start)
		switch {
		case opts.Timing != nil:
			w.Timing = *opts.Timing
		case opts.Mode == ClockInstant:
			w.Timing = ZeroTiming()
		default:
			w.Timing = RealisticTiming()
		}
	} else {
		start = w.savedNow
	}
	s.world = w
	s.clock = NewClock(start, scale)
	s.registerAdmin()
	s.registerEC2()
	s.registerAutoScaling()
	s.registerSSM()
	s.registerSTS()
	s.registerSSMInventory()
	s.registerCloudWatch()
	return s, nil
}

// handle registers an action handler.
func (s *Server) handle(service, action string, h Handler) {
	if s.handlers[service] == nil {
		s.handlers[service] = map[string]Handler{}
	}
	s.handlers[service][action] = h
}

// addTicker registers a state machine advanced before every request.
func (s *Server) addTicker(t Ticker) { s.tickers = append(s.tickers, t) }

// Clock returns the virtual clock.
func (s *Server) Clock() *Clock { return s.clock }

// Do runs fn with the world locked and advanced to now: the in-process way
// for tests to inspect or arrange state.
func (s *Server) Do(fn func(w *World)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tickLocked()
	fn(s.world)
	s.world.EC2.touch() // fn may have changed anything
}

func (s *Server) tickLocked() time.Time {
	now := s.clock.Now()
	for _, t := range s.tickers {
		t(s.world, now)
	}
	return now
}

// Actions lists the supported actions per service (docs and IAM derivation).
func (s *Server) Actions() map[string][]string {
	out := map[string][]string{}
	for svc, m := range s.handlers {
		for a := range m {
			out[svc] = append(out[svc], a)
		}
	}
	return out
}

// Listen binds addr (e.g. "127.0.0.1:0") and serves in the background.
func (s *Server) Listen(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: listen %s: %w", addr, err)
	}
	s.listener = l
	s.url = "http://" + l.Addr().String()
	s.httpServer = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.httpServer.Serve(l) //nolint:errcheck // returns on Close
	return s.url, nil
}

// URL is the endpoint after Listen.
func (s *Server) URL() string { return s.url }

// Close stops serving and persists state when a state file is set.
func (s *Server) Close() error {
	var err error
	if s.httpServer != nil {
		err = s.httpServer.Close()
	}
	if s.opts.StateFile != "" {
		s.mu.Lock()
		s.closed = true
		if s.saveTimer != nil {
			s.saveTimer.Stop()
			s.saveTimer = nil
		}
		if e := s.writeStateLocked(); e != nil && err == nil {
			err = e
		}
		if s.saveErr != nil && err == nil {
			err = s.saveErr
		}
		s.mu.Unlock()
	}
	return err
}

var credentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request`)

// ServeHTTP dispatches on the SigV4 credential scope (service, region),
// X-Amz-Target (JSON protocols) and the form's Action (Query protocols).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.admin.ServeHTTP(w, r)
		return
	}
	started := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	c := &Call{RequestID: requestID(), Attempt: sdkAttempt(r.Header.Get("Amz-Sdk-Request"))}
	target := r.Header.Get("X-Amz-Target")
	auth := r.Header.Get("Authorization")
	m := credentialRE.FindStringSubmatch(auth)
	if m == nil {
		m = credentialRE.FindStringSubmatch("Credential=" + r.URL.Query().Get("X-Amz-Credential"))
	}
	jsonProto := target != ""
	if !jsonProto {
		form, perr := url.ParseQuery(string(body))
		if perr != nil {
			form = url.Values{}
		}
		for k, v := range r.URL.Query() {
			if _, ok := form[k]; !ok {
				form[k] = v
			}
		}
		c.Form = form
		c.Action = form.Get("Action")
	} else {
		c.Body = body
		if i := strings.LastIndexByte(target, '.'); i >= 0 {
			c.Action = target[i+1:]
		}
	}
	if m == nil {
		c.Service = guessService(target, c.Form)
		e := &APIError{Status: http.StatusForbidden, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token", Sender: true}
		if jsonProto {
			e.Code = "MissingAuthenticationTokenException"
		}
		s.writeError(w, c, e, jsonProto)
		s.record(c, e, started, false)
		return
	}
	c.AccessKey, c.Region, c.Service = m[1], m[3], m[4]
	c.Account = accountFor(c.AccessKey)
	if c.Service == svcS3 {
		s.serveS3(w, r, c, body, started)
		return
	}
	if c.Service == svcCloudWatch {
		s.serveCloudWatch(w, r, c, body, started)
		return
	}
	h := s.handlers[c.Service][c.Action]
	if h == nil {
		code := "InvalidAction"
		if jsonProto {
			code = "UnknownOperationException"
		}
		e := &APIError{Status: 400, Code: code, Message: fmt.Sprintf("The action %s is not valid for this web service (%s).", c.Action, c.Service), Sender: true}
		s.writeError(w, c, e, jsonProto)
		s.record(c, e, started, false)
		return
	}

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
			s.writeError(w, c, e, jsonProto)
			s.record(c, e, started, true)
			return
		}
	}

	s.mu.Lock()
	c.Now = s.tickLocked()
	c.World = s.world
	c.server = s
	if !s.world.HasRegion(c.Region) {
		s.mu.Unlock()
		e := &APIError{Status: 401, Code: "AuthFailure", Message: fmt.Sprintf("region %q is not enabled for this account", c.Region), Sender: true}
		s.writeError(w, c, e, jsonProto)
		s.record(c, e, started, false)
		return
	}
	result, herr := safeCall(h, c)
	if mutating(c.Action) {
		s.world.EC2.touch() // derived EC2 lookups (ec2_index.go) are out of date
	}
	if herr == nil && s.opts.StateFile != "" && mutating(c.Action) {
		herr = s.saveLocked()
	}
	s.mu.Unlock()

	if herr != nil {
		var e *APIError
		if !errors.As(herr, &e) {
			e = &APIError{Status: 500, Code: "InternalError", Message: herr.Error()}
		}
		s.writeError(w, c, e, jsonProto)
		s.record(c, e, started, false)
		return
	}
	switch {
	case jsonProto:
		writeJSON(w, c.RequestID, result)
	case c.Service == svcEC2:
		writeEC2(w, c.Action, c.RequestID, result)
	default:
		writeQuery(w, c.Service, c.Action, c.RequestID, result)
	}
	s.record(c, nil, started, false)
}

// safeCall turns a handler panic into a 500 so one bad request never takes
// the sandbox (and every test sharing it) down.
func safeCall(h Handler, c *Call) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &APIError{Status: 500, Code: "InternalError", Message: fmt.Sprintf("sandbox panic in %s:%s: %v", c.Service, c.Action, r)}
		}
	}()
	return h(c)
}

func (s *Server) writeError(w http.ResponseWriter, c *Call, e *APIError, jsonProto bool) {
	switch {
	case jsonProto:
		writeJSONError(w, c.RequestID, e)
	case c.Service == svcEC2:
		writeEC2Error(w, c.RequestID, e)
	default:
		writeQueryError(w, c.Service, c.RequestID, e)
	}
}

func guessService(target string, form url.Values) string {
	switch {
	case strings.HasPrefix(target, "AmazonSSM."):
		return svcSSM
	case form.Get("Version") == "2016-11-15":
		return svcEC2
	case form.Get("Version") == "2011-01-01":
		return svcAutoScaling
	}
	return svcSTS
}

var sandboxKeyRE = regexp.MustCompile(`^sandbox-(\d{12})$`)

// accountFor maps an access key id to its account.
func accountFor(accessKey string) string {
	if m := sandboxKeyRE.FindStringSubmatch(accessKey); m != nil {
		return m[1]
	}
	return DefaultAccount
}

func mutating(action string) bool {
	for _, p := range []string{"Describe", "Get", "List"} {
		if strings.HasPrefix(action, p) {
			return false
		}
	}
	return true
}

func requestID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// persistence

type savedWorld struct {
	Now   time.Time `json:"now"`
	World *World    `json:"world"`
}

// saveLocked persists the world after a mutating call: at once when
// SaveEvery is negative, otherwise by scheduling one write SaveEvery from
// now unless one is already pending (Close writes whatever is left). A
// failed background write is kept and returned by the next saveLocked or
// by Close.
func (s *Server) saveLocked() error {
	every := s.opts.SaveEvery
	if every == 0 {
		every = DefaultSaveEvery
	}
	if every < 0 || s.closed {
		return s.writeStateLocked()
	}
	if err := s.saveErr; err != nil {
		s.saveErr = nil
		return err
	}
	if s.saveTimer == nil {
		// A big world takes a while to encode, under the lock: wait at
		// least 4× the last write, so that writing never takes more than
		// a fifth of the sandbox's time.
		s.saveTimer = time.AfterFunc(max(every, 4*s.lastSaveTook), func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.saveTimer == nil || s.closed {
				return // Close wrote it
			}
			s.saveTimer = nil
			if err := s.writeStateLocked(); err != nil {
				s.saveErr = err
			}
		})
	}
	return nil
}

// writeStateLocked writes the state file now (atomically).
func (s *Server) writeStateLocked() error {
	started := time.Now()
	defer func() { s.lastSaveTook = time.Since(started) }()
	data, err := json.Marshal(savedWorld{Now: s.clock.Now(), World: s.world})
	if err != nil {
		return fmt.Errorf("sandbox: encode state: %w", err)
	}
	return writeFileAtomic(s.opts.StateFile, data)
}

func loadWorld(path string) (*World, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox: read state: %w", err)
	}
	var sw savedWorld
	if err := json.Unmarshal(data, &sw); err != nil {
		return nil, fmt.Errorf("sandbox: state file %s: %w", path, err)
	}
	if sw.World == nil {
		return nil, fmt.Errorf("sandbox: state file %s holds no world", path)
	}
	sw.World.initRNG()
	sw.World.savedNow = sw.Now
	return sw.World, nil
}

// writeFileAtomic writes via a temp file and rename so a crash never leaves
// a torn state file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("sandbox: write state: %w", err)
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sandbox: write state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sandbox: write state: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sandbox: write state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sandbox: write state: %w", err)
	}
	return nil
}

// sdkAttempt reads "attempt=N; max=M"; 0 when absent or malformed.
func sdkAttempt(h string) int {
	for _, part := range strings.Split(h, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "attempt="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}
