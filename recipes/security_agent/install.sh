#!/usr/bin/env bash
# security_agent: install the EDR agent, store its registration token for
# root only, and leave no host identity behind, so every instance launched
# from the image registers as itself on first boot.
#
# SECURITY_AGENT_TOKEN comes from the sensitive recipe input "token".
set -euo pipefail

# Never trace this script: the token must not reach the build log. (The
# braces and redirect keep `set +x` itself out of a trace that was on.)
{ set +x; } 2>/dev/null

token="${SECURITY_AGENT_TOKEN:-}"
unset SECURITY_AGENT_TOKEN

dnf install -y acme-edr-agent

conf_dir=/etc/acme-edr
conf="$conf_dir/agent.conf"
install -d -m 0700 -o root -g root "$conf_dir"

if [[ -n "$token" ]]; then
  # Written through a temp file in the same directory, created 0600 by the
  # umask, then renamed: the token is never world-readable, not even for a
  # moment, and printf is a builtin, so it never shows up in `ps`.
  tmp="$(umask 077 && mktemp "$conf_dir/.agent.conf.XXXXXX")"
  printf 'registration_token = %s\n' "$token" >"$tmp"
  mv -f "$tmp" "$conf"
  echo "security_agent: registration token stored in $conf"
else
  echo "security_agent: WARNING: no token given; the agent is installed but will not register" >&2
  echo "security_agent: set AMIBAKE_VAR_security_agent_token when baking" >&2
fi
unset token

# Enabled, not started: starting it here would register the build instance,
# and every instance cloned from the image would share that identity.
systemctl enable acme-edr-agent
rm -f /var/lib/acme-edr/host-id /var/lib/acme-edr/registration.state

pkg="$(rpm -q acme-edr-agent)"
echo "security_agent: $pkg enabled"
