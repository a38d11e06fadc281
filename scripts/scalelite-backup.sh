#!/usr/bin/env bash
# Scalelite front: backups of the recordings and of Scalelite's database into a restic repository on
# S3-compatible object storage in another datacenter (docs/backups.md). This host step installs restic
# from Ubuntu's packages and the backup command (scalelite-backup-command.sh, as bbb-ovh-backup, with the
# lib/ files it sources), writes the repository settings (0600), initialises the repository once, and
# installs bbb-ovh-backup.service + .timer. Inputs: see components/remote/catalogue.ts (scaleliteBackup).
# Redis (Scalelite's server pool and meetings) is not backed up: the pool is rebuilt from servers.yaml
# by the registration step and meetings are transient.
set -euo pipefail
SCRIPT_DIR="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/backup.sh
source "$SCRIPT_DIR/lib/backup.sh"
# shellcheck source-path=SCRIPTDIR source=lib/apt.sh
source "$SCRIPT_DIR/lib/apt.sh"
# shellcheck source-path=SCRIPTDIR source=lib/units.sh
source "$SCRIPT_DIR/lib/units.sh"
REQUIRED_INPUTS=(RESTIC_REPOSITORY RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY RECORDING_DIR SCHEDULE KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY MAX_AGE_HOURS)
OPTIONAL_INPUTS=(AWS_DEFAULT_REGION)

INSTALL_DIR="$ROOT/usr/local/lib/bbb-ovh/backup"
COMMAND_LINK="$ROOT/usr/local/sbin/bbb-ovh-backup"

install_self() {
  local changed=1
  mkdir -p "$INSTALL_DIR/lib"
  install_content "$INSTALL_DIR/bbb-ovh-backup" 0755 <"$SCRIPT_DIR/scalelite-backup-command.sh" && changed=0
  install_content "$INSTALL_DIR/lib/common.sh" 0644 <"$SCRIPT_DIR/lib/common.sh" && changed=0
  install_content "$INSTALL_DIR/lib/backup.sh" 0644 <"$SCRIPT_DIR/lib/backup.sh" && changed=0
  # Before the split of step and command, the command was a copy of this script.
  rm -f "$INSTALL_DIR/scalelite-backup.sh"
  mkdir -p "$(dirname "$COMMAND_LINK")"
  # Relative, so that the link also holds under another root.
  if [[ "$(readlink "$COMMAND_LINK" 2>/dev/null)" != ../lib/bbb-ovh/backup/bbb-ovh-backup ]]; then
    ln -sfn ../lib/bbb-ovh/backup/bbb-ovh-backup "$COMMAND_LINK"
    changed=0
  fi
  ((changed == 0)) && log "installed bbb-ovh-backup"
  return 0
}

