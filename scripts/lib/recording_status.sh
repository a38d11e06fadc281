#!/usr/bin/env bash
# Which recordings of a BigBlueButton node the front does not have yet, from the status files BigBlueButton's
# recording pipeline leaves under /var/bigbluebutton/recording/status. Sourced, never run: by
# bbb-node-retire.sh from the step's bundle, and by the retry timer's script from the copy
# bbb-node-recordings.sh installs (/usr/local/lib/bbb-ovh/recording_status.sh).
#
# bbb-web writes recorded/<id>.done when a recorded meeting ends, before it drops the meeting from
# getMeetings (MeetingService.processRemoveEndedMeeting: processRecording, then meetings.remove); then
# record-and-playback's rap-starter and workers write archived/<id>.done (archived/<id>.norecord when
# nothing was recorded), sanity, processed/<id>-<format>.done and published/<id>-<format>.done
# (<stage>/<id>*.fail when a stage failed). Scalelite's post_publish script writes
# published/<id>-sender.done once the front has the archive. So a recording is on the node, and only
# there, from recorded/ until its sender.done; getRecordings lists it only once its processing has begun.
# rap-starter (record-and-playback/core/scripts/rap-starter.rb) creates recording/raw/<id> and deletes
# recorded/<id>.done as it queues the archive job: until archived/<id>.done is written, that directory is
# all there is (bbb-record --delete removes it; BigBlueButton's daily cron removes it for published
# recordings, whose status files stay).

# record_ids STATUS STAGE SUFFIX: the recording ids with a status file <id><SUFFIX> in STATUS/STAGE, one a line.
record_ids() {
  local file
  shopt -s nullglob
  for file in "$1/$2"/*"$3"; do
    file="${file##*/}"
    printf '%s\n' "${file%"$3"}"
  done
}

# fail_ids STATUS: the recording ids of the <stage>/<id>*.fail status files (an id is 54 characters), one a line.
fail_ids() {
  local file
  shopt -s nullglob
  for file in "$1"/*/*.fail; do
    file="${file##*/}"
    printf '%s\n' "${file:0:54}"
  done
}

# published_ids STATUS: the ids of the published/<id>-<format>.done files (sender.done included), one a line.
published_ids() {
  record_ids "$1" published .done | sed 's/-[^-]*$//'
}

# recording_ids STATUS: the ids of every recording the status files or recording/raw/ know, one a line.
recording_ids() {
  local status="$1" dir
  shopt -s nullglob
  {
    record_ids "$status" recorded .done
    record_ids "$status" archived .done
    published_ids "$status"
    fail_ids "$status"
    for dir in "${status%/status}/raw"/*/; do
      dir="${dir%/}"
      printf '%s\n' "${dir##*/}"
    done
  } | grep -E '^[0-9a-f]{40}-[0-9]{13}$' | sort -u
  return 0
}

# unsent_recordings STATUS: the ids recorded, being archived, archived or published without a sender.done,
# nor an archived .norecord (nothing was recorded).
unsent_recordings() {
  local status="$1" id
  declare -A sent=()
  while read -r id; do sent[$id]=1; done < <(record_ids "$status" published -sender.done; record_ids "$status" archived .norecord)
  while read -r id; do
    [[ -z "${sent[$id]:-}" ]] && printf '%s\n' "$id"
  done < <(recording_ids "$status")
  return 0
}

# failed_recordings STATUS: of the unsent ones, those a stage marked failed (<stage>/<id>*.fail) with no format
# published: they move on only once rebuilt (bbb-record --rebuild <id>) or deleted (bbb-record --delete <id>).
# One with a format published is waiting instead (the retry timer sends it), and counted so only once.
failed_recordings() {
  local status="$1" id
  declare -A failed=() published=()
  while read -r id; do failed[$id]=1; done < <(fail_ids "$status")
  while read -r id; do published[$id]=1; done < <(published_ids "$status")
  while read -r id; do
    [[ -n "${failed[$id]:-}" && -z "${published[$id]:-}" ]] && printf '%s\n' "$id"
  done < <(unsent_recordings "$status")
  return 0
}
