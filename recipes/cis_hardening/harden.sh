#!/usr/bin/env bash
# cis_hardening: the CIS Amazon Linux 2023 benchmark items that belong in an
# image (kernel parameters, audit, unused filesystems, file permissions,
# banners, core dumps). sshd_config, the sysctl file and the audit rules come
# from the recipe's file steps; this script applies them.
#
# CIS_LEVEL (1 or 2) comes from the recipe input "level".
set -euo pipefail

level="${CIS_LEVEL:-1}"
case "$level" in
  1 | 2) ;;
  *)
    echo "cis_hardening: CIS_LEVEL must be 1 or 2, got '$level'" >&2
    exit 1
    ;;
esac
echo "cis_hardening: applying CIS level $level"

dnf install -y audit
dnf remove -y telnet rsh ypbind tftp

# --- Kernel parameters (files/60-cis-sysctl.conf) ---------------------------
# -e: a key this kernel lacks is skipped, not fatal.
sysctl -e --system >/dev/null

# --- Unused filesystems and devices -----------------------------------------
modules=(cramfs freevxfs jffs2 hfs hfsplus)
if [[ "$level" == 2 ]]; then
  modules+=(squashfs udf usb-storage)
fi
{
  echo "# Written by the amibake recipe cis_hardening (level $level)."
  for m in "${modules[@]}"; do
    echo "install $m /bin/false"
    echo "blacklist $m"
  done
} >/etc/modprobe.d/cis-disabled.conf
for m in "${modules[@]}"; do
  modprobe -r "$m" 2>/dev/null || true
done

# --- Audit --------------------------------------------------------------------
# Audit from the first instruction, with room for the boot burst.
grubby --update-kernel=ALL --args="audit=1 audit_backlog_limit=8192"
systemctl enable --now auditd

# Level 2 makes the rules immutable until reboot (-e 2).
if [[ "$level" == 2 ]]; then
  echo "-e 2" >/etc/audit/rules.d/99-finalize.rules
else
  rm -f /etc/audit/rules.d/99-finalize.rules
fi
# Once immutable, the running rules cannot be reloaded; they take effect
# at the next boot, which is every instance launched from this image.
# (Captured first: `auditctl -s | grep -q` can fail under pipefail when grep
# exits early and auditctl gets SIGPIPE.)
audit_status="$(auditctl -s)"
if grep -q '^enabled 2' <<<"$audit_status"; then
  echo "cis_hardening: audit rules are immutable until reboot; skipping reload"
else
  augenrules --load
fi

# --- Permissions on account files and cron ----------------------------------
for f in /etc/passwd /etc/passwd- /etc/group /etc/group-; do
  if [[ -e "$f" ]]; then
    chown root:root "$f"
    chmod 0644 "$f"
  fi
done
for f in /etc/shadow /etc/shadow- /etc/gshadow /etc/gshadow-; do
  if [[ -e "$f" ]]; then
    chown root:root "$f"
    chmod 0000 "$f"
  fi
done
if [[ -e /etc/crontab ]]; then
  chmod 0600 /etc/crontab
fi
for d in /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly /etc/cron.d; do
  if [[ -d "$d" ]]; then
    chmod 0700 "$d"
  fi
done

# --- Login banners (sshd_config points Banner at /etc/issue.net) -------------
banner="Authorized use only. Activity on this system is monitored and recorded."
for f in /etc/issue /etc/issue.net; do
  printf '%s\n' "$banner" >"$f"
  chmod 0644 "$f"
done

# --- Core dumps and default umask --------------------------------------------
install -d -m 0755 /etc/security/limits.d /etc/systemd/coredump.conf.d
printf '%s\n' "# amibake cis_hardening" "* hard core 0" >/etc/security/limits.d/60-cis-core.conf
printf '%s\n' "# amibake cis_hardening" "[Coredump]" "Storage=none" "ProcessSizeMax=0" \
  >/etc/systemd/coredump.conf.d/60-cis.conf
printf '%s\n' "# amibake cis_hardening" "umask 027" >/etc/profile.d/60-cis-umask.sh

echo "cis_hardening: done"
