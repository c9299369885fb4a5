//go:build !unix

package bake

import (
	"os"
	"os/exec"
)

var (
	sigInterrupt = os.Interrupt
	sigKill      = os.Kill
)

func setProcessGroup(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, sig os.Signal) error {
	if cmd.Process == nil {
		return os.ErrProcessDone
	}
	if sig == os.Kill {
		return cmd.Process.Kill()
	}
	return cmd.Process.Signal(sig)
}
