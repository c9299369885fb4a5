package sandbox

// CloudWatch, as the pinned service/cloudwatch SDK speaks it: Smithy RPC v2
// CBOR (POST /service/GraniteServiceVersion20100801/operation/<Op>,
// Smithy-Protocol: rpc-v2-cbor, CBOR bodies, errors as a CBOR map with
// "__type" and "message" plus the awsQueryCompatible X-Amzn-Query-Error
// header).
//
// GetMetricData evaluates metric-math Expression queries (package
// metricmath) over the MetricStat queries of the same request, returning
// only the queries with ReturnData unset or true; a bad expression is the
// 400 ValidationError "Error in expression ID: …".
//
// GetMetricData serves per-instance synthetic series for any query whose
// dimensions name an InstanceId: deterministic from the world's seed, the
// instance id, the metric and the period's timestamp, shaped by the
// instance's AMI "performance profile" (normal unless an admin call marked
// the AMI slow on a metric). Points written with PutMetricData win over the
// synthetic value for their period. DescribeAlarms and SetAlarmState read
// and write the alarm state of autoscaling_alarms.go.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/amibake/amibake/internal/canary/metricmath"
)

const (
	svcCloudWatch = "monitoring"
	// cwPathPrefix is the RPC v2 path prefix; the operation name follows.
	cwPathPrefix = "/service/GraniteServiceVersion20100801/operation/"
)

// CloudWatchState is what CloudWatch holds beyond alarms (which live in
// ASGState): stored points and per-AMI performance profiles. It is part
// of the world, so a state file keeps it.
type CloudWatchState struct {
	// Points by series key (account/region/namespace/metric/dims).
	Points map[string][]cwPoint `json:"points"`
	// Slow maps image id → metric name → factor (1.3 = 30% slower).
	Slow map[string]map[string]float64 `json:"slow"`
	// Noisy maps image id → metric name → noise multiplier (3 = three
	// times the normal per-period spread).
	Noisy map[string]map[string]float64 `json:"noisy"`
}

type cwPoint struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// cloudWatch returns the world's CloudWatch state, created on first use
// (and for a state file written before it existed).
func (w *World) cloudWatch() *CloudWatchState {
	st := w.CloudWatch
	if st == nil {
		st = &CloudWatchState{}
		w.CloudWatch = st
	}
	if st.Points == nil {
		st.Points = map[string][]cwPoint{}
	}
	if st.Slow == nil {
		st.Slow = map[string]map[string]float64{}
	}
	if st.Noisy == nil {
		st.Noisy = map[string]map[string]float64{}
	}
	return st
}

// SetImagePerformance makes instances launched from image slower on metric
// by factor (1.3: values 30% worse; for a higher-is-better metric pass a
// factor below 1). A factor of 1 restores the normal profile.
func (s *Server) SetImagePerformance(imageID, metric string, factor float64) error {
	if imageID == "" || metric == "" || factor <= 0 || math.IsNaN(factor) || math.IsInf(factor, 0) {
		return fmt.Errorf("image performance: want an image id, a metric and a positive factor (got %q, %q, %v)", imageID, metric, factor)
	}
	var err error
	s.Do(func(w *World) {
		if _, ok := w.EC2.Images[imageID]; !ok {
			err = fmt.Errorf("image performance: image %s not found", imageID)
			return
		}
		st := w.cloudWatch()
		if st.Slow[imageID] == nil {
			st.Slow[imageID] = map[string]float64{}
		}
		if factor == 1 {
			delete(st.Slow[imageID], metric)
			return
		}
		st.Slow[imageID][metric] = factor
	})
	if err == nil {
		err = s.persist()
	}
	return err
}

