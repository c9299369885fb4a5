#!/usr/bin/env bash
# cloudwatch_agent: install the CloudWatch agent from the AL2023 repository.
set -euo pipefail

dnf install -y amazon-cloudwatch-agent

# The file step that follows writes into this directory.
install -d -m 0755 /opt/aws/amazon-cloudwatch-agent/etc
