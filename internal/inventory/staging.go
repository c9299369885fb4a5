package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
)

// The inventory of a bake is read on the build instance, before the AMI
// exists, and can only be keyed by the AMI once CreateImage has named it.
// So it is written twice: the provisioner stages it under the build id
// (Stage), and the bake, once the AMI is available and before its channel
// moves, turns the staged document into <ami-id>.json with the AMI's
// lineage and checksum tag and deletes the staged one (Finalize). A failed
// Finalize leaves the staged document for the next bake, which adopts the
// AMI and finalizes it again.

// StagingKey is the object key of a build's staged inventory:
// <project>/inventory/staging/<build-id>.json.
func StagingKey(project, buildID string) string {
	return project + "/inventory/staging/" + buildID + ".json"
}

// Stage writes the inventory gathered on a build instance under the build
// id, for Finalize.
func Stage(ctx context.Context, s3Client awsapi.S3, bucket, project, buildID, instanceID string, g *Gathered) (string, error) {
	if bucket == "" || buildID == "" {
		return "", errors.New("stage inventory: bucket and build id are required")
	}
	doc := &Document{SchemaVersion: SchemaVersion, Project: project, Packages: append([]Package{}, g.Packages...),
		InstanceID: instanceID, BuildID: buildID, CollectedAt: g.CaptureTime.UTC()}
	doc.Normalize()
	data, err := doc.Encode()
	if err != nil {
		return "", err
	}
	key := StagingKey(project, buildID)
	url := "s3://" + bucket + "/" + key
	_, err = s3Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentType: aws.String("application/json"), ContentLength: aws.Int64(int64(len(data))),
		Metadata: map[string]string{"build-id": buildID, "instance-id": instanceID},
	})
	if err != nil {
		return "", fmt.Errorf("stage inventory of build %s at %s: %w", buildID, url, err)
	}
	return url, nil
}

// NoStagingError says an AMI has neither a verified inventory document
// nor a staged one for its build: it was baked before inventory
// collection was enabled, or the staged document was removed.
type NoStagingError struct {
	AMI     string
	BuildID string
	URL     string // the staged document looked for
}

func (e *NoStagingError) Error() string {
	if e.BuildID == "" {
		return fmt.Sprintf("AMI %s has no inventory and no %s tag to find its build's staged inventory by", e.AMI, lineage.TagBuildID)
	}
	return fmt.Sprintf("AMI %s has no inventory and its build's staged inventory %s does not exist", e.AMI, e.URL)
}

// Finalized says what Finalize did.
type Finalized struct {
	Stored
	// Kept: the AMI already had a document matching its checksum tag.
	Kept bool `json:"kept,omitempty"`
	// StagingErr is a staged document that could not be deleted (the
	// document itself is stored; the next bake of the build id cleans up).
	StagingErr error `json:"-"`
	// Doc is the AMI's document as stored.
	Doc *Document `json:"-"`
}

// Finalize records img's inventory document from its build's staged one
// (found by the AMI's amibake:build-id tag): the document gets the AMI's
// lineage, is stored with Store (object, then checksum tag) and the staged
// object is deleted. An AMI whose stored document already matches its tag
// keeps it, so a re-run changes nothing. img must carry its tags and be
// in the region of ec2Client.
func Finalize(ctx context.Context, s3Client awsapi.S3, ec2Client awsapi.EC2, bucket, project string, img lineage.Image) (*Finalized, error) {
	if bucket == "" {
		return nil, errors.New("finalize inventory: no bucket (set inventory_bucket in the project block)")
	}
	buildID := img.Tags[lineage.TagBuildID]
	if img.Tags[TagSHA256] != "" {
		doc, err := Load(ctx, s3Client, bucket, project, img)
		var nr *NotRecordedError
		var ce *ChecksumError
		switch {
		case err == nil:
			data, err := doc.Encode()
			if err != nil {
				return nil, err
			}
			f := &Finalized{Stored: Stored{URL: URL(bucket, project, img.ID), SHA256: img.Tags[TagSHA256], Size: len(data)}, Kept: true, Doc: doc}
			if buildID != "" {
				f.StagingErr = deleteStaging(ctx, s3Client, bucket, project, buildID)
			}
			return f, nil
		case errors.As(err, &nr), errors.As(err, &ce):
			// Rewritten from the staged document below, when there is one.
		default:
			return nil, fmt.Errorf("finalize inventory of %s: %w", img.ID, err)
		}
	}
	if buildID == "" {
		return nil, &NoStagingError{AMI: img.ID}
	}
	key := StagingKey(project, buildID)
	url := "s3://" + bucket + "/" + key
	out, err := s3Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, &NoStagingError{AMI: img.ID, BuildID: buildID, URL: url}
	}
	if err != nil {
		return nil, fmt.Errorf("finalize inventory of %s: read %s: %w", img.ID, url, err)
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, maxDocumentSize))
	out.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("finalize inventory of %s: read %s: %w", img.ID, url, err)
	}
	staged, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("finalize inventory of %s: %s: %w", img.ID, url, err)
	}
	if staged.BuildID != buildID {
		return nil, fmt.Errorf("finalize inventory of %s: %s is of build %q, not %q", img.ID, url, staged.BuildID, buildID)
	}
	doc := NewDocument(img, staged.InstanceID, staged.Packages, staged.CollectedAt)
	doc.BuildID = buildID
	stored, err := Store(ctx, s3Client, ec2Client, bucket, project, doc)
	if err != nil {
		return nil, fmt.Errorf("finalize inventory: %w", err)
	}
	return &Finalized{Stored: *stored, StagingErr: deleteStaging(ctx, s3Client, bucket, project, buildID), Doc: doc}, nil
}

func deleteStaging(ctx context.Context, s3Client awsapi.S3, bucket, project, buildID string) error {
	key := StagingKey(project, buildID)
	// DeleteObject of a missing key succeeds: a second call is harmless.
	if _, err := s3Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete staged inventory s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}
