package sandbox

import "time"

// MaintenanceWindow is an SSM maintenance window.
type MaintenanceWindow struct {
	ID   string `json:"id"`
	Tags Tags   `json:"tags,omitempty"`
}

// WindowExecution is one run of a maintenance window.
type WindowExecution struct {
	ID string `json:"id"`
}

func (s *Server) registerSSMWindows() {}

func (w *World) tickWindows(now time.Time) {}

func (w *World) tickWindowExecutions(now time.Time) {}
