package iam

// This file is the one place that says which AWS actions amibake needs:
// every statement of every generated policy comes from Rules. Resource and
// condition values are templates filled from a Scope:
//
//	{partition} {account} {project} {bucket} {profile}
//	{params}   the project's parameter tree: <prefix>/<project> without the leading "/"
//
// and Rule.Expand lists per-project values (fleet ASGs, source parameters).
//
// internal/iam/observe_test.go drives amibake's flows against the sandbox
// and checks that every action the sandbox saw is here, and that every
// action here was seen, is declared by internal/awsapi for a flow the test
// cannot drive yet, or is in RealAWSOnly with its reason.

// Family is a group of commands that share a policy.
type Family string

// Command families of `amibake iam-policy --for`.
const (
	// Bake: bake, plan, promote, revoke, history, lineage, status, lock,
	// inventory, diff, sbom —
	// everything that builds, publishes or reads the project's AMIs.
	Bake Family = "bake"
	// Patch: patch scan / plan / apply / run (scan instances, Patch
	// Manager, inventory); `patch run` rebakes, so it includes Bake.
	Patch Family = "patch"
	// Rollout: replace (ASG launch template + instance refresh) and
	// in-place (Run Command) rollouts of fleets; a replace rollout retires
	// the AMI it replaced, so it includes Retire.
	Rollout Family = "rollout"
	// Retire: deprecate, deregister and delete old AMIs and snapshots.
	Retire Family = "retire"
	// All is every family.
	All Family = "all"
)

// Families lists the families of --for in order.
var Families = []Family{Bake, Patch, Rollout, Retire, All}

// includes says which other families a family's commands run: `patch run`
// rebakes layers; a successful replace rollout retires the AMI it replaced.
var includes = map[Family][]Family{
	Patch:   {Bake},
	Rollout: {Retire},
}

// Rule is one statement template.
type Rule struct {
	Sid      string
	Families []Family
	Actions  []string
	// Resources are ARN templates; "*" where the actions support no
	// resource-level permissions.
	Resources []string
	// Condition is operator → key → values (templates).
	Condition map[string]map[string][]string
	// When, if set, decides from the scope whether the rule applies.
	When func(Scope) bool
	// PerFleet makes one statement per fleet (Sid + fleet name), with the
	// condition that the instance carries the tags Run Command targets the
	// fleet by (Scope.FleetTargets); Condition is not used.
	PerFleet bool
	// Why documents the rule (and is printed by --explain).
	Why string
}

const (
	paramARN     = "arn:{partition}:ssm:*:{account}:parameter/{params}"
	instanceARN  = "arn:{partition}:ec2:*:{account}:instance/*"
	volumeARN    = "arn:{partition}:ec2:*:{account}:volume/*"
	imageARN     = "arn:{partition}:ec2:*::image/*"
	snapshotARN  = "arn:{partition}:ec2:*::snapshot/*"
	projectTag   = "amibake:project"
	projectValue = "{project}"
)

func resourceTag(service string) map[string]map[string][]string {
	return map[string]map[string][]string{"StringEquals": {service + ":ResourceTag/" + projectTag: {projectValue}}}
}

var requestTag = map[string]map[string][]string{"StringEquals": {"aws:RequestTag/" + projectTag: {projectValue}}}

