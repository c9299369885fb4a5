package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The admin API lives under /_sandbox/, a path no AWS SDK ever calls. It is
// unauthenticated: the sandbox only ever listens on loopback.
func (s *Server) registerAdmin() {
	m := s.admin
	s.registerFleetAdmin()
	m.HandleFunc("GET /_sandbox/health", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, map[string]any{"ok": true, "now": s.clock.Now()})
	})
	m.HandleFunc("GET /_sandbox/state", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		now := s.tickLocked()
		data, err := json.Marshal(savedWorld{Now: now, World: s.world})
		s.mu.Unlock()
		if err != nil {
			adminError(w, http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	})
	m.HandleFunc("GET /_sandbox/log", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, s.Log())
	})
	m.HandleFunc("GET /_sandbox/log/counts", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, s.CallCounts())
	})
	m.HandleFunc("DELETE /_sandbox/log", func(w http.ResponseWriter, r *http.Request) {
		s.ResetLog()
		adminJSON(w, map[string]any{"ok": true})
	})
	m.HandleFunc("GET /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, s.Faults())
	})
	m.HandleFunc("PUT /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var rules []FaultRule
		if err := json.NewDecoder(r.Body).Decode(&rules); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf("faults: %w", err))
			return
		}
		s.SetFaults(rules...)
		adminJSON(w, rules)
	})
	m.HandleFunc("DELETE /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		s.SetFaults()
		adminJSON(w, map[string]any{"ok": true})
	})
	// POST /_sandbox/clock {"advance":"10m"} and/or {"scale":60}
	m.HandleFunc("POST /_sandbox/clock", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Advance Duration `json:"advance"`
			Scale   *float64 `json:"scale"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf("clock: %w", err))
			return
		}
		if req.Scale != nil {
			s.clock.SetScale(*req.Scale)
		}
		s.clock.Advance(req.Advance.Duration)
		s.Do(func(*World) {})
		adminJSON(w, map[string]any{"now": s.clock.Now()})
	})
	m.HandleFunc("GET /_sandbox/clock", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, map[string]any{"now": s.clock.Now()})
	})
	m.HandleFunc("PUT /_sandbox/timing", func(w http.ResponseWriter, r *http.Request) {
		var t Timing
		if err := json.NewDecoder(r.Body).Decode(&t); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf("timing: %w", err))
			return
		}
		s.Do(func(w *World) { w.Timing = t })
		adminJSON(w, t)
	})
	m.HandleFunc("GET /_sandbox/actions", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, s.Actions())
	})
}

// AdvanceClock moves virtual time and settles every state machine.
func (s *Server) AdvanceClock(d time.Duration) {
	s.clock.Advance(d)
	s.Do(func(*World) {})
}

func adminJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // client gone
}

func adminError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()}) //nolint:errcheck
}
