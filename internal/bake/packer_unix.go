//go:build unix

package bake

import (
	"errors"
	"os/exec"
	"syscall"
)

const (
	sigInterrupt = syscall.SIGINT
	sigKill      = syscall.SIGKILL
)

// setProcessGroup starts packer in a process group of its own, so that a
// terminal's Ctrl-C reaches amibake only, and amibake forwards it once.
func setProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// signalGroup signals packer's whole process group, as a terminal does:
// packer's outer process (panicwrap) ignores SIGINT itself and relies on
// the inner one and the plugins receiving it from the terminal.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return errors.New("process not started")
	}
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // already gone
	}
	return err
}
