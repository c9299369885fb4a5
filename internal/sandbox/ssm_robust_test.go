package sandbox

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSSMActionsSurviveOddInput throws empty, partial and ill-typed
// bodies at every SSM action: each must answer with an AWS error or a
// result, never a sandbox panic.
func TestSSMActionsSurviveOddInput(t *testing.T) {
	sb := Start(t)
	launchManaged(t, sb, 1, Tags{"Patch Group": "g"})
	bodies := []string{
		`{}`,
		`{"Name":"","Names":[""],"Path":"","Labels":[""],"ParameterVersion":0}`,
		`{"Name":"/x:","Value":"v","Type":"String","DataType":"aws:ec2:image"}`,
		`{"Name":"arn:aws:ssm:us-east-1:123456789012:parameter","WithDecryption":true}`,
		`{"MaxResults":-1,"NextToken":"%%%"}`,
		`{"MaxResults":100000,"NextToken":"MTAwMDAwOng"}`,
		`{"Filters":[{}],"ParameterFilters":[{"Key":"tag:"}],"InstanceInformationFilterList":[{"key":"","valueSet":[]}]}`,
		`{"Filters":[{"Key":"State","Values":[]}],"InstanceId":"i-0","PatchGroup":"g"}`,
		`{"DocumentName":"AWS-RunShellScript","InstanceIds":[""],"Parameters":{"commands":[""]}}`,
		`{"DocumentName":"AWS-RunShellScript","Targets":[{"Key":"tag:","Values":[""]}],"Parameters":{"commands":["exit x","sleep -1","dnf install -y '' - --",")))"]},"MaxConcurrency":"100%","MaxErrors":"100%"}`,
		`{"DocumentName":"AWS-RunPatchBaseline","Targets":[{"Key":"tag:Patch Group","Values":["g"]}],"Parameters":{"Operation":["Install"]},"MaxConcurrency":"1%"}`,
		`{"CommandId":"00000000-0000-4000-a000-000000000000","InstanceId":"","PluginName":""}`,
		`{"BaselineId":"","Name":"ab","OperatingSystem":"AMAZON_LINUX_2023","ApprovalRules":{"PatchRules":[{"PatchFilterGroup":{"PatchFilters":[{"Key":"CLASSIFICATION","Values":[]}]},"ApproveAfterDays":-5}]}}`,
		`{"Name":"mw-x","Schedule":"cron(0 0 ? * 9#9 *)","Duration":0,"Cutoff":-1,"AllowUnassociatedTargets":true}`,
		`{"Name":"mw-y","Schedule":"cron(* * ? * * *)","Duration":1,"Cutoff":0,"AllowUnassociatedTargets":true,"ScheduleTimezone":"Not/AZone"}`,
		`{"WindowId":"mw-0","Targets":[{"Key":"WindowTargetIds","Values":["x"]}],"TaskArn":"","TaskType":"RUN_COMMAND"}`,
		`{"DocumentName":"AWS-UpdateLinuxAmi","Parameters":{"SourceAmiId":[""],"TargetAmiName":[]}}`,
		`{"AutomationExecutionId":"","Type":"Cancel","Filters":[{"Key":"StartTimeBefore","Values":["yesterday"]}]}`,
		`{"ResourceType":"Parameter","ResourceId":"","Tags":[{"Key":"","Value":""}],"TagKeys":[""]}`,
		`[1,2,3]`,
		`{"Name": 5}`,
		`not json`,
	}
	for _, action := range sb.Actions()["ssm"] {
		for _, body := range bodies {
			req, err := http.NewRequest(http.MethodPost, sb.URL(), strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("X-Amz-Target", "AmazonSSM."+action)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=sandbox-123456789012/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=x")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.NotContains(t, string(out), "sandbox panic", "%s %s", action, body)
			assert.Less(t, resp.StatusCode, 500, "%s %s: %s", action, body, out)
		}
	}
}
