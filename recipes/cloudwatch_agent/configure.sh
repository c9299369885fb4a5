#!/usr/bin/env bash
# cloudwatch_agent: translate the JSON config and enable the agent at boot.
set -euo pipefail

ctl=/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
config=/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json

if [[ ! -s "$config" ]]; then
  echo "cloudwatch_agent: $config is missing or empty" >&2
  exit 1
fi

# fetch-config validates and translates the JSON now, so a bad config fails
# the bake instead of the first boot. No -s: the build instance itself should
# not publish metrics; instances launched from the AMI start the agent at boot.
"$ctl" -a fetch-config -m ec2 -c "file:$config"

systemctl enable amazon-cloudwatch-agent
