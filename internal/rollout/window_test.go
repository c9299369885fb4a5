package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInWindow(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	// 2026-11-29 is a Sunday.
	for _, tc := range []struct {
		window, now string
		in          bool
		next        string
	}{
		{"sun-02:00-04:00", "2026-11-29T02:00:00Z", true, "2026-11-29T02:00:00Z"},
		{"sun-02:00-04:00", "2026-11-29T03:59:59Z", true, "2026-11-29T03:59:59Z"},
		{"sun-02:00-04:00", "2026-11-29T04:00:00Z", false, "2026-12-06T02:00:00Z"},
		{"sun-02:00-04:00", "2026-11-25T13:00:00Z", false, "2026-11-29T02:00:00Z"},
		{"sat-23:00-01:00", "2026-11-29T00:30:00Z", true, "2026-11-29T00:30:00Z"},
		{"sat-23:00-01:00", "2026-11-29T01:00:00Z", false, "2026-12-05T23:00:00Z"},
	} {
		in, next, err := InWindow(tc.window, at(tc.now))
		require.NoError(t, err)
		assert.Equal(t, tc.in, in, "%s at %s", tc.window, tc.now)
		assert.Equal(t, at(tc.next), next, "%s at %s", tc.window, tc.now)
	}
	_, _, err := InWindow("xyz-01:00-02:00", time.Now())
	assert.Error(t, err)
}
