package sandbox

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the sandbox's tests with the EC2 index audit on: every
// DescribeImages answered from the image index and every tick that looked
// only at pending images is checked against a walk of everything
// (ec2_index.go), and any difference fails the run.
func TestMain(m *testing.M) {
	ec2IndexAudit = true
	code := m.Run()
	if fails := ec2AuditFailures(); len(fails) > 0 {
		fmt.Fprintf(os.Stderr, "sandbox index audit: %d failures, first: %s\n", len(fails), fails[0])
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
