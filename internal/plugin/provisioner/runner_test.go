package provisioner

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLineStreamEmitsEachLineOnce(t *testing.T) {
	var got []string
	l := &lineStream{emit: func(s string) { got = append(got, s) }}
	l.update("")
	l.update("one\ntw")
	l.update("one\ntw") // unchanged snapshot
	l.update("one\ntwo\nthree")
	assert.Equal(t, []string{"one", "two"}, got)
	l.flush()
	assert.Equal(t, []string{"one", "two", "three"}, got)
	l.flush()
	assert.Len(t, got, 3)
}

func TestLineStreamNotesSSMTruncation(t *testing.T) {
	var got []string
	l := &lineStream{emit: func(s string) { got = append(got, s) }}
	l.update(strings.Repeat("x", ssmOutputLimit))
	l.update(strings.Repeat("x", ssmOutputLimit))
	assert.Len(t, got, 2)
	assert.Contains(t, got[1], "first 24000 characters")
}

func TestTail(t *testing.T) {
	var lines []string
	for i := 0; i < 30; i++ {
		lines = append(lines, strings.Repeat("e", 10))
	}
	out := tail(strings.Join(lines, "\n")+"\n", 20, 2000)
	assert.Equal(t, 20, strings.Count(out, "\n")+1)
	out = tail(strings.Repeat("x", 5000), 20, 100)
	assert.True(t, strings.HasPrefix(out, "…"))
	assert.Len(t, strings.TrimPrefix(out, "…"), 100)
	assert.Equal(t, "", tail("", 20, 100))
}

func TestStepErrorMessage(t *testing.T) {
	e := &StepError{Step: "base/jq", CommandID: "c-1", Status: "Failed", Details: "Failed", ExitCode: 1, StderrTail: "boom"}
	assert.Equal(t, "step \"base/jq\" failed (SSM command c-1, exit code 1); stderr ends with:\nboom", e.Error())
	e = &StepError{Step: "x", CommandID: "c-2", Status: "TimedOut", Details: "DeliveryTimedOut", ExitCode: -1}
	assert.Equal(t, `step "x" timedout (SSM command c-2, exit code -1, DeliveryTimedOut)`, e.Error())
}

func TestComment(t *testing.T) {
	assert.Equal(t, "amibake step a/b", comment("a/b"))
	assert.Len(t, comment(strings.Repeat("n", 300)), 100)
}
