#!/usr/bin/env bash
# ssm_agent: make sure the SSM agent is installed and starts at boot.
#
# AL2023 images ship the agent already; installing again is a no-op that
# keeps the recipe correct on images that do not (minimal AMIs).
set -euo pipefail

dnf install -y amazon-ssm-agent

# enable --now starts the agent if it is stopped and does nothing if it runs.
# Never restart it here: with provisioner = "ssm" this script is running
# through the agent, and a restart would cut the build off.
systemctl enable --now amazon-ssm-agent

pkg="$(rpm -q amazon-ssm-agent)"
echo "ssm_agent: $pkg enabled"
