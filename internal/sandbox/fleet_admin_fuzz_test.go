package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/amibake/amibake/internal/sandbox"
)

// FuzzSeedFleetsSpec: any body posted to the seed endpoint is answered 200
// or 400, never a 5xx or a dead server, and a 200 made what was asked.
func FuzzSeedFleetsSpec(f *testing.F) {
	for _, s := range []string{
		`{"launch_templates":[{"name":"web","image_id":"ami-0123456789abcdef0"}],"groups":[{"name":"g","launch_template":"web","size":2}]}`,
		`{"instances":[{"image_id":"ami-0123456789abcdef0","count":2,"tags":{"role":"worker"}}],"alarms":[{"name":"a","state":"ALARM"}]}`,
		`{"groups":[{"name":"g","launch_template":"missing","size":1}]}`,
		`{"alarms":[{"name":"a","state":"bogus"}]}`,
		`{"region":"mars-1"}`, `{"unknown":1}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	sb := sandbox.Start(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var spec sandbox.FleetSeed
		if json.Unmarshal(body, &spec) == nil {
			// Thousands of instances are a load test, not a parser input.
			total := int64(0)
			for _, g := range spec.Groups {
				total += int64(g.Size)
			}
			for _, in := range spec.Instances {
				total += int64(in.Count)
			}
			if total > 20 || len(spec.LaunchTemplates) > 5 || len(spec.Alarms) > 20 {
				return
			}
		}
		resp, err := http.Post(sb.URL()+"/_sandbox/seed/fleets", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusBadRequest:
		case http.StatusOK:
			var out sandbox.FleetSeeded
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("200 with %q: %v", b, err)
			}
			if len(out.LaunchTemplates) > len(spec.LaunchTemplates) || len(out.Alarms) != len(spec.Alarms) {
				t.Fatalf("asked %s, made %s", body, b)
			}
		default:
			t.Fatalf("%d for %q: %s", resp.StatusCode, body, b)
		}
	})
}
