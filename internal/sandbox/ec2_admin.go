package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// registerEC2Admin adds the EC2 admin endpoints:
//
//	POST   /_sandbox/images/{id}/bad   mark an AMI bad: its instances fail health checks
//	DELETE /_sandbox/images/{id}/bad   clear the mark
//	POST   /_sandbox/images/{id}/fail  {"reason": "..."}: the image goes to state failed
func (s *Server) registerEC2Admin() {
	s.admin.HandleFunc("POST /_sandbox/images/{id}/bad", func(w http.ResponseWriter, r *http.Request) {
		if err := s.MarkImageBad(r.PathValue("id")); err != nil {
			adminError(w, http.StatusNotFound, err)
			return
		}
		adminJSON(w, map[string]any{"ok": true, "image": r.PathValue("id"), "bad": true})
	})
	s.admin.HandleFunc("DELETE /_sandbox/images/{id}/bad", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ClearImageBad(r.PathValue("id")); err != nil {
			adminError(w, http.StatusNotFound, err)
			return
		}
		adminJSON(w, map[string]any{"ok": true, "image": r.PathValue("id"), "bad": false})
	})
	s.admin.HandleFunc("POST /_sandbox/images/{id}/fail", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				adminError(w, http.StatusBadRequest, fmt.Errorf("fail image: %w", err))
				return
			}
		}
		if err := s.FailImage(r.PathValue("id"), req.Reason); err != nil {
			adminError(w, http.StatusNotFound, err)
			return
		}
		adminJSON(w, map[string]any{"ok": true, "image": r.PathValue("id"), "state": ec2ImageFailed})
	})
}

// MarkImageBad marks an AMI bad: instances launched from it from now on,
// and its instances that are not terminated, fail their instance status
// check ("impaired") and Auto Scaling health checks.
func (s *Server) MarkImageBad(id string) error { return s.ec2SetImageBad(id, true) }

// ClearImageBad undoes MarkImageBad (existing instances recover too).
func (s *Server) ClearImageBad(id string) error { return s.ec2SetImageBad(id, false) }

func (s *Server) ec2SetImageBad(id string, bad bool) error {
	var err error
	s.Do(func(w *World) {
		img := w.EC2.Images[id]
		if img == nil {
			err = fmt.Errorf("sandbox: no image %s", id)
			return
		}
		img.Bad = bad
		for _, inst := range w.EC2.Instances {
			if inst.ImageID == id && inst.State != StateTerminated {
				inst.Unhealthy = bad
			}
		}
	})
	return err
}

// FailImage moves an image to state "failed" with a reason, as when EC2
// cannot finish creating it; its pending snapshots go to "error".
func (s *Server) FailImage(id, reason string) error {
	if reason == "" {
		reason = "Server.InternalError: the sandbox failed this image on request"
	}
	var err error
	s.Do(func(w *World) {
		img := w.EC2.Images[id]
		if img == nil {
			err = fmt.Errorf("sandbox: no image %s", id)
			return
		}
		img.State, img.StateReason = ec2ImageFailed, reason
		img.StateSince = s.clock.Now()
		for _, bd := range img.BlockDevices {
			if snap := w.EC2.Snapshots[bd.SnapshotID]; snap != nil && snap.State == "pending" {
				snap.State = "error"
			}
		}
	})
	return err
}
