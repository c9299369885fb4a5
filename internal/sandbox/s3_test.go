package sandbox

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func s3Client(sb *Sandbox, account, region string) *s3.Client {
	return s3.NewFromConfig(sb.ConfigFor(account, region), func(o *s3.Options) { o.UsePathStyle = true })
}

func s3Code(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	assert.Equal(t, code, ae.ErrorCode(), err.Error())
}

func TestS3BucketsAndObjects(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	cl := s3Client(sb, DefaultAccount, DefaultRegion)

	_, err := cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("inv-bucket")})
	var nf *s3types.NotFound
	require.ErrorAs(t, err, &nf, "HeadBucket on a missing bucket is NotFound")

	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String("a"), Body: bytes.NewReader([]byte("x"))})
	s3Code(t, err, "NoSuchBucket")

	_, err = cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("inv-bucket")})
	require.NoError(t, err)
	_, err = cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("inv-bucket")})
	var owned *s3types.BucketAlreadyOwnedByYou
	require.ErrorAs(t, err, &owned)
	_, err = cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("inv-bucket")})
	require.NoError(t, err)

	// A LocationConstraint outside us-east-1 must match the region.
	eu := s3Client(sb, DefaultAccount, "eu-west-1")
	_, err = eu.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("inv-bucket"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}})
	require.NoError(t, err, "buckets are per account and region")
	// Another account's bucket of the same name is its own.
	other := s3Client(sb, "210987654321", DefaultRegion)
	_, err = other.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("inv-bucket")})
	require.ErrorAs(t, err, &nf)

	body := []byte(`{"hello":"world"}`)
	sum := md5.Sum(body)
	put, err := cl.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("inv-bucket"), Key: aws.String("proj/inventory/ami-1.json"),
		Body: bytes.NewReader(body), ContentType: aws.String("application/json"),
		Metadata: map[string]string{"sha256": "abc", "Layer": "app-web"},
	})
	require.NoError(t, err)
	assert.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, aws.ToString(put.ETag))

	get, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String("proj/inventory/ami-1.json")})
	require.NoError(t, err)
	got, err := io.ReadAll(get.Body)
	require.NoError(t, err)
	get.Body.Close()
	assert.Equal(t, body, got)
	assert.Equal(t, int64(len(body)), aws.ToInt64(get.ContentLength))
	assert.Equal(t, aws.ToString(put.ETag), aws.ToString(get.ETag))
	assert.Equal(t, "application/json", aws.ToString(get.ContentType))
	assert.Equal(t, map[string]string{"sha256": "abc", "layer": "app-web"}, get.Metadata)
	assert.NotNil(t, get.LastModified)

	head, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String("proj/inventory/ami-1.json")})
	require.NoError(t, err)
	assert.Equal(t, int64(len(body)), aws.ToInt64(head.ContentLength))
	assert.Equal(t, "abc", head.Metadata["sha256"])

	_, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String("nope")})
	var nsk *s3types.NoSuchKey
	require.ErrorAs(t, err, &nsk)
	_, err = cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String("nope")})
	require.ErrorAs(t, err, &nf)

	// Overwrite, then delete (idempotent).
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String("proj/inventory/ami-1.json"), Body: bytes.NewReader([]byte("v2"))})
	require.NoError(t, err)
	get, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String("proj/inventory/ami-1.json")})
	require.NoError(t, err)
	got, _ = io.ReadAll(get.Body)
	get.Body.Close()
	assert.Equal(t, "v2", string(got))
	assert.Empty(t, get.Metadata, "an overwrite replaces the metadata")
	for range 2 {
		_, err = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String("proj/inventory/ami-1.json")})
		require.NoError(t, err)
	}
	_, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String("proj/inventory/ami-1.json")})
	require.ErrorAs(t, err, &nsk)

	// Keys with spaces and unicode survive the path encoding.
	key := "dir/with space/ünï+code.json"
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String(key), Body: bytes.NewReader([]byte("k"))})
	require.NoError(t, err)
	_, err = cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("inv-bucket"), Key: aws.String(key)})
	require.NoError(t, err)
}

