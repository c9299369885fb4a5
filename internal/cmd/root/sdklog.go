package root

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/smithy-go/logging"
)

// sdkLogger sends the SDK's own log lines (retry and transport notices)
// through amibake's logger, so --log-level governs them and they share its
// format instead of the SDK's bare "SDK <time> WARN" lines on stderr.
type sdkLogger struct{ logger func() *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	level := slog.LevelDebug
	if c == logging.Warn && !connectionReuseNotice(msg) {
		level = slog.LevelWarn
	}
	l.logger().Log(context.Background(), level, msg, "source", "aws-sdk")
}

// connectionReuseNotice: the SDK could not drain a response body it had
// already decoded; the call succeeded and only that connection is not
// reused (seen on loopback, aws-sdk-go-v2#2737) — not an operator's concern.
func connectionReuseNotice(msg string) bool {
	return strings.Contains(msg, "this may affect connection reuse")
}
