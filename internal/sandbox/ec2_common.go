package sandbox

import "time"

// PendingTag is a tag write hidden by an eventual-consistency fault: it
// takes effect at ApplyAt (Delete removes the key instead).
type PendingTag struct {
	ResourceID string    `json:"resource_id"`
	Key        string    `json:"key"`
	Value      string    `json:"value"`
	Delete     bool      `json:"delete,omitempty"`
	ApplyAt    time.Time `json:"apply_at"`
}
