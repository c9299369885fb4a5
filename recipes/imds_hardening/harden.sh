#!/usr/bin/env bash
# imds_hardening: keep instance metadata (and so the instance role's
# credentials) out of reach of what should not have it.
#
# BLOCK_NON_ROOT (true/false) comes from the recipe input "block_non_root".
set -euo pipefail

case "${BLOCK_NON_ROOT:-false}" in
  true | 1 | yes) block=true ;;
  false | 0 | no | "") block=false ;;
  *)
    echo "imds_hardening: BLOCK_NON_ROOT must be true or false, got '${BLOCK_NON_ROOT}'" >&2
    exit 1
    ;;
esac

# 1. AWS SDKs and the CLI never fall back to IMDSv1, for login shells and
#    for every systemd service. Both files are rewritten whole: idempotent.
install -d -m 0755 /etc/systemd/system.conf.d
cat >/etc/profile.d/60-imds.sh <<'CONF'
# amibake imds_hardening: AWS SDKs must use IMDSv2 tokens.
export AWS_EC2_METADATA_V1_DISABLED=true
CONF
cat >/etc/systemd/system.conf.d/60-imds.conf <<'CONF'
# amibake imds_hardening: AWS SDKs must use IMDSv2 tokens.
[Manager]
DefaultEnvironment=AWS_EC2_METADATA_V1_DISABLED=true
CONF
# No daemon-reexec: re-executing PID 1 mid-build is not worth it; instances
# launched from the image read system.conf.d at boot.

# 2. Optionally, only root may talk to IMDS at all.
dnf install -y nftables

rules=/etc/nftables/amibake-imds.nft
main=/etc/sysconfig/nftables.conf
include_line="include \"$rules\""
touch "$main"

if [[ "$block" == true ]]; then
  install -d -m 0755 /etc/nftables
  # "table …; delete table …" first: reloading the file replaces the table
  # instead of failing or stacking a second copy of the rule.
  cat >"$rules" <<'NFT'
# amibake imds_hardening: only root reaches the instance metadata service.
table inet amibake_imds
delete table inet amibake_imds
table inet amibake_imds {
  chain output {
    type filter hook output priority filter; policy accept;
    ip daddr 169.254.169.254 meta skuid != 0 reject
    ip6 daddr fd00:ec2::254 meta skuid != 0 reject
  }
}
NFT
  if ! grep -qxF "$include_line" "$main"; then
    echo "$include_line" >>"$main"
  fi
  nft -f "$rules"
  systemctl enable nftables
  echo "imds_hardening: IMDS restricted to root"
else
  # Turning the input off again must undo it on a re-run.
  if grep -qxF "$include_line" "$main"; then
    sed -i "\\|^include \"$rules\"\$|d" "$main"
  fi
  rm -f "$rules"
  nft delete table inet amibake_imds 2>/dev/null || true
  echo "imds_hardening: IMDS open to all local users (block_non_root = false)"
fi
