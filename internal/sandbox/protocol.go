package sandbox

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Service namespaces as they appear in the SigV4 credential scope.
const (
	svcEC2         = "ec2"
	svcSSM         = "ssm"
	svcAutoScaling = "autoscaling"
	svcSTS         = "sts"
)

var xmlNamespaces = map[string]string{
	svcEC2:         "http://ec2.amazonaws.com/doc/2016-11-15/",
	svcAutoScaling: "http://autoscaling.amazonaws.com/doc/2011-01-01/",
	svcSTS:         "https://sts.amazonaws.com/doc/2011-06-15/",
}

// innerXML encodes v (a struct) and strips its outer element, so result
// structs need no XMLName and can be wrapped by any envelope.
func innerXML(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "x"}}); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	b = bytes.TrimPrefix(b, []byte("<x>"))
	b = bytes.TrimSuffix(b, []byte("</x>"))
	if bytes.Equal(b, []byte("<x/>")) || bytes.Equal(b, []byte("<x></x>")) {
		return nil, nil
	}
	return b, nil
}

// writeEC2 writes an EC2 Query response: <ActionResponse><requestId>…
func writeEC2(w http.ResponseWriter, action, requestID string, v any) {
	body, err := innerXML(v)
	if err != nil {
		writeEC2Error(w, requestID, &APIError{Status: 500, Code: "InternalError", Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<%sResponse xmlns="%s"><requestId>%s</requestId>`, action, xmlNamespaces[svcEC2], requestID)
	w.Write(body)
	fmt.Fprintf(w, "</%sResponse>", action)
}

func writeEC2Error(w http.ResponseWriter, requestID string, e *APIError) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.Status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
		xmlEscape(e.Code), xmlEscape(e.Message), requestID)
}

// writeQuery writes an awsquery response (Auto Scaling, STS):
// <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…
func writeQuery(w http.ResponseWriter, service, action, requestID string, v any) {
	body, err := innerXML(v)
	if err != nil {
		writeQueryError(w, service, requestID, &APIError{Status: 500, Code: "InternalFailure", Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<%sResponse xmlns="%s">`, action, xmlNamespaces[service])
	// A non-nil result gets its <ActionResult> even when empty: the SDK
	// requires it for actions with an (empty) output shape, such as
	// SetInstanceProtection. Return nil for actions without one.
	if body != nil || v != nil {
		fmt.Fprintf(w, "<%sResult>", action)
		w.Write(body)
		fmt.Fprintf(w, "</%sResult>", action)
	}
	fmt.Fprintf(w, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", requestID, action)
}

func writeQueryError(w http.ResponseWriter, service, requestID string, e *APIError) {
	typ := "Receiver"
	if e.Sender {
		typ = "Sender"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		xmlNamespaces[service], typ, xmlEscape(e.Code), xmlEscape(e.Message), requestID)
}

// writeJSON writes an awsJson1_1 response.
func writeJSON(w http.ResponseWriter, requestID string, v any) {
	if v == nil {
		v = struct{}{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		writeJSONError(w, requestID, &APIError{Status: 500, Code: "InternalServerError", Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func writeJSONError(w http.ResponseWriter, requestID string, e *APIError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	b, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	w.Write(b)
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Form helpers for the Query protocols. AWS lists are flattened as
// Name.1, Name.2 … (EC2) or Name.member.1 … (awsquery).

// formList reads Name.1..n (EC2 style) until the first gap.
func formList(f map[string][]string, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := f[name+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// formMembers reads Name.member.1..n (awsquery style).
func formMembers(f map[string][]string, name string) []string {
	return formList(f, name+".member")
}

// formStructs returns the prefixes "Name.1", "Name.2" … that have any key,
// for lists of structures such as Filter.N.Name / Filter.N.Value.M.
func formStructs(f map[string][]string, name string) []string {
	var out []string
	for i := 1; ; i++ {
		p := name + "." + strconv.Itoa(i) + "."
		found := false
		for k := range f {
			if strings.HasPrefix(k, p) {
				found = true
				break
			}
		}
		if !found {
			return out
		}
		out = append(out, p[:len(p)-1])
	}
}

func formGet(f map[string][]string, name string) string {
	if v, ok := f[name]; ok && len(v) > 0 {
		return v[0]
	}
	return ""
}

func formHas(f map[string][]string, name string) bool {
	_, ok := f[name]
	return ok
}

func formInt(f map[string][]string, name string, def int) (int, error) {
	v := formGet(f, name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errInvalidParameterValue("Invalid value '%s' for %s", v, name)
	}
	return n, nil
}

func formBool(f map[string][]string, name string) bool {
	return strings.EqualFold(formGet(f, name), "true")
}
