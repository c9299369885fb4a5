package sandbox

import "fmt"

// registerSTS wires STS GetCallerIdentity, which the SDK's credential checks
// and amibake's preflight call.
func (s *Server) registerSTS() {
	s.handle(svcSTS, "GetCallerIdentity", func(c *Call) (any, error) {
		return struct {
			Arn     string `xml:"Arn"`
			UserID  string `xml:"UserId"`
			Account string `xml:"Account"`
		}{
			Arn:     fmt.Sprintf("arn:aws:iam::%s:user/sandbox", c.Account),
			UserID:  "AIDASANDBOX" + c.Account,
			Account: c.Account,
		}, nil
	})
}
