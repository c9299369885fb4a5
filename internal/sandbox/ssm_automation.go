package sandbox

import "time"

// AutomationExecution is one run of an automation document.
type AutomationExecution struct {
	ID   string `json:"id"`
	Tags Tags   `json:"tags,omitempty"`
}

func (s *Server) registerSSMAutomation() {}

func (w *World) tickAutomations(now time.Time) {}