// Rules is the policy, statement by statement.
var Rules = []Rule{
	{
		Sid:       "Identity",
		Families:  []Family{Bake, Patch, Rollout, Retire},
		Actions:   []string{"sts:GetCallerIdentity"},
		Resources: []string{"*"},
		Why:       "preflight: the account the run acts in (packer's credential check, amibake's plugins)",
	},
	{
		Sid:      "ProjectParameters",
		Families: []Family{Bake, Patch, Rollout, Retire},
		Actions: []string{
			"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory",
			"ssm:PutParameter", "ssm:DeleteParameter", "ssm:LabelParameterVersion",
		},
		Resources: []string{paramARN, paramARN + "/*"},
		Why: "channels (<prefix>/<project>/layers/<layer>/<channel>), their history, the project lock " +
			"(<prefix>/<project>/lock) and a build's short-lived secrets (<prefix>/<project>/builds/…); nothing outside the project's tree",
	},
	{
		Sid:       "SourceParameters",
		Families:  []Family{Bake, Patch},
		Actions:   []string{"ssm:GetParameter", "ssm:GetParameters"},
		Resources: []string{"arn:{partition}:ssm:*::parameter/aws/service/*", "{sourceParams}"},
		Why:       "layers' source AMIs published as SSM parameters (AWS's public ones and the project's own)",
	},
	{
		Sid:      "DescribeEC2",
		Families: []Family{Bake, Patch, Retire},
		Actions: []string{
			"ec2:DescribeImages", "ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSecurityGroups",
		},
		Resources: []string{"*"},
		Why:       "EC2 Describe calls support no resource-level permissions; plan, lineage and packer read AMIs, instances and their volumes",
	},
	{
		Sid:       "DescribeEC2ForRealAWS",
		Families:  []Family{Bake, Patch},
		Actions:   []string{"ec2:DescribeRegions", "ec2:DescribeSubnets", "ec2:DescribeVpcs"},
		Resources: []string{"*"},
		Why:       "packer on real AWS: region validation, and the VPC of subnet_id or the default VPC for its temporary security group",
	},
	{
		Sid:       "LaunchTaggedInstances",
		Families:  []Family{Bake, Patch},
		Actions:   []string{"ec2:RunInstances"},
		Resources: []string{instanceARN, volumeARN},
		Condition: requestTag,
		Why:       "build and scan instances (and their volumes) must be launched with amibake:project = the project",
	},
	{
		Sid:      "LaunchWith",
		Families: []Family{Bake, Patch},
		Actions:  []string{"ec2:RunInstances"},
		Resources: []string{
			imageARN,
			"arn:{partition}:ec2:*:{account}:subnet/*",
			"arn:{partition}:ec2:*:{account}:network-interface/*",
			"arn:{partition}:ec2:*:{account}:security-group/*",
			"arn:{partition}:ec2:*:{account}:key-pair/*",
		},
		Why: "the other resources RunInstances touches: the source AMI, subnet, ENI, security group, key pair",
	},
	{
		Sid:       "TagNewResources",
		Families:  []Family{Bake, Patch},
		Actions:   []string{"ec2:CreateTags"},
		Resources: []string{instanceARN, volumeARN, imageARN, snapshotARN},
		Condition: requestTag,
		Why:       "packer tags instances at launch and new AMIs and snapshots (in every region) with the lineage tags, amibake:project among them",
	},
	{
		Sid:       "TagProjectImages",
		Families:  []Family{Bake, Patch, Rollout},
		Actions:   []string{"ec2:CreateTags"},
		Resources: []string{imageARN, snapshotARN},
		Condition: resourceTag("ec2"),
		Why:       "revoke (and a rollout whose canary fails) adds amibake:revoked to the project's AMIs only",
	},
	{
		Sid:       "ManageBuildInstances",
		Families:  []Family{Bake, Patch},
		Actions:   []string{"ec2:StopInstances", "ec2:TerminateInstances", "ec2:CreateImage"},
		Resources: []string{instanceARN},
		Condition: resourceTag("ec2"),
		Why:       "stop, image and terminate the project's own build and scan instances (and orphans a re-run cleans up)",
	},
	{
		Sid:       "CreateAndCopyImages",
		Families:  []Family{Bake, Patch},
		Actions:   []string{"ec2:CreateImage", "ec2:CopyImage", "ec2:ModifyImageAttribute", "ec2:EnableImageDeprecation"},
		Resources: []string{imageARN, snapshotARN},
		Why: "packer creates the AMI, copies it to the other regions, shares it (ami_users) and sets deprecate_at " +
			"before it tags it, so these cannot require the project tag; revoke deprecates",
	},
	{
		Sid:      "PackerTemporaryNetworking",
		Families: []Family{Bake, Patch},
		Actions: []string{
			"ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:DeleteSecurityGroup",
			"ec2:CreateKeyPair", "ec2:DeleteKeyPair",
		},
		Resources: []string{
			"arn:{partition}:ec2:*:{account}:security-group/*", "arn:{partition}:ec2:*:{account}:vpc/*",
			"arn:{partition}:ec2:*:{account}:key-pair/*",
		},
		Why: "packer's temporary security group and key pair (created even with communicator = \"none\"); " +
			"packer does not tag them, so they cannot be scoped by tag",
	},
	{
		Sid:       "PackerTemporaryImages",
		Families:  []Family{Bake, Patch},
		Actions:   []string{"ec2:DeregisterImage", "ec2:DeleteSnapshot", "ec2:DeleteVolume"},
		Resources: []string{imageARN, snapshotARN, volumeARN},
		Condition: map[string]map[string][]string{"Null": {"ec2:ResourceTag/" + projectTag: {"true"}}},
		Why: "packer deletes the unencrypted intermediate AMI of encrypt_boot, its snapshots and leftover volumes " +
			"before tagging anything: only untagged ones, never another project's",
	},
	{
		Sid:       "ProjectImagesLifecycle",
		Families:  []Family{Bake, Patch, Retire},
		Actions:   []string{"ec2:DeregisterImage", "ec2:DeleteSnapshot", "ec2:EnableImageDeprecation"},
		Resources: []string{imageARN, snapshotARN},
		Condition: resourceTag("ec2"),
		Why:       "packer's force_deregister and retire deregister, delete and deprecate the project's own AMIs and snapshots only",
	},
	{
		Sid:       "RetireReads",
		Families:  []Family{Retire},
		Actions:   []string{"ec2:DescribeImageAttribute", "ec2:DescribeSnapshots"},
		Resources: []string{"*"},
		Why:       "retire checks launch permissions and finds an AMI's snapshots",
	},
	{
		Sid:       "RunCommandOnProjectInstances",
		Families:  []Family{Bake, Patch},
		Actions:   []string{"ssm:SendCommand"},
		Resources: []string{instanceARN},
		Condition: resourceTag("ssm"),
		Why:       "recipe steps (packer-plugin-amibake) and patch scans run on the project's build and scan instances only",
	},
	{
		Sid:       "RunCommandOnFleet",
		Families:  []Family{Patch, Rollout},
		Actions:   []string{"ssm:SendCommand"},
		Resources: []string{instanceARN},
		PerFleet:  true,
		Why: "patch scans and in-place rollouts run on a fleet's instances, which are the user's and carry no amibake tag: " +
			"only on instances with the fleet's targets { tags } (or its \"Patch Group\" tag)",
	},
	{
		Sid:      "RunCommandDocuments",
		Families: []Family{Bake, Patch, Rollout},
		Actions:  []string{"ssm:SendCommand"},
		Resources: []string{
			"arn:{partition}:ssm:*::document/AWS-RunShellScript",
			"arn:{partition}:ssm:*::document/AWS-RunPatchBaseline",
		},
		Why: "the only two documents amibake runs",
	},
	{
		Sid:      "RunCommandResults",
		Families: []Family{Bake, Patch, Rollout},
		Actions: []string{
			"ssm:GetCommandInvocation", "ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:DescribeInstanceInformation",
		},
		Resources: []string{"*"},
		Why:       "command results and SSM agent status; these support no resource-level permissions",
	},
	{
		Sid:      "PatchManager",
		Families: []Family{Patch},
		Actions: []string{
			"ssm:CreatePatchBaseline", "ssm:UpdatePatchBaseline", "ssm:GetPatchBaseline",
			"ssm:RegisterPatchBaselineForPatchGroup", "ssm:DeregisterPatchBaselineForPatchGroup",
		},
		Resources: []string{"arn:{partition}:ssm:*:{account}:patchbaseline/*"},
		Why:       "patch baselines from patch_baseline blocks, and their patch groups",
	},
	{
		Sid:      "PatchManagerReads",
		Families: []Family{Patch},
		Actions: []string{
			"ssm:DescribePatchBaselines", "ssm:DescribePatchGroups", "ssm:DescribeInstancePatchStates",
			"ssm:DescribeInstancePatchStatesForPatchGroup", "ssm:DescribeInstancePatches", "ssm:DescribeAvailablePatches",
		},
		Resources: []string{"*"},
		Why:       "scan results; these support no resource-level permissions",
	},
	{
		Sid:       "PatchLevelReads",
		Families:  []Family{Bake},
		Actions:   []string{"ssm:DescribePatchBaselines", "ssm:GetPatchBaseline", "ssm:DescribeAvailablePatches"},
		Resources: []string{"*"},
		Why: "a build under a patch block resolves its baseline's approved set for the amibake:patch-level tag; " +
			"these reads support no resource-level permissions",
	},
	{
		Sid:      "PatchRebakeRunbook",
		Families: []Family{Patch},
		Actions: []string{
			"ssm:DescribeDocument", "ssm:CreateDocument", "ssm:UpdateDocument", "ssm:UpdateDocumentDefaultVersion",
			"ssm:StartAutomationExecution",
		},
		Resources: []string{
			"arn:{partition}:ssm:*:{account}:document/amibake-{project}-patch-rebake",
			"arn:{partition}:ssm:*:{account}:automation-definition/amibake-{project}-patch-rebake:*",
		},
		Why: "patch run --engine automation keeps the project's own runbook current and runs it; the runbook " +
			"acts with the caller's permissions (the build instance, image and tag statements)",
	},
	{
		Sid:      "PatchRebakeExecutions",
		Families: []Family{Patch},
		Actions: []string{
			"ssm:GetAutomationExecution", "ssm:DescribeAutomationExecutions", "ssm:DescribeAutomationStepExecutions",
			"ssm:StopAutomationExecution",
		},
		Resources: []string{"*"},
		Why:       "follow and stop the runbook's executions; execution ids are not known before they start",
	},
	{
		Sid:      "StateManager",
		Families: []Family{Patch},
		Actions: []string{
			"ssm:CreateAssociation", "ssm:UpdateAssociation", "ssm:DescribeAssociation",
			"ssm:ListAssociations", "ssm:DeleteAssociation",
		},
		Resources: []string{"*"},
		Why: "patch associate: each fleet's daily AWS-RunPatchBaseline Scan and AWS-GatherSoftwareInventory associations; " +
			"association ARNs are not known before creation",
	},
	{
		Sid:      "MaintenanceWindows",
		Families: []Family{Patch},
		Actions: []string{
			"ssm:CreateMaintenanceWindow", "ssm:UpdateMaintenanceWindow", "ssm:DescribeMaintenanceWindows",
			"ssm:DeleteMaintenanceWindow", "ssm:ListTagsForResource",
			"ssm:RegisterTargetWithMaintenanceWindow", "ssm:UpdateMaintenanceWindowTarget",
			"ssm:DeregisterTargetFromMaintenanceWindow", "ssm:DescribeMaintenanceWindowTargets",
			"ssm:RegisterTaskWithMaintenanceWindow", "ssm:UpdateMaintenanceWindowTask",
			"ssm:DeregisterTaskFromMaintenanceWindow", "ssm:DescribeMaintenanceWindowTasks", "ssm:GetMaintenanceWindowTask",
		},
		Resources: []string{"*"},
		Why: "patch window apply: the in-place fleets' maintenance windows (found by name and their amibake:project tag), " +
			"targets and AWS-RunPatchBaseline Install tasks; window ids are not known before creation",
	},
	{
		Sid:       "CanaryMetrics",
		Families:  []Family{Rollout},
		Actions:   []string{"cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"},
		Resources: []string{"*"},
		Why: "canary analysis reads the fleet's metrics for canary and baseline instances, and the alarms a rollout aborts on; " +
			"GetMetricData supports no resource-level permissions",
	},
	{
		Sid:       "ReadInstanceInventory",
		Families:  []Family{Bake},
		Actions:   []string{"ssm:ListInventoryEntries"},
		Resources: []string{"*"},
		Why:       "the packages a build instance holds (AWS:Application), for the AMI's inventory document",
	},
	{
		Sid:       "InventoryBucket",
		Families:  []Family{Bake},
		Actions:   []string{"s3:ListBucket"},
		Resources: []string{"arn:{partition}:s3:::{bucket}"},
		Condition: map[string]map[string][]string{"StringLike": {"s3:prefix": {"{project}/inventory/*"}}},
		When:      func(s Scope) bool { return s.Bucket != "" },
		Why:       "without it S3 answers GetObject of a missing document with 403 instead of 404, and amibake cannot tell \"no inventory recorded\" from a denial",
	},
	{
		Sid:       "InventoryObjects",
		Families:  []Family{Bake},
		Actions:   []string{"s3:GetObject", "s3:PutObject"},
		Resources: []string{"arn:{partition}:s3:::{bucket}/{project}/inventory/*"},
		When:      func(s Scope) bool { return s.Bucket != "" },
		Why:       "inventory documents s3://<bucket>/<project>/inventory/<ami>.json: bake records them, inventory, diff and sbom read them",
	},
	{
		Sid:       "InventoryStaging",
		Families:  []Family{Bake},
		Actions:   []string{"s3:DeleteObject"},
		Resources: []string{"arn:{partition}:s3:::{bucket}/{project}/inventory/staging/*"},
		When:      func(s Scope) bool { return s.Bucket != "" },
		Why: "the provisioner stages a build's inventory at <project>/inventory/staging/<build-id>.json (the AMI id does not exist yet); " +
			"bake deletes it once <ami>.json is stored",
	},
	{
		Sid:       "InventoryGather",
		Families:  []Family{Bake},
		Actions:   []string{"ssm:CreateAssociation", "ssm:DeleteAssociation"},
		Resources: []string{"*"},
		When:      func(s Scope) bool { return s.Bucket != "" },
		Why: "the provisioner makes the build instance (patch run --engine automation: the verify step's scan instance of the new AMI) " +
			"capture its inventory with a one-instance AWS-GatherSoftwareInventory association (Run Command cannot run the " +
			"inventory plugin) and deletes it; association ARNs are not known before creation",
	},
	{
		Sid:      "DescribeFleets",
		Families: []Family{Rollout, Retire},
		Actions: []string{
			"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeInstanceRefreshes",
			"ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeInstances",
		},
		Resources: []string{"*"},
		Why:       "what fleets run (retire never removes an AMI in use); Describe calls support no resource-level permissions",
	},
	{
		Sid:      "ReplaceFleets",
		Families: []Family{Rollout},
		Actions: []string{
			"autoscaling:UpdateAutoScalingGroup", "autoscaling:StartInstanceRefresh",
			"autoscaling:CancelInstanceRefresh", "autoscaling:RollbackInstanceRefresh",
			"autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags",
		},
		Resources: []string{"arn:{partition}:autoscaling:*:{account}:autoScalingGroup:*:autoScalingGroupName/{asg}"},
		Why:       "instance refreshes of the fleets' Auto Scaling groups only; a paused rollout is held in the groups' amibake:rollout-* tags",
	},
	{
		Sid:       "CancelFleetCommands",
		Families:  []Family{Rollout},
		Actions:   []string{"ssm:CancelCommand"},
		Resources: []string{"*"},
		Why:       "`rollout abort` of an in-place fleet stops its running patch command; CancelCommand supports no resource-level permissions",
	},
	{
		Sid:       "ReplaceFleetLaunchTemplates",
		Families:  []Family{Rollout},
		Actions:   []string{"ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate", "ec2:DeleteLaunchTemplateVersions"},
		Resources: []string{"arn:{partition}:ec2:*:{account}:launch-template/*"},
		Why:       "a new launch template version with the new AMI, made the default, removed on rollback",
	},
	{
		Sid:       "RefreshWithLaunchTemplate",
		Families:  []Family{Rollout},
		Actions:   []string{"ec2:RunInstances", "ec2:CreateTags"},
		Resources: []string{"*"},
		Condition: map[string]map[string][]string{"StringEquals": {"aws:CalledVia": {"autoscaling.amazonaws.com"}}},
		Why:       "AWS checks that whoever points an ASG at a launch template may launch from it; only through Auto Scaling",
	},
	{
		Sid:       "PassBuildRole",
		Families:  []Family{Bake, Patch, Rollout},
		Actions:   []string{"iam:PassRole"},
		Resources: []string{"arn:{partition}:iam::{account}:role/*"},
		Condition: map[string]map[string][]string{"StringEquals": {"iam:PassedToService": {"ec2.amazonaws.com"}}},
		Why:       "build and scan instances get the project's iam_instance_profile; rollouts' launch templates pass the fleet's",
	},
	{
		Sid:       "ReadBuildProfile",
		Families:  []Family{Bake, Patch},
		Actions:   []string{"iam:GetInstanceProfile"},
		Resources: []string{"arn:{partition}:iam::{account}:instance-profile/{profile}"},
		When:      func(s Scope) bool { return s.InstanceProfile != "" },
		Why:       "packer validates iam_instance_profile before launching",
	},
	{
		Sid:      "EncryptedImages",
		Families: []Family{Bake, Patch, Rollout},
		Actions: []string{
			"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt",
			"kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
		},
		Resources: []string{"*"},
		Condition: map[string]map[string][]string{"StringLike": {"kms:ViaService": {"ec2.*.amazonaws.com"}}},
		Why:       "encrypted volumes and encrypted cross-region copies with kms_key_id; only through EC2",
	},
	{
		Sid:       "SessionManagerSSH",
		Families:  []Family{Bake},
		Actions:   []string{"ssm:StartSession", "ssm:TerminateSession"},
		Resources: []string{instanceARN, "arn:{partition}:ssm:*::document/AWS-StartPortForwardingSession", "arn:{partition}:ssm:*:{account}:session/*"},
		When:      func(s Scope) bool { return s.Provisioner == "ssh" },
		Why:       "provisioner = \"ssh\" tunnels packer's SSH through Session Manager",
	},
}

