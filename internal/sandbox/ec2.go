package sandbox

import "time"

// registerEC2 wires the EC2 Query API actions.
func (s *Server) registerEC2() {
	s.addTicker(func(w *World, now time.Time) { w.tickInstances(now) })
	// EC2 actions are registered here: s.handle(svcEC2, "RunInstances", s.ec2RunInstances) …
}

// seedEC2 fills a new world with what every region holds: public Amazon
// Linux 2023 images (x86_64 and arm64) and default VPCs.
func (w *World) seedEC2(start time.Time) {
	for _, r := range w.Regions {
		w.ensureDefaultVPC(DefaultAccount, r)
	}
}