// SetImageNoise makes instances launched from image noisier on metric:
// the per-period spread times multiplier (1 restores the normal profile).
func (s *Server) SetImageNoise(imageID, metric string, multiplier float64) error {
	if imageID == "" || metric == "" || multiplier <= 0 || math.IsNaN(multiplier) || math.IsInf(multiplier, 0) {
		return fmt.Errorf("image noise: want an image id, a metric and a positive multiplier (got %q, %q, %v)", imageID, metric, multiplier)
	}
	var err error
	s.Do(func(w *World) {
		if _, ok := w.EC2.Images[imageID]; !ok {
			err = fmt.Errorf("image noise: image %s not found", imageID)
			return
		}
		st := w.cloudWatch()
		if st.Noisy[imageID] == nil {
			st.Noisy[imageID] = map[string]float64{}
		}
		if multiplier == 1 {
			delete(st.Noisy[imageID], metric)
			return
		}
		st.Noisy[imageID][metric] = multiplier
	})
	if err == nil {
		err = s.persist()
	}
	return err
}

// persist schedules a state-file write after an admin change, as an API
// mutation does.
func (s *Server) persist() error {
	if s.opts.StateFile == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveLocked()
}

// SlowImage is SetImagePerformance with the admin call's name.
func (s *Server) SlowImage(imageID, metric string, factor float64) error {
	return s.SetImagePerformance(imageID, metric, factor)
}

