package canary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
)

// Tags amibake writes on canary and baseline instances (DESIGN.md).
const (
	TagProject = "amibake:project"
	TagRole    = "amibake:role"
	TagFleet   = "amibake:fleet"
	// TagRun marks every instance of one analysis, so that an instance whose
	// RunInstances answer was lost (interrupt) is still found and terminated.
	TagRun     = "amibake:canary-run"
	RoleCanary = "canary"
	RoleBase   = "baseline"
)

// Defaults of a canary block.
const (
	DefaultWindow    = 30 * time.Minute
	DefaultInterval  = time.Minute
	DefaultStatistic = "Average"
	// DefaultInstanceType is used when the fleet has no ASG launch template
	// to copy.
	DefaultInstanceType = "t3.micro"
)

// Analysis launches canary and baseline instances side by side, collects
// their metrics over the window and judges them. The instances are always
// terminated when Run returns, also when ctx is cancelled.
type Analysis struct {
	EC2         awsapi.EC2
	CloudWatch  awsapi.CloudWatch
	AutoScaling awsapi.AutoScaling // optional: copy the fleet's launch template

	Project     string
	Fleet       *config.Fleet
	AMI         string // the new image (canary)
	BaselineAMI string // the current image (baseline)
	// Window overrides the canary block's window when non-zero.
	Window time.Duration

	// NoWait queries the window ending now instead of waiting it out after
	// the instances run (the sandbox synthesises history).
	NoWait bool
	// Poll is the DescribeInstances interval while waiting for running.
	Poll time.Duration
	// RunningTimeout bounds the wait for running (default 10m).
	RunningTimeout time.Duration
	Now            func() time.Time
	// Sleep waits d or until ctx ends (default: a timer); tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	Out   io.Writer

	runID string
}

// Series is the groups' values over the window: the mean across each
// group's instances per timestamp both groups have, ascending.
type Series struct {
	Timestamps []time.Time `json:"timestamps"`
	Canary     []float64   `json:"canary"`
	Baseline   []float64   `json:"baseline"`
}

// MetricReport is one metric's result.
type MetricReport struct {
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	MetricName string `json:"metric_name"`
	// Expression is the metric-math expression (over the metric's query
	// ids) when the metric is one; Namespace and MetricName are empty then.
	Expression string `json:"expression,omitempty"`
	Statistic  string `json:"statistic"`
	Direction  string `json:"direction"`
	Judgement
	Series Series `json:"series"`
}

// Report is an analysis' result.
type Report struct {
	Fleet       string          `json:"fleet"`
	AMI         string          `json:"ami"`
	BaselineAMI string          `json:"baseline_ami"`
	Canary      []string        `json:"canary_instances"`
	Baseline    []string        `json:"baseline_instances"`
	Terminated  []string        `json:"terminated"`
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end"`
	Window      string          `json:"window"`
	Interval    string          `json:"interval"`
	Metrics     []*MetricReport `json:"metrics"`
	Verdict     Verdict         `json:"verdict"`
	Score       float64         `json:"score"`
	Chart       string          `json:"chart,omitempty"`
	ReportFile  string          `json:"report_file,omitempty"`
}

// VerdictError carries a non-pass verdict to the exit code: 5 (paused,
// waiting for an operator) for marginal, 1 for fail.
type VerdictError struct {
	Fleet   string
	Verdict Verdict
}

func (e *VerdictError) Error() string {
	return fmt.Sprintf("canary analysis of %s: %s", e.Fleet, e.Verdict)
}

// ExitCode maps the verdict to DESIGN.md's exit codes.
func (e *VerdictError) ExitCode() int {
	if e.Verdict == Marginal {
		return 5
	}
	return 1
}

func (a *Analysis) logf(format string, args ...any) {
	if a.Out != nil {
		fmt.Fprintf(a.Out, format+"\n", args...)
	}
}

