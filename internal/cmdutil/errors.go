package cmdutil

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes shared by every command (DESIGN.md). Pipelines branch on them,
// so they never change meaning.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitChanges     = 2 // plan -detailed-exitcode: changes pending
	ExitPartial     = 3 // some layers or fleets failed, others done
	ExitLockHeld    = 4 // the project lock is held by another run
	ExitPaused      = 5 // waiting for an operator
	ExitInterrupted = 130
)

// ExitError ends the run with a specific code. When Silent is set the
// command has already told the user what happened and nothing more is printed.
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit returns an error that ends the run with code and prints err.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// SilentExit ends the run with code; the command has already reported.
func SilentExit(code int) error { return &ExitError{Code: code, Silent: true} }

// ErrSilent ends the run with code 1 without another message.
var ErrSilent = SilentExit(ExitFailure)

// FlagError is a misuse of flags or arguments; the root prints usage help.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	// Packages below the CLI (lock, bake, rollout) say which code their
	// errors mean without importing cmdutil.
	var coder interface{ ExitCode() int }
	if errors.As(err, &coder) {
		return coder.ExitCode()
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	return ExitFailure
}

// IsSilent reports whether the error was already reported by the command.
func IsSilent(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Silent
}
