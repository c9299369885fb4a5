package root

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/aws/smithy-go/logging"
	"github.com/stretchr/testify/assert"
)

func TestSDKLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l := sdkLogger{logger: func() *slog.Logger { return logger }}

	l.Logf(logging.Warn, "failed to discard remaining HTTP response body, this may affect connection reuse: %v", "read tcp: use of closed network connection")
	assert.Empty(t, buf.String(), "a connection-reuse notice is debug, not a warning")

	l.Logf(logging.Warn, "Response has no supported checksum. Not validating response payload.")
	assert.Contains(t, buf.String(), "level=WARN")
	assert.Contains(t, buf.String(), "source=aws-sdk")

	buf.Reset()
	l.Logf(logging.Debug, "request sent")
	assert.Empty(t, buf.String())
}