func (a *Analysis) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Analysis) sleep(ctx context.Context, d time.Duration) error {
	if a.Sleep != nil {
		return a.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (a *Analysis) settings() (window, interval time.Duration) {
	c := a.Fleet.Canary
	window, interval = DefaultWindow, DefaultInterval
	if c != nil && c.Window > 0 {
		window = c.Window
	}
	if a.Window > 0 {
		window = a.Window
	}
	if c != nil && c.Interval > 0 {
		interval = c.Interval
	}
	return window, interval
}

// Validate checks what Run needs before anything is launched.
func (a *Analysis) Validate() error {
	if a.Fleet == nil || a.Fleet.Canary == nil {
		return errors.New("canary: the fleet has no canary block")
	}
	if len(a.Fleet.Canary.Metrics) == 0 {
		return fmt.Errorf("canary: fleet %s's canary block names no metric", a.Fleet.Name)
	}
	if a.AMI == "" || a.BaselineAMI == "" {
		return fmt.Errorf("canary: need the new and the baseline AMI (got %q, %q)", a.AMI, a.BaselineAMI)
	}
	if a.AMI == a.BaselineAMI {
		return fmt.Errorf("canary: the new AMI %s is the baseline already", a.AMI)
	}
	n := max(a.Fleet.Canary.Instances, 1)
	for _, m := range a.Fleet.Canary.Metrics {
		if m.Expression != "" {
			if err := validateExpression(m, n); err != nil {
				return fmt.Errorf("canary: metric %s: %w", m.Name, err)
			}
		}
		if _, err := ParseTolerance(m.Tolerance); err != nil {
			return fmt.Errorf("canary: metric %s: %w", m.Name, err)
		}
	}
	_, interval := a.settings()
	switch {
	case interval == time.Second, interval == 5*time.Second, interval == 10*time.Second, interval == 30*time.Second:
	case interval >= time.Minute && interval%time.Minute == 0:
	default:
		return fmt.Errorf("canary: interval %s: want 1s, 5s, 10s, 30s or a multiple of 1m", interval)
	}
	return nil
}

// Run launches, waits, collects, judges and terminates. The report is
// returned with the instances' termination recorded even on error.
func (a *Analysis) Run(ctx context.Context) (rep *Report, err error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	window, interval := a.settings()
	rep = &Report{Fleet: a.Fleet.Name, AMI: a.AMI, BaselineAMI: a.BaselineAMI, Window: window.String(), Interval: interval.String()}
	var launched []string
	a.runID = newRunID()
	attempted := false
	defer func() {
		if !attempted {
			return
		}
		// A fresh context: the instances go also when ctx was cancelled.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		found, ferr := a.findRun(tctx)
		if ferr != nil {
			err = errors.Join(err, ferr)
		}
		for _, id := range found {
			if !slices.Contains(launched, id) {
				launched = append(launched, id)
			}
		}
		if len(launched) == 0 {
			return
		}
		if terr := a.terminate(tctx, launched); terr != nil {
			err = errors.Join(err, terr)
			return
		}
		rep.Terminated = append([]string(nil), launched...)
		a.logf("Terminated %d canary and baseline instances: %s", len(launched), strings.Join(launched, ", "))
	}()

	lt, err := a.launchTemplate(ctx)
	if err != nil {
		return rep, err
	}
	n := a.Fleet.Canary.Instances
	if n < 1 {
		n = 1
	}
	for _, g := range []struct {
		role, ami string
		ids       *[]string
	}{{RoleBase, a.BaselineAMI, &rep.Baseline}, {RoleCanary, a.AMI, &rep.Canary}} {
		attempted = true
		ids, lerr := a.launch(ctx, g.role, g.ami, n, lt)
		launched = append(launched, ids...)
		*g.ids = ids
		if lerr != nil {
			return rep, lerr
		}
		a.logf("Launched %d %s instance(s) from %s: %s", len(ids), g.role, g.ami, strings.Join(ids, ", "))
	}
	if err := a.waitRunning(ctx, launched); err != nil {
		return rep, err
	}
	if !a.NoWait {
		a.logf("Collecting for %s (interval %s)…", window, interval)
		if err := a.sleep(ctx, window); err != nil {
			return rep, fmt.Errorf("canary: waiting out the window: %w", err)
		}
	}
	rep.End = a.now().UTC().Truncate(interval)
	rep.Start = rep.End.Add(-window)
	verdicts := make([]Verdict, 0, len(a.Fleet.Canary.Metrics))
	for i, m := range a.Fleet.Canary.Metrics {
		mr, err := a.judgeMetric(ctx, i, m, rep, interval)
		if err != nil {
			return rep, err
		}
		rep.Metrics = append(rep.Metrics, mr)
		verdicts = append(verdicts, mr.Verdict)
	}
	rep.Verdict, rep.Score = Overall(verdicts)
	return rep, nil
}

// launchTemplate returns the first ASG's launch template, or nil.
func (a *Analysis) launchTemplate(ctx context.Context) (*ec2types.LaunchTemplateSpecification, error) {
	if a.AutoScaling == nil || len(a.Fleet.ASGs) == 0 {
		return nil, nil
	}
	out, err := a.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: a.Fleet.ASGs[:1]})
	if err != nil {
		return nil, fmt.Errorf("canary: describe ASG %s: %w", a.Fleet.ASGs[0], err)
	}
	if len(out.AutoScalingGroups) == 0 || out.AutoScalingGroups[0].LaunchTemplate == nil {
		a.logf("ASG %s not found or without a launch template: launching %s instances", a.Fleet.ASGs[0], DefaultInstanceType)
		return nil, nil
	}
	l := out.AutoScalingGroups[0].LaunchTemplate
	spec := &ec2types.LaunchTemplateSpecification{LaunchTemplateId: l.LaunchTemplateId, Version: l.Version}
	if spec.LaunchTemplateId == nil { // EC2 takes the id or the name, not both
		spec.LaunchTemplateName = l.LaunchTemplateName
	}
	return spec, nil
}

