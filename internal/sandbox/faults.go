package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Duration is a time.Duration that reads and writes as "2s" in JSON.
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration: %w", err)
		}
		d.Duration = time.Duration(n * float64(time.Millisecond))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// FaultRule injects failures into matching calls. Empty Service, Action or
// Region match anything. Decisions use a seeded generator, so a run under
// the same seed and the same call sequence sees the same faults.
type FaultRule struct {
	Service string `json:"service,omitempty"`
	Action  string `json:"action,omitempty"`
	Region  string `json:"region,omitempty"`

	// ThrottleRate is the probability of a throttling error in the
	// service's own shape (RequestLimitExceeded, Throttling, ThrottlingException).
	ThrottleRate float64 `json:"throttle_rate,omitempty"`
	// ErrorRate is the probability of a server error with ErrorStatus
	// (default 503 ServiceUnavailable).
	ErrorRate   float64 `json:"error_rate,omitempty"`
	ErrorStatus int     `json:"error_status,omitempty"`
	// Latency is added to every matching call (real time).
	Latency Duration `json:"latency,omitempty"`
	// InvisibleFor hides resources created by matching calls from reads for
	// this long in virtual time (eventual consistency).
	InvisibleFor Duration `json:"invisible_for,omitempty"`
	// Remaining limits how many calls the rule may fail; 0 is unlimited.
	Remaining int `json:"remaining,omitempty"`
}

func (r *FaultRule) matches(c *Call) bool {
	return (r.Service == "" || r.Service == c.Service) &&
		(r.Action == "" || r.Action == c.Action) &&
		(r.Region == "" || r.Region == c.Region)
}

// SetFaults replaces the fault rules.
func (s *Server) SetFaults(rules ...FaultRule) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = append([]FaultRule(nil), rules...)
}

// Faults returns the current rules.
func (s *Server) Faults() []FaultRule {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return append([]FaultRule(nil), s.faults...)
}

// matchFault returns a copy of the first rule matching c.
func (s *Server) matchFault(c *Call) *FaultRule {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i := range s.faults {
		if s.faults[i].matches(c) {
			r := s.faults[i]
			return &r
		}
	}
	return nil
}

// rollFault decides whether this call fails, and how.
func (s *Server) rollFault(c *Call, r *FaultRule) *APIError {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if r.ThrottleRate <= 0 && r.ErrorRate <= 0 {
		return nil
	}
	// Find the live rule to decrement Remaining.
	var live *FaultRule
	for i := range s.faults {
		if s.faults[i].matches(c) {
			live = &s.faults[i]
			break
		}
	}
	x := s.faultRNG.Float64()
	var e *APIError
	switch {
	case x < r.ThrottleRate:
		e = throttleError(c.Service)
	case x < r.ThrottleRate+r.ErrorRate:
		st := r.ErrorStatus
		if st == 0 {
			st = http.StatusServiceUnavailable
		}
		code := "ServiceUnavailable"
		if st == http.StatusInternalServerError {
			code = "InternalError"
			if c.Service == svcSSM {
				code = "InternalServerError"
			}
		}
		e = &APIError{Status: st, Code: code, Message: "injected fault: the service is unavailable, try again"}
	}
	if e != nil && live != nil && live.Remaining > 0 {
		live.Remaining--
		if live.Remaining == 0 {
			live.ThrottleRate, live.ErrorRate = 0, 0
		}
	}
	return e
}

// throttleError is each service's own throttling error, the ones the SDK's
// retryer recognises.
func throttleError(service string) *APIError {
	switch service {
	case svcEC2:
		return &APIError{Status: 503, Code: "RequestLimitExceeded", Message: "Request limit exceeded.", Sender: true}
	case svcSSM:
		return &APIError{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded", Sender: true}
	default:
		return &APIError{Status: 400, Code: "Throttling", Message: "Rate exceeded", Sender: true}
	}
}
