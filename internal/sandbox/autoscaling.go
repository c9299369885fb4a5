package sandbox

// ASGState is Auto Scaling state per account and region.
type ASGState struct{}

func newASGState() *ASGState { return &ASGState{} }

// registerAutoScaling wires the Auto Scaling awsquery actions.
func (s *Server) registerAutoScaling() {}
