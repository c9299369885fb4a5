package inventory

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/rpmver"
)

// TypeApplication is the inventory type AWS-GatherSoftwareInventory
// reports installed packages under.
const TypeApplication = "AWS:Application"

// Collect reads the AWS:Application inventory of a managed instance, every
// page, as packages sorted by name. An entry's Epoch, Version and Release
// become one [epoch:]version-release.
func Collect(ctx context.Context, client awsapi.SSMInventory, instanceID string) ([]Package, error) {
	var out []Package
	in := &ssm.ListInventoryEntriesInput{InstanceId: aws.String(instanceID), TypeName: aws.String(TypeApplication), MaxResults: aws.Int32(50)}
	for {
		page, err := client.ListInventoryEntries(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list %s inventory of %s: %w", TypeApplication, instanceID, err)
		}
		for _, e := range page.Entries {
			if e["Name"] == "" {
				continue
			}
			out = append(out, packageFromEntry(e))
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	d := Document{Packages: out}
	d.Normalize()
	return d.Packages, nil
}

func packageFromEntry(e map[string]string) Package {
	evr := rpmver.EVR{Version: e["Version"], Release: e["Release"]}
	if e["Epoch"] != "" && e["Epoch"] != "0" {
		evr = rpmver.ParseEVR(e["Epoch"] + ":" + evr.String())
	}
	return Package{Name: e["Name"], Version: evr.String(), Arch: e["Architecture"], Publisher: e["Publisher"]}
}
