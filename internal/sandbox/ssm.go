package sandbox

import "time"

// SSMState is Systems Manager state per account and region.
type SSMState struct{}

func newSSMState() *SSMState { return &SSMState{} }

// registerSSM wires the SSM JSON 1.1 actions (X-Amz-Target: AmazonSSM.*).
func (s *Server) registerSSM() {}

// seedSSM creates the public parameters under /aws/service/ that point at
// the newest Amazon Linux images.
func (w *World) seedSSM(start time.Time) {}