// RealAWSOnly are the actions of Rules that the sandbox never sees, with
// why real AWS needs them. observe_test.go allows these and nothing else
// beyond what it observed or what internal/awsapi declares.
var RealAWSOnly = map[string]string{
	"iam:PassRole":                        "RunInstances with the build instance profile (sandbox renders leave iam_instance_profile out) and launch templates with a profile",
	"iam:GetInstanceProfile":              "packer looks the instance profile up in IAM, which the sandbox lacks",
	"kms:CreateGrant":                     "EBS encryption with a customer key (kms_key_id): EC2 creates grants for the volumes",
	"kms:Decrypt":                         "encrypted snapshots read during CopyImage and launch",
	"kms:DescribeKey":                     "EC2 validates kms_key_id",
	"kms:Encrypt":                         "encrypted copies",
	"kms:GenerateDataKeyWithoutPlaintext": "new encrypted volumes and snapshots",
	"kms:ReEncryptFrom":                   "re-encrypting a copy under the destination key",
	"kms:ReEncryptTo":                     "re-encrypting a copy under the destination key",
	"ec2:DescribeRegions":                 "packer's region validation (sandbox renders set skip_region_validation)",
	"ec2:DescribeSubnets":                 "packer resolves subnet_id's VPC and zone (the example uses the default VPC)",
	"ec2:DescribeVpcs":                    "packer's temporary security group in the default VPC or subnet_id's VPC",
	"ec2:DeleteVolume":                    "packer's cleanup of volumes left behind (none with delete_on_termination, as rendered)",
	"ssm:StartSession":                    "provisioner = \"ssh\" only: SSH over Session Manager, which the sandbox does not serve",
	"s3:ListBucket":                       "S3 answers GetObject of a missing key with 404 (not 403) only to callers who may list the bucket; the sandbox does not check",
	"ssm:TerminateSession":                "provisioner = \"ssh\" only",
}

// apiToIAM maps API operations whose IAM action has another name.
var apiToIAM = map[string]string{
	"s3:HeadObject":    "s3:GetObject",
	"s3:HeadBucket":    "s3:ListBucket",
	"s3:ListObjectsV2": "s3:ListBucket",
}

// IAMAction is the IAM action that authorizes an API call
// ("s3:HeadObject" → "s3:GetObject"); most are the same.
func IAMAction(apiCall string) string {
	if a, ok := apiToIAM[apiCall]; ok {
		return a
	}
	return apiCall
}

// servicePrefix maps SigV4 service names (what the sandbox logs) to IAM
// action prefixes.
var servicePrefix = map[string]string{
	"monitoring": "cloudwatch",
}

// ServicePrefix is the IAM action prefix of a SigV4 service name.
func ServicePrefix(service string) string {
	if p, ok := servicePrefix[service]; ok {
		return p
	}
	return service
}
