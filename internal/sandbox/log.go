package sandbox

import (
	"sort"
	"time"
)

// LogEntry is one API call as the sandbox saw it. Benchmarks count calls
// from it and the IAM policy generator derives actions from it.
type LogEntry struct {
	Seq      int       `json:"seq"`
	Time     time.Time `json:"time"`
	Service  string    `json:"service"`
	Action   string    `json:"action"`
	Region   string    `json:"region,omitempty"`
	Account  string    `json:"account,omitempty"`
	Status   int       `json:"status"`
	Error    string    `json:"error,omitempty"`
	Injected bool      `json:"injected,omitempty"` // failed by a fault rule
	// Attempt is the SDK's attempt number; above 1 the call is a retry.
	Attempt int   `json:"attempt,omitempty"`
	Micros  int64 `json:"micros"`
}

const maxLogEntries = 2_000_000

func (s *Server) record(c *Call, e *APIError, started time.Time, injected bool) {
	entry := LogEntry{
		Time: started.UTC(), Service: c.Service, Action: c.Action, Region: c.Region, Account: c.Account,
		Status: 200, Injected: injected, Micros: time.Since(started).Microseconds(), Attempt: c.Attempt,
	}
	if e != nil {
		entry.Status, entry.Error = e.Status, e.Code
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	entry.Seq = len(s.log) + 1
	if len(s.log) < maxLogEntries {
		s.log = append(s.log, entry)
	}
}

// Log returns a copy of the request log.
func (s *Server) Log() []LogEntry {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]LogEntry(nil), s.log...)
}

// ResetLog clears the request log.
func (s *Server) ResetLog() {
	s.logMu.Lock()
	s.log = nil
	s.logMu.Unlock()
}

// CallCounts counts logged calls by "service:Action".
func (s *Server) CallCounts() map[string]int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	out := map[string]int{}
	for _, e := range s.log {
		out[e.Service+":"+e.Action]++
	}
	return out
}

// CountCalls counts logged calls of one action ("" matches any).
func (s *Server) CountCalls(service, action string) int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	n := 0
	for _, e := range s.log {
		if (service == "" || e.Service == service) && (action == "" || e.Action == action) {
			n++
		}
	}
	return n
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FirstAttempt reports whether the entry is a call the client code made,
// not one of the SDK's retries of it.
func (e LogEntry) FirstAttempt() bool { return e.Attempt <= 1 }

// FirstAttemptCounts counts log entries by "service:Action", leaving out
// the SDK's retries: CountFirstAttempts for every action at once, for a log
// read over the admin API (GET /_sandbox/log) as well.
func FirstAttemptCounts(log []LogEntry) map[string]int {
	out := map[string]int{}
	for _, e := range log {
		if e.FirstAttempt() {
			out[e.Service+":"+e.Action]++
		}
	}
	return out
}

// FirstAttemptCounts counts logged calls by "service:Action" without the
// SDK's retries.
func (s *Server) FirstAttemptCounts() map[string]int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return FirstAttemptCounts(s.log)
}

// CountFirstAttempts counts logged calls of one action ("" matches any),
// leaving out the SDK's retries: the number of calls the client code made.
// Retries happen on faults and, on loopback, on the SDK's closed-connection
// race (docs/sandbox.md), so call budgets are checked against this.
func (s *Server) CountFirstAttempts(service, action string) int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	n := 0
	for _, e := range s.log {
		if (service == "" || e.Service == service) && (action == "" || e.Action == action) && e.FirstAttempt() {
			n++
		}
	}
	return n
}
