package inventory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
)

// maxDocumentSize bounds what Load reads: a document of tens of thousands
// of packages is a few megabytes.
const maxDocumentSize = 64 << 20

// Stored says where a document went.
type Stored struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// Checksum is the hex sha256 of an encoded document.
func Checksum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Store writes doc to s3://<bucket>/<project>/inventory/<ami>.json and
// tags the AMI (through ec2Client, which must be doc.Region's) with the
// document's sha256. The object is written before the tag, so a tag always
// names a document that was written.
func Store(ctx context.Context, s3Client awsapi.S3, ec2Client awsapi.EC2, bucket, project string, doc *Document) (*Stored, error) {
	if bucket == "" {
		return nil, errors.New("store inventory: no bucket (set inventory_bucket in the project block)")
	}
	if doc.AMI == "" {
		return nil, errors.New("store inventory: the document names no AMI")
	}
	doc.Normalize()
	data, err := doc.Encode()
	if err != nil {
		return nil, err
	}
	sum := Checksum(data)
	url := URL(bucket, project, doc.AMI)
	_, err = s3Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(Key(project, doc.AMI)), Body: bytes.NewReader(data),
		ContentType: aws.String("application/json"), ContentLength: aws.Int64(int64(len(data))),
		Metadata: map[string]string{"sha256": sum, "ami": doc.AMI, "layer": doc.Layer},
	})
	if err != nil {
		return nil, fmt.Errorf("write inventory of %s to %s: %w", doc.AMI, url, err)
	}
	_, err = ec2Client.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: []string{doc.AMI},
		Tags:      []ec2types.Tag{{Key: aws.String(TagSHA256), Value: aws.String(sum)}},
	})
	if err != nil {
		return nil, fmt.Errorf("tag %s with %s: %w", doc.AMI, TagSHA256, err)
	}
	return &Stored{URL: url, SHA256: sum, Size: len(data)}, nil
}

// NotRecordedError says an AMI has no inventory document: it was baked
// before amibake collected inventories (or by something else).
type NotRecordedError struct {
	AMI string
	URL string
}

func (e *NotRecordedError) Error() string {
	return fmt.Sprintf("no inventory recorded for AMI %s (%s does not exist): it was baked before inventory collection, rebake it to record one", e.AMI, e.URL)
}

// ChecksumError says a stored document does not match the AMI's checksum
// tag, or the tag is missing: the document cannot be trusted.
type ChecksumError struct {
	AMI  string
	URL  string
	Want string // the tag; empty when the AMI has none
	Got  string // sha256 of the stored bytes
}

func (e *ChecksumError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("inventory of %s at %s cannot be verified: the AMI has no %s tag", e.AMI, e.URL, TagSHA256)
	}
	return fmt.Sprintf("inventory of %s at %s does not match the AMI's %s tag (tag %s, document %s): it changed after it was recorded",
		e.AMI, e.URL, TagSHA256, e.Want, e.Got)
}

// Load reads the document of img (an AMI described with its tags) and
// verifies it against the AMI's amibake:inventory-sha256 tag. A missing
// document is *NotRecordedError, a mismatch *ChecksumError.
func Load(ctx context.Context, s3Client awsapi.S3, bucket, project string, img lineage.Image) (*Document, error) {
	if bucket == "" {
		return nil, errors.New("read inventory: no bucket (set inventory_bucket in the project block, or pass --bucket)")
	}
	url := URL(bucket, project, img.ID)
	out, err := s3Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(Key(project, img.ID))})
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, &NotRecordedError{AMI: img.ID, URL: url}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket" {
		return nil, fmt.Errorf("read inventory of %s: bucket %s does not exist", img.ID, bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("read inventory of %s from %s: %w", img.ID, url, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxDocumentSize))
	if err != nil {
		return nil, fmt.Errorf("read inventory of %s from %s: %w", img.ID, url, err)
	}
	got, want := Checksum(data), img.Tags[TagSHA256]
	if got != want {
		return nil, &ChecksumError{AMI: img.ID, URL: url, Want: want, Got: got}
	}
	doc, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if doc.AMI != img.ID {
		return nil, fmt.Errorf("%s describes %s, not %s", url, doc.AMI, img.ID)
	}
	return doc, nil
}
