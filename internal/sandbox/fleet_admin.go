package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// FleetSeed describes the fleets a demo or a test wants running before
// amibake rolls anything out: Auto Scaling groups on launch templates
// (replace fleets), tagged instances (in-place fleets) and the state of
// the alarms a rollout watches.
type FleetSeed struct {
	Account string `json:"account,omitempty"` // default DefaultAccount
	Region  string `json:"region,omitempty"`  // default DefaultRegion
	// LaunchTemplates are created first; groups name them.
	LaunchTemplates []LaunchTemplateSeed `json:"launch_templates,omitempty"`
	Groups          []GroupSeed          `json:"groups,omitempty"`
	Instances       []InstanceSeed       `json:"instances,omitempty"`
	Alarms          []AlarmSeed          `json:"alarms,omitempty"`
}

// LaunchTemplateSeed is a launch template with one version.
type LaunchTemplateSeed struct {
	Name         string `json:"name"`
	ImageID      string `json:"image_id"`
	InstanceType string `json:"instance_type,omitempty"` // default t3.micro
}

// GroupSeed is an Auto Scaling group of Size instances on a launch
// template's version 1, in two availability zones.
type GroupSeed struct {
	Name           string `json:"name"`
	LaunchTemplate string `json:"launch_template"`
	Size           int32  `json:"size"`
}

// InstanceSeed is Count instances of an AMI with tags (and an instance
// profile, which SSM management may require).
type InstanceSeed struct {
	ImageID            string            `json:"image_id"`
	Count              int32             `json:"count"`
	InstanceType       string            `json:"instance_type,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	IAMInstanceProfile string            `json:"iam_instance_profile,omitempty"`
}

// AlarmSeed is a CloudWatch alarm and its state (the sandbox's CloudWatch
// has no PutMetricAlarm: alarms exist by their state).
type AlarmSeed struct {
	Name  string `json:"name"`
	State string `json:"state,omitempty"` // default OK
}

// FleetSeeded is what SeedFleets made.
type FleetSeeded struct {
	LaunchTemplates map[string]string   `json:"launch_templates"` // name → id
	Groups          map[string][]string `json:"groups"`           // name → instance ids
	Instances       []string            `json:"instances"`
	Alarms          []Alarm             `json:"alarms"`
}

// SeedFleets creates what spec describes through the sandbox's own EC2 and
// Auto Scaling APIs, with the real SDK clients (so every resource is made
// exactly as a user's calls would make it), and sets the alarms.
func (s *Server) SeedFleets(ctx context.Context, spec FleetSeed) (*FleetSeeded, error) {
	if spec.Account == "" {
		spec.Account = DefaultAccount
	}
	if spec.Region == "" {
		spec.Region = DefaultRegion
	}
	cfg := s.ConfigFor(spec.Account, spec.Region)
	ec2c, asg := ec2.NewFromConfig(cfg), autoscaling.NewFromConfig(cfg)
	out := &FleetSeeded{LaunchTemplates: map[string]string{}, Groups: map[string][]string{}, Instances: []string{}, Alarms: []Alarm{}}
	for _, lt := range spec.LaunchTemplates {
		if lt.Name == "" || lt.ImageID == "" {
			return out, fmt.Errorf("seed fleets: a launch template needs name and image_id")
		}
		res, err := ec2c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(lt.Name),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(lt.ImageID),
				InstanceType: ec2types.InstanceType(orDefault(lt.InstanceType, "t3.micro"))}})
		if err != nil {
			return out, fmt.Errorf("seed fleets: launch template %s: %w", lt.Name, err)
		}
		out.LaunchTemplates[lt.Name] = aws.ToString(res.LaunchTemplate.LaunchTemplateId)
	}
	azs := []string{spec.Region + "a", spec.Region + "b"}
	for _, g := range spec.Groups {
		id := out.LaunchTemplates[g.LaunchTemplate]
		if id == "" {
			return out, fmt.Errorf("seed fleets: group %s: launch template %q is not in launch_templates", g.Name, g.LaunchTemplate)
		}
		_, err := asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(g.Name), MinSize: aws.Int32(0), MaxSize: aws.Int32(2 * max(g.Size, 1)), DesiredCapacity: aws.Int32(g.Size),
			LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("1")},
			AvailabilityZones: azs, HealthCheckGracePeriod: aws.Int32(0), DefaultInstanceWarmup: aws.Int32(0),
		})
		if err != nil {
			return out, fmt.Errorf("seed fleets: group %s: %w", g.Name, err)
		}
		d, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{g.Name}})
		if err != nil {
			return out, fmt.Errorf("seed fleets: group %s: %w", g.Name, err)
		}
		ids := []string{}
		for _, grp := range d.AutoScalingGroups {
			for _, i := range grp.Instances {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
		sort.Strings(ids)
		out.Groups[g.Name] = ids
	}
	for _, in := range spec.Instances {
		if in.ImageID == "" || in.Count < 1 {
			return out, fmt.Errorf("seed fleets: instances need image_id and a count of at least 1")
		}
		tags := make([]ec2types.Tag, 0, len(in.Tags))
		for _, k := range sortedKeys(in.Tags) {
			tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(in.Tags[k])})
		}
		ri := &ec2.RunInstancesInput{ImageId: aws.String(in.ImageID), InstanceType: ec2types.InstanceType(orDefault(in.InstanceType, "t3.micro")),
			MinCount: aws.Int32(in.Count), MaxCount: aws.Int32(in.Count)}
		if len(tags) > 0 {
			ri.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: tags}}
		}
		if in.IAMInstanceProfile != "" {
			ri.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Name: aws.String(in.IAMInstanceProfile)}
		}
		res, err := ec2c.RunInstances(ctx, ri)
		if err != nil {
			return out, fmt.Errorf("seed fleets: instances of %s: %w", in.ImageID, err)
		}
		for _, i := range res.Instances {
			out.Instances = append(out.Instances, aws.ToString(i.InstanceId))
		}
	}
	var err error
	s.Do(func(w *World) {
		now := s.clock.Now()
		for _, a := range spec.Alarms {
			var al *Alarm
			if al, err = w.SetAlarm(spec.Account, spec.Region, a.Name, orDefault(a.State, AlarmStateOK), "seeded", now); err != nil {
				err = fmt.Errorf("seed fleets: alarm: %w", err)
				return
			}
			out.Alarms = append(out.Alarms, *al)
		}
		w.tickAutoScaling(now)
	})
	return out, err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// registerFleetAdmin adds POST /_sandbox/seed/fleets (a FleetSeed as JSON;
// answers a FleetSeeded).
func (s *Server) registerFleetAdmin() {
	s.admin.HandleFunc("POST /_sandbox/seed/fleets", func(rw http.ResponseWriter, r *http.Request) {
		var spec FleetSeed
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			adminError(rw, http.StatusBadRequest, fmt.Errorf("seed fleets: %w", err))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
		defer cancel()
		out, err := s.SeedFleets(ctx, spec)
		if err != nil {
			adminError(rw, http.StatusBadRequest, err)
			return
		}
		adminJSON(rw, out)
	})
}
