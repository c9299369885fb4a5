package associate_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmd/patch/associate"
)

func TestDiffDuplicatesDocumentChangeAndOrderFreeTargets(t *testing.T) {
	want := []*associate.Spec{
		{Name: "amibake-p-web-scan", Fleet: "web", Document: associate.ScanDocument, Schedule: associate.ScanSchedule,
			Targets:    []associate.Target{{Key: "tag:aws:autoscaling:groupName", Values: []string{"a", "b"}}},
			Parameters: map[string][]string{"Operation": {"Scan"}}},
		{Name: "amibake-p-web-inventory", Fleet: "web", Document: associate.InventoryDocument, Schedule: associate.InventorySchedule,
			Targets: []associate.Target{{Key: "tag:aws:autoscaling:groupName", Values: []string{"a", "b"}}}},
	}
	cur := []*associate.Spec{
		// Same targets, other order: no change.
		{Name: "amibake-p-web-scan", ID: "id-1", Document: associate.ScanDocument, Schedule: associate.ScanSchedule,
			Targets:    []associate.Target{{Key: "tag:aws:autoscaling:groupName", Values: []string{"b", "a"}}},
			Parameters: map[string][]string{"Operation": {"Scan"}}},
		{Name: "amibake-p-web-scan", ID: "id-2", Document: associate.ScanDocument},
		// Wrong document: recreated.
		{Name: "amibake-p-web-inventory", ID: "id-3", Document: "AWS-RunShellScript", Schedule: associate.InventorySchedule,
			Targets: []associate.Target{{Key: "tag:aws:autoscaling:groupName", Values: []string{"a", "b"}}}},
	}
	got := associate.Diff(want, cur)
	require.Len(t, got, 2)
	assert.Equal(t, "delete", got[0].Action)
	assert.Equal(t, "id-2", got[0].AssociationID)
	assert.Equal(t, "duplicate of id-1", got[0].Reason)
	assert.Equal(t, "update", got[1].Action)
	assert.True(t, got[1].Recreate)
	assert.Equal(t, []associate.FieldChange{{Field: "document", Old: "AWS-RunShellScript", New: associate.InventoryDocument}}, got[1].Fields)
	assert.Empty(t, associate.Diff(want[:1], cur[:1]))
}