func (s *Server) registerCloudWatch() {
	s.handle(svcCloudWatch, "GetMetricData", cwGetMetricData)
	s.handle(svcCloudWatch, "PutMetricData", cwPutMetricData)
	s.handle(svcCloudWatch, "DescribeAlarms", cwDescribeAlarms)
	s.handle(svcCloudWatch, "SetAlarmState", cwSetAlarmState)
	// POST /_sandbox/images/{id}/slow {"metric":"Latency","factor":1.3[,"noise":3]}
	s.admin.HandleFunc("POST /_sandbox/images/{id}/slow", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Metric string  `json:"metric"`
			Factor float64 `json:"factor"`
			Noise  float64 `json:"noise"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			adminError(rw, http.StatusBadRequest, fmt.Errorf("slow image: %w", err))
			return
		}
		if req.Factor == 0 {
			req.Factor = 1
		}
		if req.Noise == 0 {
			req.Noise = 1
		}
		err := s.SetImagePerformance(r.PathValue("id"), req.Metric, req.Factor)
		if err == nil {
			err = s.SetImageNoise(r.PathValue("id"), req.Metric, req.Noise)
		}
		if err != nil {
			adminError(rw, http.StatusBadRequest, err)
			return
		}
		adminJSON(rw, map[string]any{"image": r.PathValue("id"), "metric": req.Metric, "factor": req.Factor, "noise": req.Noise})
	})
}

var (
	cwEnc cbor.EncMode
	cwDec cbor.DecMode
)

func init() {
	var err error
	cwEnc, err = cbor.EncOptions{Time: cbor.TimeUnixDynamic, TimeTag: cbor.EncTagRequired}.EncMode()
	if err != nil {
		panic(err)
	}
	cwDec, err = cbor.DecOptions{DefaultMapType: nil}.DecMode()
	if err != nil {
		panic(err)
	}
}

// serveCloudWatch answers an RPC v2 CBOR request whose SigV4 scope names
// the monitoring service.
func (s *Server) serveCloudWatch(w http.ResponseWriter, r *http.Request, c *Call, body []byte, started time.Time) {
	c.Body = body
	c.Action = strings.TrimPrefix(r.URL.Path, cwPathPrefix)
	fail := func(e *APIError, injected bool) {
		writeCBORError(w, c.RequestID, e)
		s.record(c, e, started, injected)
	}
	// PutMetricData bodies arrive gzip-compressed (the SDK's request
	// compression).
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") && len(body) > 0 {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			c.Body, err = io.ReadAll(io.LimitReader(zr, 16<<20))
		}
		if err != nil {
			fail(&APIError{Status: 400, Code: "SerializationException", Message: "gzip body: " + err.Error(), Sender: true}, false)
			return
		}
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, cwPathPrefix) || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		fail(&APIError{Status: 400, Code: "UnknownOperationException", Message: "CloudWatch is served as Smithy RPC v2 CBOR only", Sender: true}, false)
		return
	}
	h := s.handlers[svcCloudWatch][c.Action]
	if h == nil {
		fail(&APIError{Status: 400, Code: "UnknownOperationException", Message: fmt.Sprintf("the sandbox does not serve CloudWatch %s", c.Action), Sender: true}, false)
		return
	}
	if rule := s.matchFault(c); rule != nil {
		c.fault = rule
		if e := s.rollFault(c, rule); e != nil {
			fail(e, true)
			return
		}
	}
	s.mu.Lock()
	c.Now = s.tickLocked()
	c.World = s.world
	c.server = s
	if !s.world.HasRegion(c.Region) {
		s.mu.Unlock()
		fail(&APIError{Status: 400, Code: "InvalidClientTokenId", Message: fmt.Sprintf("region %q is not enabled for this account", c.Region), Sender: true}, false)
		return
	}
	result, herr := safeCall(h, c)
	if herr == nil && s.opts.StateFile != "" && mutating(c.Action) {
		herr = s.saveLocked() // alarms and PutMetricData points live in the world
	}
	s.mu.Unlock()
	if herr != nil {
		var e *APIError
		if !errors.As(herr, &e) {
			e = &APIError{Status: 500, Code: "InternalServiceFault", Message: herr.Error()}
		}
		fail(e, false)
		return
	}
	out, err := cwEnc.Marshal(result)
	if err != nil {
		fail(&APIError{Status: 500, Code: "InternalServiceFault", Message: "encode response: " + err.Error()}, false)
		return
	}
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("X-Amzn-RequestId", c.RequestID)
	w.WriteHeader(http.StatusOK)
	w.Write(out) //nolint:errcheck // client gone
	s.record(c, nil, started, false)
}

func writeCBORError(w http.ResponseWriter, requestID string, e *APIError) {
	fault := "Receiver"
	if e.Sender {
		fault = "Sender"
	}
	b, _ := cwEnc.Marshal(map[string]string{"__type": "com.amazonaws.cloudwatch#" + e.Code, "message": e.Message})
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.Header().Set("X-Amzn-Query-Error", e.Code+";"+fault)
	w.WriteHeader(e.Status)
	w.Write(b) //nolint:errcheck // client gone
}

func cwDecode(c *Call, v any) error {
	if len(c.Body) == 0 {
		return nil
	}
	if err := cwDec.Unmarshal(c.Body, v); err != nil {
		return &APIError{Status: 400, Code: "SerializationException", Message: err.Error(), Sender: true}
	}
	return nil
}

func cwInvalid(format string, a ...any) error {
	return &APIError{Status: 400, Code: "InvalidParameterValue", Message: fmt.Sprintf(format, a...), Sender: true}
}

// cwValidation is the error CloudWatch answers a malformed query or
// metric-math expression with.
func cwValidation(format string, a ...any) error {
	return &APIError{Status: 400, Code: "ValidationError", Message: fmt.Sprintf(format, a...), Sender: true}
}

// Wire shapes (member names as Smithy names them).

type cwDimension struct {
	Name  string `cbor:"Name"`
	Value string `cbor:"Value"`
}

type cwMetric struct {
	Namespace  string        `cbor:"Namespace,omitempty"`
	MetricName string        `cbor:"MetricName,omitempty"`
	Dimensions []cwDimension `cbor:"Dimensions,omitempty"`
}

type cwQuery struct {
	ID         string `cbor:"Id"`
	Expression string `cbor:"Expression"`
	Label      string `cbor:"Label"`
	ReturnData *bool  `cbor:"ReturnData"`
	Period     int32  `cbor:"Period"`
	MetricStat *struct {
		Metric cwMetric `cbor:"Metric"`
		Period int32    `cbor:"Period"`
		Stat   string   `cbor:"Stat"`
		Unit   string   `cbor:"Unit"`
	} `cbor:"MetricStat"`
}

type cwResult struct {
	ID         string      `cbor:"Id"`
	Label      string      `cbor:"Label,omitempty"`
	Timestamps []time.Time `cbor:"Timestamps"`
	Values     []float64   `cbor:"Values"`
	StatusCode string      `cbor:"StatusCode"`
	Messages   []cwMessage `cbor:"Messages,omitempty"`
}

type cwMessage struct {
	Code  string `cbor:"Code"`
	Value string `cbor:"Value"`
}

// cwMaxPoints bounds one GetMetricData answer, as CloudWatch does.
const cwMaxPoints = 100800

func cwGetMetricData(c *Call) (any, error) {
	var in struct {
		Queries   []cwQuery `cbor:"MetricDataQueries"`
		StartTime time.Time `cbor:"StartTime"`
		EndTime   time.Time `cbor:"EndTime"`
		ScanBy    string    `cbor:"ScanBy"`
		MaxPoints int32     `cbor:"MaxDatapoints"`
	}
	if err := cwDecode(c, &in); err != nil {
		return nil, err
	}
	if len(in.Queries) == 0 || len(in.Queries) > 500 {
		return nil, cwInvalid("MetricDataQueries must hold 1 to 500 queries, got %d", len(in.Queries))
	}
	if in.StartTime.IsZero() || in.EndTime.IsZero() || !in.EndTime.After(in.StartTime) {
		return nil, cwInvalid("The parameter EndTime must be greater than StartTime.")
	}
	st := c.World.cloudWatch()
	type out struct {
		MetricDataResults []cwResult  `cbor:"MetricDataResults"`
		Messages          []cwMessage `cbor:"Messages,omitempty"`
	}
	res := out{MetricDataResults: []cwResult{}}
	byID := map[string]*cwQuery{}
	gridPeriod := int32(0) // the finest MetricStat period: an expression's default
	for i := range in.Queries {
		q := &in.Queries[i]
		if q.ID == "" {
			return nil, cwInvalid("every MetricDataQuery needs an Id")
		}
		if !metricmath.IDPattern.MatchString(q.ID) || len(q.ID) > metricmath.MaxIDLength {
			return nil, cwValidation("The value %s for parameter MetricDataQueries.member.%d.Id is not valid: an Id starts with a lowercase letter, then letters, digits or underscores.", q.ID, i+1)
		}
		if byID[q.ID] != nil {
			return nil, cwValidation("The value %s for parameter MetricDataQueries.member.%d.Id is not unique.", q.ID, i+1)
		}
		byID[q.ID] = q
		if (q.MetricStat == nil) == (q.Expression == "") {
			return nil, cwInvalid("query %s: exactly one of MetricStat and Expression must be set", q.ID)
		}
		if q.MetricStat != nil && (gridPeriod == 0 || q.MetricStat.Period < gridPeriod) {
			gridPeriod = q.MetricStat.Period
		}
	}
	// Every MetricStat query is read, also those with ReturnData false:
	// expressions name them.
	values := map[string][]metricmath.Series{}
	for i := range in.Queries {
		q := &in.Queries[i]
		if q.MetricStat == nil {
			continue
		}
		s, err := cwMetricStat(c, st, q, in.StartTime, in.EndTime)
		if err != nil {
			return nil, err
		}
		values[q.ID] = []metricmath.Series{s}
	}
	ev := &cwExprEval{c: c, byID: byID, values: values, start: in.StartTime, end: in.EndTime, defPeriod: gridPeriod, busy: map[string]bool{}}
	total := 0
	for i := range in.Queries {
		q := &in.Queries[i]
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		if q.Expression != "" {
			if _, err := ev.eval(q.ID); err != nil {
				return nil, err
			}
		}
		label := q.Label
		if label == "" && q.MetricStat != nil {
			label = q.MetricStat.Metric.MetricName
		}
		if label == "" {
			label = q.ID
		}
		for _, s := range values[q.ID] {
			r := cwResult{ID: q.ID, Label: label, Timestamps: append([]time.Time{}, s.T...), Values: append([]float64{}, s.V...), StatusCode: "Complete"}
			if in.ScanBy != "TimestampAscending" {
				slices.Reverse(r.Timestamps)
				slices.Reverse(r.Values)
			}
			total += len(r.Values)
			if total > cwMaxPoints {
				return nil, cwInvalid("the request asks for more than %d data points", cwMaxPoints)
			}
			res.MetricDataResults = append(res.MetricDataResults, r)
		}
	}
	return res, nil
}

// cwMetricStat reads one MetricStat query's series, ascending: stored
// points where there are some, else the instance's synthetic value.
func cwMetricStat(c *Call, st *CloudWatchState, q *cwQuery, start, end time.Time) (metricmath.Series, error) {
	ms := q.MetricStat
	out := metricmath.Series{T: []time.Time{}, V: []float64{}}
	if !validPeriod(ms.Period) {
		return out, cwInvalid("query %s: Period must be 1, 5, 10, 30 or a multiple of 60, got %d", q.ID, ms.Period)
	}
	if ms.Stat == "" || ms.Metric.Namespace == "" || ms.Metric.MetricName == "" {
		return out, cwInvalid("query %s: MetricStat needs Metric.Namespace, Metric.MetricName and Stat", q.ID)
	}
	period := time.Duration(ms.Period) * time.Second
	key := cwSeriesKey(c.Account, c.Region, ms.Metric)
	stored := st.Points[key]
	inst := cwInstanceFor(c, ms.Metric.Dimensions)
	for _, t := range cwGrid(start, end, c.Now, period) {
		var bucket []float64
		for _, p := range stored {
			if !p.T.Before(t) && p.T.Before(t.Add(period)) {
				bucket = append(bucket, p.V)
			}
		}
		var v float64
		switch {
		case len(bucket) > 0:
			var ok bool
			if v, ok = cwAggregate(bucket, ms.Stat); !ok {
				return out, cwInvalid("query %s: unsupported statistic %q", q.ID, ms.Stat)
			}
		case inst != nil:
			var ok bool
			if v, ok = cwSynthetic(c.World, st, inst, ms.Metric.MetricName, ms.Stat, t, period); !ok {
				return out, cwInvalid("query %s: unsupported statistic %q", q.ID, ms.Stat)
			}
		default:
			continue
		}
		out.T = append(out.T, t)
		out.V = append(out.V, v)
	}
	return out, nil
}

// cwGrid is every period start in [start, end) that is not in the future.
func cwGrid(start, end, now time.Time, period time.Duration) []time.Time {
	var grid []time.Time
	for t := start.UTC().Truncate(period); t.Before(end); t = t.Add(period) {
		if t.Before(start) || t.After(now) {
			continue
		}
		grid = append(grid, t)
	}
	return grid
}

// cwExprEval evaluates expression queries on demand: an expression may
// name another expression, in any order of the request, but not itself.
type cwExprEval struct {
	c          *Call
	byID       map[string]*cwQuery
	values     map[string][]metricmath.Series
	start, end time.Time
	defPeriod  int32
	busy       map[string]bool
}

func (e *cwExprEval) eval(id string) ([]metricmath.Series, error) {
	if v, ok := e.values[id]; ok {
		return v, nil
	}
	q := e.byID[id]
	if e.busy[id] {
		return nil, cwValidation("Error in expression %s: it refers to itself through other expressions", id)
	}
	e.busy[id] = true
	defer delete(e.busy, id)
	n, err := metricmath.Parse(q.Expression)
	if err != nil {
		return nil, cwValidation("Error in expression %s: %v", id, err)
	}
	period := q.Period
	if period == 0 {
		period = e.defPeriod
	}
	if period == 0 {
		period = 60
	}
	if !validPeriod(period) {
		return nil, cwInvalid("query %s: Period must be 1, 5, 10, 30 or a multiple of 60, got %d", id, period)
	}
	grid := cwGrid(e.start, e.end, e.c.Now, time.Duration(period)*time.Second)
	v, err := metricmath.Eval(n, metricmath.Env{Grid: grid, Lookup: func(ref string) (metricmath.Value, error) {
		if e.byID[ref] == nil {
			return metricmath.Value{}, cwValidation("Error in expression %s: Unrecognized metric or expression id %s", id, ref)
		}
		list, err := e.eval(ref)
		if err != nil {
			return metricmath.Value{}, err
		}
		if len(list) == 1 {
			return metricmath.SeriesValue(list[0]), nil
		}
		return metricmath.Value{Kind: metricmath.Multi, List: list}, nil
	}})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, cwValidation("Error in expression %s: %v", id, err)
	}
	out := metricmath.Result(v, grid)
	for i := range out {
		if out[i].T == nil {
			out[i] = metricmath.Series{T: []time.Time{}, V: []float64{}}
		}
	}
	e.values[id] = out
	return out, nil
}

// validPeriod: 1, 5, 10, 30 (high resolution) or a multiple of 60 seconds.
func validPeriod(p int32) bool {
	switch p {
	case 1, 5, 10, 30:
		return true
	}
	return p >= 60 && p%60 == 0
}

// cwInstanceFor finds the instance a query's InstanceId dimension names
// (in the caller's account and region).
func cwInstanceFor(c *Call, dims []cwDimension) *Instance {
	for _, d := range dims {
		if d.Name == "InstanceId" {
			if in := c.World.EC2.Instances[d.Value]; in != nil && in.Account == c.Account && in.Region == c.Region {
				return in
			}
		}
	}
	return nil
}

func cwSeriesKey(account, region string, m cwMetric) string {
	dims := append([]cwDimension(nil), m.Dimensions...)
	sort.Slice(dims, func(i, j int) bool { return dims[i].Name < dims[j].Name })
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s/%s/%s", account, region, m.Namespace, m.MetricName)
	for _, d := range dims {
		fmt.Fprintf(&b, "/%s=%s", d.Name, d.Value)
	}
	return b.String()
}

// cwBase is a metric's typical per-period average on a healthy instance.
func cwBase(metric string) float64 {
	switch strings.ToLower(metric) {
	case "latency", "targetresponsetime", "responsetime":
		return 120 // ms
	case "5xxrate", "errorrate", "4xxrate":
		return 0.5 // percent
	case "errors", "errorcount", "5xxcount", "4xxcount", "5xx", "4xx":
		return 0.5 // per second: an error rate of 0.5% against requests
	case "requests", "requestcount":
		return 100 // per second
	case "cpuutilization":
		return 35
	case "memoryutilization", "mem_used_percent":
		return 45
	}
	return 100
}

// cwStatFactor shapes a statistic relative to the per-period average.
func cwStatFactor(stat string, period time.Duration) (float64, bool) {
	switch s := strings.ToLower(stat); {
	case s == "average":
		return 1, true
	case s == "minimum":
		return 0.4, true
	case s == "maximum":
		return 2.5, true
	case s == "samplecount":
		return 0, true
	case s == "sum":
		return period.Seconds(), true
	case strings.HasPrefix(s, "p"):
		var q float64
		if _, err := fmt.Sscanf(s[1:], "%g", &q); err != nil || q < 0 || q > 100 {
			return 0, false
		}
		// A right-skewed distribution: p50 a little under the mean, the
		// tail growing towards p99.
		return 0.9 + 0.9*math.Pow(q/100, 3), true
	}
	return 0, false
}

// cwSynthetic is one period's value for an instance: the metric's base,
// the statistic's shape, the AMI's profile, a per-instance offset (σ 1%)
// and per-period noise (σ 5%, times the AMI's noise multiplier), all
// deterministic.
func cwSynthetic(w *World, st *CloudWatchState, in *Instance, metric, stat string, t time.Time, period time.Duration) (float64, bool) {
	f, ok := cwStatFactor(stat, period)
	if !ok {
		return 0, false
	}
	if strings.EqualFold(stat, "SampleCount") {
		return period.Seconds(), true
	}
	factor := 1.0
	if m := st.Slow[in.ImageID]; m != nil {
		if v, ok := m[metric]; ok {
			factor = v
		}
	}
	spread := 0.05
	if m := st.Noisy[in.ImageID]; m != nil {
		if v, ok := m[metric]; ok {
			spread *= v
		}
	}
	inst := cwNoise(w.Seed, in.ID, metric, "instance", 0)
	noise := cwNoise(w.Seed, in.ID, metric, stat, t.Unix())
	v := cwBase(metric) * f * factor * (1 + 0.01*inst) * (1 + spread*noise)
	if v < 0 {
		v = 0
	}
	return v, true
}

// cwNoise is a standard normal deviate keyed by its arguments.
func cwNoise(seed int64, id, metric, stat string, t int64) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s|%s|%s|%d", seed, id, metric, strings.ToLower(stat), t)
	s := h.Sum64()
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)).NormFloat64()
}

// cwAggregate applies a statistic to stored points.
func cwAggregate(vs []float64, stat string) (float64, bool) {
	sorted := append([]float64(nil), vs...)
	sort.Float64s(sorted)
	var sum float64
	for _, v := range vs {
		sum += v
	}
	switch s := strings.ToLower(stat); {
	case s == "average":
		return sum / float64(len(vs)), true
	case s == "sum":
		return sum, true
	case s == "minimum":
		return sorted[0], true
	case s == "maximum":
		return sorted[len(sorted)-1], true
	case s == "samplecount":
		return float64(len(vs)), true
	case strings.HasPrefix(s, "p"):
		var q float64
		if _, err := fmt.Sscanf(s[1:], "%g", &q); err != nil || q < 0 || q > 100 {
			return 0, false
		}
		i := int(math.Ceil(q/100*float64(len(sorted)))) - 1
		if i < 0 {
			i = 0
		}
		return sorted[i], true
	}
	return 0, false
}

func cwPutMetricData(c *Call) (any, error) {
	var in struct {
		Namespace  string `cbor:"Namespace"`
		MetricData []struct {
			MetricName string        `cbor:"MetricName"`
			Dimensions []cwDimension `cbor:"Dimensions"`
			Timestamp  time.Time     `cbor:"Timestamp"`
			Value      *float64      `cbor:"Value"`
			Values     []float64     `cbor:"Values"`
			Counts     []float64     `cbor:"Counts"`
		} `cbor:"MetricData"`
	}
	if err := cwDecode(c, &in); err != nil {
		return nil, err
	}
	if in.Namespace == "" || strings.HasPrefix(in.Namespace, "AWS/") {
		return nil, cwInvalid("Namespace %q is empty or reserved", in.Namespace)
	}
	if len(in.MetricData) > 1000 {
		return nil, cwInvalid("MetricData holds %d items; at most 1000", len(in.MetricData))
	}
	st := c.World.cloudWatch()
	for _, d := range in.MetricData {
		if d.MetricName == "" {
			return nil, cwInvalid("MetricData.member.MetricName is required")
		}
		ts := d.Timestamp
		if ts.IsZero() {
			ts = c.Now
		}
		key := cwSeriesKey(c.Account, c.Region, cwMetric{Namespace: in.Namespace, MetricName: d.MetricName, Dimensions: d.Dimensions})
		if d.Value != nil {
			st.Points[key] = append(st.Points[key], cwPoint{T: ts.UTC(), V: *d.Value})
		}
		for i, v := range d.Values {
			n := 1
			if i < len(d.Counts) && d.Counts[i] >= 1 {
				n = int(d.Counts[i])
			}
			for k := 0; k < n; k++ {
				st.Points[key] = append(st.Points[key], cwPoint{T: ts.UTC(), V: v})
			}
		}
	}
	return struct{}{}, nil
}

type cwMetricAlarm struct {
	AlarmName             string    `cbor:"AlarmName"`
	AlarmArn              string    `cbor:"AlarmArn"`
	StateValue            string    `cbor:"StateValue"`
	StateReason           string    `cbor:"StateReason,omitempty"`
	StateUpdatedTimestamp time.Time `cbor:"StateUpdatedTimestamp"`
	ActionsEnabled        bool      `cbor:"ActionsEnabled"`
}

func cwDescribeAlarms(c *Call) (any, error) {
	var in struct {
		AlarmNames      []string `cbor:"AlarmNames"`
		AlarmNamePrefix string   `cbor:"AlarmNamePrefix"`
		StateValue      string   `cbor:"StateValue"`
		MaxRecords      int32    `cbor:"MaxRecords"`
		NextToken       string   `cbor:"NextToken"`
	}
	if err := cwDecode(c, &in); err != nil {
		return nil, err
	}
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "" {
		return nil, cwInvalid("AlarmNames and AlarmNamePrefix cannot both be set")
	}
	if in.MaxRecords == 0 {
		in.MaxRecords = 50
	}
	if in.MaxRecords < 1 || in.MaxRecords > 100 {
		return nil, cwInvalid("MaxRecords must be between 1 and 100")
	}
	want := map[string]bool{}
	for _, n := range in.AlarmNames {
		want[n] = true
	}
	c.World.ASG.ensure()
	var all []cwMetricAlarm
	for _, k := range sortedKeys(c.World.ASG.Alarms) {
		a := c.World.ASG.Alarms[k]
		if a.Account != c.Account || a.Region != c.Region {
			continue
		}
		if len(want) > 0 && !want[a.Name] || !strings.HasPrefix(a.Name, in.AlarmNamePrefix) {
			continue
		}
		if in.StateValue != "" && a.State != in.StateValue {
			continue
		}
		all = append(all, cwMetricAlarm{
			AlarmName:             a.Name,
			AlarmArn:              fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", a.Region, a.Account, a.Name),
			StateValue:            a.State,
			StateReason:           a.StateReason,
			StateUpdatedTimestamp: a.UpdatedAt,
			ActionsEnabled:        true,
		})
	}
	start := 0
	if in.NextToken != "" {
		if _, err := fmt.Sscanf(in.NextToken, "alarms-%d", &start); err != nil || start < 0 || start > len(all) {
			return nil, cwInvalid("invalid NextToken")
		}
	}
	end := min(start+int(in.MaxRecords), len(all))
	out := struct {
		MetricAlarms    []cwMetricAlarm `cbor:"MetricAlarms"`
		CompositeAlarms []struct{}      `cbor:"CompositeAlarms"`
		NextToken       string          `cbor:"NextToken,omitempty"`
	}{MetricAlarms: append([]cwMetricAlarm{}, all[start:end]...), CompositeAlarms: []struct{}{}}
	if end < len(all) {
		out.NextToken = fmt.Sprintf("alarms-%d", end)
	}
	return out, nil
}

func cwSetAlarmState(c *Call) (any, error) {
	var in struct {
		AlarmName   string `cbor:"AlarmName"`
		StateValue  string `cbor:"StateValue"`
		StateReason string `cbor:"StateReason"`
	}
	if err := cwDecode(c, &in); err != nil {
		return nil, err
	}
	if in.AlarmName == "" || in.StateValue == "" || in.StateReason == "" {
		return nil, cwInvalid("AlarmName, StateValue and StateReason are required")
	}
	c.World.ASG.ensure()
	if c.World.ASG.Alarms[asgKey(c.Account, c.Region, in.AlarmName)] == nil {
		return nil, &APIError{Status: 404, Code: "ResourceNotFound", Message: fmt.Sprintf("alarm %s does not exist", in.AlarmName), Sender: true}
	}
	if _, err := c.World.SetAlarm(c.Account, c.Region, in.AlarmName, in.StateValue, in.StateReason, c.Now); err != nil {
		return nil, cwInvalid("%v", err)
	}
	c.World.tickAutoScaling(c.Now)
	return struct{}{}, nil
}