func TestS3ListObjectsV2(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	cl := s3Client(sb, DefaultAccount, DefaultRegion)
	_, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("list-bucket")})
	require.NoError(t, err)
	var keys []string
	for i := range 7 {
		keys = append(keys, fmt.Sprintf("p/inventory/ami-%02d.json", i))
	}
	keys = append(keys, "p/other/x.json", "p/other/y.json", "q/z.json", "p/top.json")
	for _, k := range keys {
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("list-bucket"), Key: aws.String(k), Body: bytes.NewReader([]byte(k))})
		require.NoError(t, err)
	}

	// Prefix, paged by the paginator with MaxKeys 3.
	var got []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String("list-bucket"), Prefix: aws.String("p/inventory/"), MaxKeys: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		require.NoError(t, err)
		pages++
		assert.LessOrEqual(t, aws.ToInt32(out.KeyCount), int32(3))
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
			assert.Equal(t, int64(len(aws.ToString(o.Key))), aws.ToInt64(o.Size))
			assert.NotEmpty(t, aws.ToString(o.ETag))
		}
	}
	assert.Equal(t, keys[:7], got)
	assert.Equal(t, 3, pages)

	// Delimiter: common prefixes roll up and count once against MaxKeys.
	out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list-bucket"), Prefix: aws.String("p/"), Delimiter: aws.String("/")})
	require.NoError(t, err)
	var prefixes []string
	for _, cp := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(cp.Prefix))
	}
	assert.Equal(t, []string{"p/inventory/", "p/other/"}, prefixes)
	require.Len(t, out.Contents, 1)
	assert.Equal(t, "p/top.json", aws.ToString(out.Contents[0].Key))
	assert.False(t, aws.ToBool(out.IsTruncated))

	var all []string
	p = s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String("list-bucket"), Delimiter: aws.String("/"), Prefix: aws.String("p/"), MaxKeys: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, cp := range out.CommonPrefixes {
			all = append(all, aws.ToString(cp.Prefix))
		}
		for _, o := range out.Contents {
			all = append(all, aws.ToString(o.Key))
		}
	}
	assert.Equal(t, []string{"p/inventory/", "p/other/", "p/top.json"}, all)

	_, err = cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("missing-bucket")})
	var nsb *s3types.NoSuchBucket
	require.ErrorAs(t, err, &nsb)
	_, err = cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list-bucket"), ContinuationToken: aws.String("garbage!")})
	s3Code(t, err, "InvalidArgument")
}

func TestS3PersistsWithTheWorld(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	ctx := context.Background()
	sb := Start(t, func(o *Options) { o.StateFile = state })
	cl := s3Client(sb, DefaultAccount, DefaultRegion)
	_, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kept")})
	require.NoError(t, err)
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("kept"), Key: aws.String("k"), Body: bytes.NewReader([]byte("persisted")), Metadata: map[string]string{"a": "b"}})
	require.NoError(t, err)
	require.NoError(t, sb.Close())

	sb2 := Start(t, func(o *Options) { o.StateFile = state })
	get, err := s3Client(sb2, DefaultAccount, DefaultRegion).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("kept"), Key: aws.String("k")})
	require.NoError(t, err)
	b, _ := io.ReadAll(get.Body)
	get.Body.Close()
	assert.Equal(t, "persisted", string(b))
	assert.Equal(t, "b", get.Metadata["a"])
	assert.Equal(t, 1, sb2.CountCalls("s3", "GetObject"))
}

func TestS3FaultsAndLimits(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	cl := s3Client(sb, DefaultAccount, DefaultRegion)
	_, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("faulty")})
	require.NoError(t, err)

	// Throttling is S3's SlowDown, which the SDK's retryer retries.
	sb.SetFaults(FaultRule{Service: "s3", Action: "PutObject", ThrottleRate: 1, Remaining: 2})
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("faulty"), Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))})
	require.NoError(t, err)
	var slow int
	for _, e := range sb.Log() {
		if e.Service == "s3" && e.Action == "PutObject" && e.Error == "SlowDown" {
			slow++
		}
	}
	assert.Equal(t, 2, slow)
	sb.SetFaults()

	// A body past the sandbox's 16 MiB read limit is refused, not truncated.
	big := bytes.Repeat([]byte("a"), 16<<20+1)
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("faulty"), Key: aws.String("big"), Body: bytes.NewReader(big)})
	s3Code(t, err, "EntityTooLarge")

	_, err = cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	s3Code(t, err, "InvalidBucketName")
	_, err = cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("faulty")})
	s3Code(t, err, "BucketNotEmpty")
}

func TestDecodeAWSChunked(t *testing.T) {
	body := "5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n"
	req := &s3Request{header: map[string][]string{"X-Amz-Content-Sha256": {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}}, body: []byte(body)}
	got, err := decodeS3Body(req)
	require.NoError(t, err)
	assert.Equal(t, "hello world", string(got))

	req.body = []byte("zz\r\nhello")
	_, err = decodeS3Body(req)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "IncompleteBody", ae.Code)
}
