package sandbox

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInventoryDerivedFromContent(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 2, nil)
	sb.Do(func(w *World) {
		w.EC2.Instances[ids[0]].Content.Packages["nginx"] = "1:1.24.0-1.amzn2023.0.2"
	})
	content := instanceContent(sb, ids[0])
	require.NotEmpty(t, content.Packages)

	// Every page of AWS:Application is the package set.
	got := map[string]map[string]string{}
	var token *string
	pages := 0
	for {
		out, err := cl.ListInventoryEntries(ctx, &ssm.ListInventoryEntriesInput{
			InstanceId: aws.String(ids[0]), TypeName: aws.String("AWS:Application"), MaxResults: aws.Int32(5), NextToken: token,
		})
		require.NoError(t, err)
		pages++
		assert.Equal(t, "AWS:Application", aws.ToString(out.TypeName))
		assert.NotEmpty(t, aws.ToString(out.CaptureTime))
		for _, e := range out.Entries {
			got[e["Name"]] = e
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	assert.Greater(t, pages, 1)
	require.Len(t, got, len(content.Packages))
	assert.Equal(t, map[string]string{
		"Name": "nginx", "Version": "1.24.0", "Release": "1.amzn2023.0.2", "Epoch": "1", "Architecture": "x86_64",
		"Publisher": got["nginx"]["Publisher"], "ApplicationType": "System Environment/Base",
		"PackageId": "nginx-1.24.0-1.amzn2023.0.2.x86_64.rpm",
	}, got["nginx"])
	for name, ver := range content.Packages {
		if name == "nginx" {
			continue
		}
		e := got[name]
		assert.Equal(t, ver, e["Version"]+"-"+e["Release"], name)
		assert.Equal(t, "Amazon Linux", e["Publisher"], name)
	}

	// Filters.
	out, err := cl.ListInventoryEntries(ctx, &ssm.ListInventoryEntriesInput{
		InstanceId: aws.String(ids[0]), TypeName: aws.String("AWS:Application"),
		Filters: []ssmtypes.InventoryFilter{{Key: aws.String("Name"), Values: []string{"nginx"}, Type: ssmtypes.InventoryQueryOperatorTypeEqual}},
	})
	require.NoError(t, err)
	require.Len(t, out.Entries, 1)

	// PutInventory wins over the derived type; custom types are kept.
	_, err = cl.PutInventory(ctx, &ssm.PutInventoryInput{InstanceId: aws.String(ids[1]), Items: []ssmtypes.InventoryItem{
		{TypeName: aws.String("AWS:Application"), SchemaVersion: aws.String("1.1"), CaptureTime: aws.String("2026-11-25T10:00:00Z"),
			Content: []map[string]string{{"Name": "only", "Version": "1.0", "Release": "1"}}},
		{TypeName: aws.String("Custom:Layer"), SchemaVersion: aws.String("1.0"), CaptureTime: aws.String("2026-11-25T10:00:00Z"),
			Content: []map[string]string{{"Layer": "app-web"}}},
	}})
	require.NoError(t, err)
	out, err = cl.ListInventoryEntries(ctx, &ssm.ListInventoryEntriesInput{InstanceId: aws.String(ids[1]), TypeName: aws.String("AWS:Application")})
	require.NoError(t, err)
	assert.Equal(t, []map[string]string{{"Name": "only", "Version": "1.0", "Release": "1"}}, out.Entries)
	assert.Equal(t, "2026-11-25T10:00:00Z", aws.ToString(out.CaptureTime))

	_, err = cl.PutInventory(ctx, &ssm.PutInventoryInput{InstanceId: aws.String(ids[1]), Items: []ssmtypes.InventoryItem{
		{TypeName: aws.String("Bad"), SchemaVersion: aws.String("1.0"), CaptureTime: aws.String("2026-11-25T10:00:00Z")}}})
	var badType *ssmtypes.InvalidTypeNameException
	require.ErrorAs(t, err, &badType)
	_, err = cl.ListInventoryEntries(ctx, &ssm.ListInventoryEntriesInput{InstanceId: aws.String("i-0000000000000dead"), TypeName: aws.String("AWS:Application")})
	var badInst *ssmtypes.InvalidInstanceId
	require.ErrorAs(t, err, &badInst)

	// GetInventory: filter on the instance id, pages of entities.
	gi, err := cl.GetInventory(ctx, &ssm.GetInventoryInput{Filters: []ssmtypes.InventoryFilter{{
		Key: aws.String("AWS:InstanceInformation.InstanceId"), Values: []string{ids[0]}, Type: ssmtypes.InventoryQueryOperatorTypeEqual,
	}}})
	require.NoError(t, err)
	require.Len(t, gi.Entities, 1)
	assert.Equal(t, ids[0], aws.ToString(gi.Entities[0].Id))
	app := gi.Entities[0].Data["AWS:Application"]
	assert.Len(t, app.Content, len(content.Packages))
	assert.Equal(t, ids[0], gi.Entities[0].Data["AWS:InstanceInformation"].Content[0]["InstanceId"])

	var entities []string
	var next *string
	for {
		gi, err := cl.GetInventory(ctx, &ssm.GetInventoryInput{MaxResults: aws.Int32(1), NextToken: next,
			ResultAttributes: []ssmtypes.ResultAttribute{{TypeName: aws.String("Custom:Layer")}}})
		require.NoError(t, err)
		for _, e := range gi.Entities {
			entities = append(entities, aws.ToString(e.Id))
			if aws.ToString(e.Id) == ids[1] {
				assert.Equal(t, "app-web", e.Data["Custom:Layer"].Content[0]["Layer"])
				assert.NotContains(t, e.Data, "AWS:Application")
			}
		}
		if gi.NextToken == nil {
			break
		}
		next = gi.NextToken
	}
	assert.Equal(t, ids, entities)

	// A stopped instance has no live inventory; a terminated one is unknown.
	sb.Do(func(w *World) { w.EC2.Instances[ids[0]].State = StateStopped })
	out, err = cl.ListInventoryEntries(ctx, &ssm.ListInventoryEntriesInput{InstanceId: aws.String(ids[0]), TypeName: aws.String("AWS:Application")})
	require.NoError(t, err)
	assert.Empty(t, out.Entries)
	sb.Do(func(w *World) { w.EC2.Instances[ids[0]].State = StateTerminated })
	_, err = cl.ListInventoryEntries(ctx, &ssm.ListInventoryEntriesInput{InstanceId: aws.String(ids[0]), TypeName: aws.String("AWS:Application")})
	require.ErrorAs(t, err, &badInst)
}

func TestInventoryPersistsWithTheWorld(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	ctx := context.Background()
	sb := Start(t, func(o *Options) { o.StateFile = state })
	ids := launchManaged(t, sb, 1, nil)
	_, err := ssmClient(sb).PutInventory(ctx, &ssm.PutInventoryInput{InstanceId: aws.String(ids[0]), Items: []ssmtypes.InventoryItem{
		{TypeName: aws.String("Custom:Build"), SchemaVersion: aws.String("1.0"), CaptureTime: aws.String("2026-11-25T10:00:00Z"),
			Content: []map[string]string{{"BuildId": "b7"}}},
	}})
	require.NoError(t, err)
	require.NoError(t, sb.Close())

	sb2 := Start(t, func(o *Options) { o.StateFile = state })
	out, err := ssmClient(sb2).ListInventoryEntries(ctx, &ssm.ListInventoryEntriesInput{InstanceId: aws.String(ids[0]), TypeName: aws.String("Custom:Build")})
	require.NoError(t, err)
	assert.Equal(t, []map[string]string{{"BuildId": "b7"}}, out.Entries)
}