check_inputs() {
  local key
  [[ "$IN_RESTIC_REPOSITORY" =~ ^s3:https?://[^[:space:]]+/[^[:space:]]+$ ]] ||
    die "RESTIC_REPOSITORY must be s3:https://ENDPOINT/BUCKET[/PREFIX], got '$IN_RESTIC_REPOSITORY'"
  [[ "$IN_RECORDING_DIR" == /* ]] || die "RECORDING_DIR must be an absolute path"
  for key in KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY MAX_AGE_HOURS; do
    local var="IN_$key"
    [[ "${!var}" =~ ^[0-9]+$ ]] || die "$key must be a whole number, got '${!var}'"
  done
  ((IN_KEEP_DAILY + IN_KEEP_WEEKLY + IN_KEEP_MONTHLY > 0)) || die "the retention keeps nothing: KEEP_DAILY, KEEP_WEEKLY or KEEP_MONTHLY must be > 0"
  [[ "$IN_SCHEDULE" =~ ^[A-Za-z0-9:*,./~\ -]+$ ]] || die "SCHEDULE must be a systemd OnCalendar expression, got '$IN_SCHEDULE'"
  if command -v systemd-analyze >/dev/null && ! systemd-analyze calendar "$IN_SCHEDULE" >/dev/null 2>&1; then
    die "SCHEDULE '$IN_SCHEDULE' is not a valid systemd OnCalendar expression (systemd-analyze calendar)"
  fi
  for key in RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
    local var="IN_$key"
    [[ -n "${!var}" ]] || die "$key is empty"
  done
}

write_settings() {
  mkdir -p "$CONF_DIR"
  chmod 0700 "$CONF_DIR"
  install_text "$PASSWORD_FILE" 0600 "$IN_RESTIC_PASSWORD" || true
  {
    printf 'RESTIC_REPOSITORY=%s\n' "$IN_RESTIC_REPOSITORY"
    printf 'AWS_ACCESS_KEY_ID=%s\n' "$IN_AWS_ACCESS_KEY_ID"
    printf 'AWS_SECRET_ACCESS_KEY=%s\n' "$IN_AWS_SECRET_ACCESS_KEY"
    if [[ -n "${IN_AWS_DEFAULT_REGION:-}" ]]; then printf 'AWS_DEFAULT_REGION=%s\n' "$IN_AWS_DEFAULT_REGION"; fi
  } | install_content "$REPOSITORY_ENV" 0600 || true
  {
    printf 'RECORDING_DIR=%s\n' "$IN_RECORDING_DIR"
    printf 'KEEP_DAILY=%s\nKEEP_WEEKLY=%s\nKEEP_MONTHLY=%s\n' "$IN_KEEP_DAILY" "$IN_KEEP_WEEKLY" "$IN_KEEP_MONTHLY"
    printf 'MAX_AGE_HOURS=%s\n' "$IN_MAX_AGE_HOURS"
  } | install_content "$POLICY_ENV" 0600 || true
}

# init_repository: `restic init` only when the repository does not exist yet. restic adds "Is there a
# repository at the following location?" to every failure to read the config, refused credentials
# included: only a missing config object or bucket counts as "not there".
init_repository() {
  local errors
  # --no-cache: checking the repository leaves nothing behind on the host.
  errors="$(restic --no-cache cat config 2>&1 >/dev/null)" && return 0
  if ! grep -qE 'specified key does not exist|specified bucket does not exist|NoSuchKey|NoSuchBucket' <<<"$errors"; then
    die "cannot open the backup repository: $(explain_restic_error "$errors")"
  fi
  log "initialising the backup repository $RESTIC_REPOSITORY"
  errors="$(restic --no-cache init 2>&1 >/dev/null)" || {
    # Another run may have initialised it in between.
    restic --no-cache cat config >/dev/null 2>&1 || die "restic init failed: $(explain_restic_error "$errors")"
  }
}

# The service is written without queuing it (a deployment must not start a backup): only the timer is
# queued, so lib/units.sh reloads systemd and enables and starts the timer when either file changed.
install_units() {
  install_watched "$UNIT_DIR/bbb-ovh-backup.service" 0644 bbb-ovh-backup.timer <<EOF
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=bbb-ovh backup of Scalelite's database and recordings (restic)
Wants=network-online.target
After=network-online.target scalelite-postgres.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/bbb-ovh-backup run
Nice=10
IOSchedulingClass=idle
EOF
  install_unit bbb-ovh-backup.timer <<EOF
# Written by bbb-ovh ($STEP_NAME); changes here are overwritten on the next deployment.
[Unit]
Description=bbb-ovh backup of Scalelite, on schedule

[Timer]
OnCalendar=$IN_SCHEDULE
RandomizedDelaySec=10min
Persistent=true

[Install]
WantedBy=timers.target
EOF
  apply_pending_units
}

# init_or_check_repository: under the backup lock, initialise the repository if needed. A backup can hold
# that lock for hours: a deployment meanwhile only checks that the new settings open the repository
# (which the running backup proves exists; `restic cat config` takes no lock) instead of failing.
init_or_check_repository() {
  local errors
  mkdir -p "$STATE_DIR"
  exec 9>>"$LOCK_FILE"
  if flock -n 9; then
    init_repository
    return
  fi
  log "a backup or restore is running: checking the repository with the new settings without waiting for it"
  errors="$(restic --no-cache cat config 2>&1 >/dev/null)" || die "cannot open the backup repository: $(explain_restic_error "$errors")"
}

main() {
  check_inputs
  apt_install restic
  install_self
  # The repository is checked with the new settings before they replace the old ones: wrong keys or a
  # wrong password stop here and leave a working configuration in place.
  export RESTIC_REPOSITORY="$IN_RESTIC_REPOSITORY" AWS_ACCESS_KEY_ID="$IN_AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$IN_AWS_SECRET_ACCESS_KEY"
  if [[ -n "${IN_AWS_DEFAULT_REGION:-}" ]]; then export AWS_DEFAULT_REGION="$IN_AWS_DEFAULT_REGION"; fi
  export RESTIC_PASSWORD="$IN_RESTIC_PASSWORD"
  init_or_check_repository
  write_settings
  install_units
  log "backups to $RESTIC_REPOSITORY are set up (schedule: $IN_SCHEDULE)"
}

# The backups themselves (run, list, status, check, restore) are bbb-ovh-backup's: bbb-ovh-backup --help.
run_step "$@"
