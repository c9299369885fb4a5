package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
)

// RecordCopy records the document of cp, a regional copy of the AMI home
// documents: the same packages (a copy's content is its source's), with
// the copy's own id, region and lineage and CopyOf naming the source; the
// copy gets its own checksum tag (through ec2Client, which must be cp's
// region). The copy's document is written when the copy is made rather
// than resolved to the source's at read time, so that it stays readable
// when the source is retired before the copy. A copy whose stored
// document already matches its tag keeps it. cp must carry its tags.
func RecordCopy(ctx context.Context, s3Client awsapi.S3, ec2Client awsapi.EC2, bucket, project string, home *Document, cp lineage.Image) (*Finalized, error) {
	if bucket == "" {
		return nil, errors.New("record inventory of a copy: no bucket (set inventory_bucket in the project block)")
	}
	if home == nil || home.AMI == "" {
		return nil, fmt.Errorf("record inventory of copy %s: no document of its source", cp.ID)
	}
	if cp.ID == home.AMI {
		return nil, fmt.Errorf("record inventory of copy %s: it is the source itself", cp.ID)
	}
	if cp.Tags[TagSHA256] != "" {
		doc, err := Load(ctx, s3Client, bucket, project, cp)
		var nr *NotRecordedError
		var ce *ChecksumError
		switch {
		case err == nil && doc.CopyOf == home.AMI:
			return &Finalized{Stored: Stored{URL: URL(bucket, project, cp.ID), SHA256: cp.Tags[TagSHA256]}, Kept: true, Doc: doc}, nil
		case err == nil, errors.As(err, &nr), errors.As(err, &ce):
			// Rewritten below from the source's document.
		default:
			return nil, fmt.Errorf("record inventory of copy %s: %w", cp.ID, err)
		}
	}
	doc := NewDocument(cp, home.InstanceID, home.Packages, home.CollectedAt)
	doc.BuildID = home.BuildID
	doc.CopyOf = home.AMI
	stored, err := Store(ctx, s3Client, ec2Client, bucket, project, doc)
	if err != nil {
		return nil, fmt.Errorf("record inventory of copy %s of %s: %w", cp.ID, home.AMI, err)
	}
	return &Finalized{Stored: *stored, Doc: doc}, nil
}
