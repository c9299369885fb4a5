package ci

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJUnit(t *testing.T) {
	in := `{"project":"acme-golden","run_id":"r1","results":[
	 {"layer":"linux","status":"built","action":"build","reason":"new","duration_seconds":12.5},
	 {"layer":"foundation","status":"failed","action":"build","reason":"new","error":"packer exited 1","duration_seconds":3},
	 {"layer":"base","status":"skipped","detail":"parent foundation failed","duration_seconds":0}],
	 "built":1,"failed":1,"skipped":1}`
	var out bytes.Buffer
	require.NoError(t, JUnit(strings.NewReader(in), &out))
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(out.Bytes(), &doc), out.String())
	assert.Equal(t, 3, doc.Tests)
	assert.Equal(t, 1, doc.Failures)
	assert.Equal(t, 1, doc.Skipped)
	require.Len(t, doc.Suites, 1)
	cases := doc.Suites[0].Cases
	require.Len(t, cases, 3)
	assert.Nil(t, cases[0].Failure)
	assert.Equal(t, "12.500", cases[0].Time)
	require.NotNil(t, cases[1].Failure)
	assert.Equal(t, "packer exited 1", cases[1].Failure.Text)
	require.NotNil(t, cases[2].Skipped)
	assert.Equal(t, "amibake acme-golden", doc.Suites[0].Name)

	assert.ErrorContains(t, JUnit(strings.NewReader("not json"), &out), "read amibake JSON result")
}
