package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// CloudWatch alarm states.
const (
	AlarmStateOK               = "OK"
	AlarmStateAlarm            = "ALARM"
	AlarmStateInsufficientData = "INSUFFICIENT_DATA"
)

// Alarm is the state of one CloudWatch alarm. The CloudWatch service itself
// is not served yet; instance refreshes (AlarmSpecification) and amibake's
// rollouts read this state, tests and the demo set it through
// Server.SetAlarmState or PUT /_sandbox/alarms/{name}.
type Alarm struct {
	Name        string    `json:"name"`
	Account     string    `json:"account"`
	Region      string    `json:"region"`
	State       string    `json:"state"`
	StateReason string    `json:"state_reason,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// AlarmState is an alarm's state: INSUFFICIENT_DATA for an alarm nobody
// has set, as a new CloudWatch alarm starts.
func (w *World) AlarmState(account, region, name string) string {
	w.ASG.ensure()
	if a := w.ASG.Alarms[asgKey(account, region, name)]; a != nil {
		return a.State
	}
	return AlarmStateInsufficientData
}

// SetAlarm records an alarm's state (creating the alarm on first use).
func (w *World) SetAlarm(account, region, name, state, reason string, now time.Time) (*Alarm, error) {
	state = strings.ToUpper(strings.TrimSpace(state))
	switch state {
	case AlarmStateOK, AlarmStateAlarm, AlarmStateInsufficientData:
	default:
		return nil, fmt.Errorf("alarm state %q: want OK, ALARM or INSUFFICIENT_DATA", state)
	}
	if name == "" {
		return nil, fmt.Errorf("alarm name is empty")
	}
	if account == "" {
		account = DefaultAccount
	}
	if region == "" {
		region = DefaultRegion
	}
	w.ASG.ensure()
	a := w.ASG.Alarms[asgKey(account, region, name)]
	if a == nil {
		a = &Alarm{Name: name, Account: account, Region: region}
		w.ASG.Alarms[asgKey(account, region, name)] = a
	}
	if reason == "" {
		reason = "Set through the sandbox admin API"
	}
	a.State, a.StateReason, a.UpdatedAt = state, reason, now
	return a, nil
}

// SetAlarmState sets an alarm's state ("OK", "ALARM" or
// "INSUFFICIENT_DATA"; case-insensitive) in account and region (empty:
// the defaults) and settles the state machines that watch it. An invalid
// state or empty name is ignored; the admin API reports it instead.
func (s *Server) SetAlarmState(account, region, name, state string) {
	s.Do(func(w *World) {
		w.SetAlarm(account, region, name, state, "", s.clock.Now()) //nolint:errcheck // documented: invalid input is ignored
		w.tickAutoScaling(s.clock.Now())
	})
}

// Alarms lists every alarm, sorted by account, region and name.
func (s *Server) Alarms() []Alarm {
	var out []Alarm
	s.Do(func(w *World) {
		w.ASG.ensure()
		for _, k := range sortedKeys(w.ASG.Alarms) {
			out = append(out, *w.ASG.Alarms[k])
		}
	})
	return out
}

func (s *Server) registerAlarmAdmin() {
	// PUT /_sandbox/alarms/{name} {"state":"ALARM","region":"us-east-1","account":"123456789012","reason":"..."}
	s.admin.HandleFunc("PUT /_sandbox/alarms/{name}", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			State   string `json:"state"`
			Region  string `json:"region"`
			Account string `json:"account"`
			Reason  string `json:"reason"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			adminError(rw, http.StatusBadRequest, fmt.Errorf("alarm: %w", err))
			return
		}
		var out *Alarm
		var err error
		s.Do(func(w *World) {
			now := s.clock.Now()
			out, err = w.SetAlarm(req.Account, req.Region, r.PathValue("name"), req.State, req.Reason, now)
			if err == nil {
				w.tickAutoScaling(now)
			}
		})
		if err != nil {
			adminError(rw, http.StatusBadRequest, err)
			return
		}
		adminJSON(rw, out)
	})
	s.admin.HandleFunc("GET /_sandbox/alarms", func(rw http.ResponseWriter, r *http.Request) {
		alarms := s.Alarms()
		sort.SliceStable(alarms, func(i, j int) bool { return alarms[i].Name < alarms[j].Name })
		if alarms == nil {
			alarms = []Alarm{}
		}
		adminJSON(rw, alarms)
	})
}
