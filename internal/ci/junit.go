package ci

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// result is the part of a per-layer JSON result (bake's `results`, and any
// other command that reports layers or fleets the same way) JUnit needs.
type result struct {
	Layer   string  `json:"layer"`
	Fleet   string  `json:"fleet"`
	Status  string  `json:"status"`
	Reason  string  `json:"reason"`
	Detail  string  `json:"detail"`
	Error   string  `json:"error"`
	Seconds float64 `json:"duration_seconds"`
}

type report struct {
	Project string   `json:"project"`
	Results []result `json:"results"`
}

// JUnit XML, the subset CodeBuild test reports read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitFailure `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// failed reports whether a status is a failure (the statuses bake uses).
func failed(status string) bool {
	switch strings.ToLower(status) {
	case "failed", "error", "interrupted", "killed", "timeout", "aborted":
		return true
	}
	return false
}

// JUnit converts an amibake JSON result (the output of `amibake --output
// json bake`, or any command whose JSON has a `results` list of layers or
// fleets with a status) into a JUnit report for CodeBuild: one test case
// per result; failed ones fail, skipped ones are skipped.
func JUnit(in io.Reader, out io.Writer) error {
	var r report
	if err := json.NewDecoder(in).Decode(&r); err != nil {
		return fmt.Errorf("read amibake JSON result: %w", err)
	}
	name := "amibake"
	if r.Project != "" {
		name = "amibake " + r.Project
	}
	suite := junitSuite{Name: name}
	var total float64
	for _, res := range r.Results {
		subject, class := res.Layer, "layer"
		if subject == "" && res.Fleet != "" {
			subject, class = res.Fleet, "fleet"
		}
		c := junitCase{Name: subject, ClassName: class, Time: fmt.Sprintf("%.3f", res.Seconds)}
		msg := res.Error
		if msg == "" {
			msg = res.Detail
		}
		switch {
		case failed(res.Status):
			c.Failure = &junitFailure{Message: res.Status, Text: msg}
			suite.Failures++
		case strings.EqualFold(res.Status, "skipped"):
			c.Skipped = &junitFailure{Message: msg}
			suite.Skipped++
		default:
			c.SystemOut = strings.TrimSpace(res.Status + " " + res.Reason + ": " + msg)
		}
		total += res.Seconds
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	suite.Time = fmt.Sprintf("%.3f", total)
	doc := junitSuites{Name: name, Tests: suite.Tests, Failures: suite.Failures, Skipped: suite.Skipped, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(out, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(out)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(out, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}