func (a *Analysis) launch(ctx context.Context, role, ami string, n int, lt *ec2types.LaunchTemplateSpecification) ([]string, error) {
	tags := []ec2types.Tag{
		{Key: aws.String(TagProject), Value: aws.String(a.Project)},
		{Key: aws.String(TagRole), Value: aws.String(role)},
		{Key: aws.String(TagFleet), Value: aws.String(a.Fleet.Name)},
		{Key: aws.String(TagRun), Value: aws.String(a.runID)},
		{Key: aws.String("Name"), Value: aws.String(fmt.Sprintf("amibake-%s-%s-%s", a.Fleet.Name, role, ami))},
	}
	in := &ec2.RunInstancesInput{
		ClientToken: aws.String(a.runID + "-" + role), // a retried call launches nothing twice
		ImageId:     aws.String(ami), MinCount: aws.Int32(int32(n)), MaxCount: aws.Int32(int32(n)),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: tags}},
	}
	if lt != nil {
		in.LaunchTemplate = lt
	} else {
		in.InstanceType = ec2types.InstanceType(DefaultInstanceType)
	}
	out, err := a.EC2.RunInstances(ctx, in)
	var ids []string
	if out != nil {
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	if err != nil {
		return ids, fmt.Errorf("canary: launch %s instances from %s: %w", role, ami, err)
	}
	return ids, nil
}

func (a *Analysis) waitRunning(ctx context.Context, ids []string) error {
	poll := a.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	timeout := a.RunningTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	deadline := time.Now().Add(timeout)
	for {
		out, err := a.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			return fmt.Errorf("canary: describe instances: %w", err)
		}
		running, seen := 0, 0
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				seen++
				if i.State == nil {
					continue
				}
				switch i.State.Name {
				case ec2types.InstanceStateNameRunning:
					running++
				case ec2types.InstanceStateNameShuttingDown, ec2types.InstanceStateNameTerminated, ec2types.InstanceStateNameStopped, ec2types.InstanceStateNameStopping:
					return fmt.Errorf("canary: instance %s is %s before the analysis", aws.ToString(i.InstanceId), i.State.Name)
				}
			}
		}
		if running == len(ids) && seen == len(ids) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("canary: %d of %d instances running after %s", running, len(ids), timeout)
		}
		if err := a.sleep(ctx, poll); err != nil {
			return fmt.Errorf("canary: waiting for running: %w", err)
		}
	}
}

// findRun lists this analysis' instances that are not terminated.
func (a *Analysis) findRun(ctx context.Context) ([]string, error) {
	var ids []string
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + TagRun), Values: []string{a.runID}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	}}
	for {
		out, err := a.EC2.DescribeInstances(ctx, in)
		if err != nil {
			return ids, fmt.Errorf("canary: find the analysis' instances: %w", err)
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return ids, nil
		}
		in.NextToken = out.NextToken
	}
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (a *Analysis) terminate(ctx context.Context, ids []string) error {
	if _, err := a.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		return fmt.Errorf("canary: terminate %s: %w", strings.Join(ids, ", "), err)
	}
	return nil
}

