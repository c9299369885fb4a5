package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A layer's own share_with and kms_key_id win; else the project's; a nil
// project (graph settings of a bare layer) leaves them empty.
func TestLayerSharingAndKMSKeyFallBackToTheProject(t *testing.T) {
	p := &Project{KMSKeyID: "alias/project", ShareWith: Sharing{Accounts: []string{"111111111111"}}}
	bare := &Layer{}
	assert.Equal(t, []string{"111111111111"}, bare.Sharing(p).Accounts)
	assert.Equal(t, "alias/project", bare.KMSKey(p))
	assert.Empty(t, bare.Sharing(nil).Accounts)
	assert.Empty(t, bare.KMSKey(nil))

	own := &Layer{ShareWith: &Sharing{}, Volume: Volume{KMSKeyID: "alias/layer"}}
	assert.Empty(t, own.Sharing(p).Accounts, "an empty share_with on the layer shares with no one")
	assert.Equal(t, "alias/layer", own.KMSKey(p))
}
