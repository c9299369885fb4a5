package inventory

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAssociationName(t *testing.T) {
	assert.Equal(t, "amibake-inventory-b-1-app-web", AssociationName("b-1-app-web"))
	assert.Equal(t, "amibake-inventory-b-1-app-web-x", AssociationName("b 1/app-web x"))
	assert.Len(t, AssociationName(strings.Repeat("x", 200)), 128)
}