type seriesKey struct {
	role string
	idx  int
}

func (a *Analysis) judgeMetric(ctx context.Context, mi int, m *config.CanaryMetric, rep *Report, interval time.Duration) (*MetricReport, error) {
	stat := m.Statistic
	if stat == "" {
		stat = DefaultStatistic
	}
	tol, _ := ParseTolerance(m.Tolerance)
	mr := &MetricReport{Name: m.Name, Namespace: m.Namespace, MetricName: m.MetricName, Expression: m.Expression, Statistic: stat, Direction: m.Direction}
	var queries []cwtypes.MetricDataQuery
	keys := map[string]seriesKey{}
	for _, g := range []struct {
		role string
		ids  []string
	}{{RoleBase, rep.Baseline}, {RoleCanary, rep.Canary}} {
		for i, id := range g.ids {
			qid := fmt.Sprintf("m%d_%s_%d", mi, g.role, i)
			keys[qid] = seriesKey{g.role, i}
			qs, err := instanceQueries(m, qid, id, g.role+" "+id, stat, interval)
			if err != nil {
				return nil, fmt.Errorf("canary: metric %s: %w", m.Name, err)
			}
			queries = append(queries, qs...)
		}
	}
	byRole := map[string]map[time.Time][]float64{RoleBase: {}, RoleCanary: {}}
	samples := map[string][]float64{}
	var token *string
	for {
		out, err := a.CloudWatch.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
			StartTime: aws.Time(rep.Start), EndTime: aws.Time(rep.End), MetricDataQueries: queries,
			ScanBy: cwtypes.ScanByTimestampAscending, NextToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("canary: metric %s: GetMetricData: %w", m.Name, err)
		}
		perPage := map[string]int{}
		for _, r := range out.MetricDataResults {
			k, ok := keys[aws.ToString(r.Id)]
			if !ok {
				continue
			}
			// Pages split one series, but one page holds an id twice only
			// when an expression returns several series ([a, b]).
			if perPage[aws.ToString(r.Id)]++; perPage[aws.ToString(r.Id)] > 1 {
				return nil, fmt.Errorf("canary: metric %s: the expression returns more than one time series per instance; a canary compares one (aggregate an array with SUM, AVG, MIN or MAX)", m.Name)
			}
			if r.StatusCode == cwtypes.StatusCodeInternalError || r.StatusCode == cwtypes.StatusCodeForbidden {
				return nil, fmt.Errorf("canary: metric %s: query %s: %s", m.Name, aws.ToString(r.Id), r.StatusCode)
			}
			for j, v := range r.Values {
				if j < len(r.Timestamps) {
					t := r.Timestamps[j].UTC()
					byRole[k.role][t] = append(byRole[k.role][t], v)
				}
				samples[k.role] = append(samples[k.role], v)
			}
		}
		if out.NextToken == nil || aws.ToString(out.NextToken) == "" {
			break
		}
		token = out.NextToken
	}
	if len(samples[RoleBase]) == 0 || len(samples[RoleCanary]) == 0 {
		return nil, fmt.Errorf("canary: metric %s: no data points in %s…%s (baseline %d, canary %d); are the instances publishing %s?",
			m.Name, rep.Start.Format(time.RFC3339), rep.End.Format(time.RFC3339), len(samples[RoleBase]), len(samples[RoleCanary]), metricSources(m))
	}
	j, err := Judge(samples[RoleBase], samples[RoleCanary], m.Direction, tol)
	if err != nil {
		return nil, fmt.Errorf("canary: metric %s: %w", m.Name, err)
	}
	mr.Judgement = j
	mr.Series = buildSeries(byRole)
	return mr, nil
}

func buildSeries(byRole map[string]map[time.Time][]float64) Series {
	// Timestamps both groups have (JSON has no NaN for a gap).
	var ts []time.Time
	for t := range byRole[RoleCanary] {
		if len(byRole[RoleBase][t]) > 0 {
			ts = append(ts, t)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	mean := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	s := Series{Timestamps: ts}
	for _, t := range ts {
		s.Canary = append(s.Canary, mean(byRole[RoleCanary][t]))
		s.Baseline = append(s.Baseline, mean(byRole[RoleBase][t]))
	}
	return s
}
