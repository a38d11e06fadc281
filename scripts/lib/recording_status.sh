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

# record_ids STATUS STAGE SUFFIX: the recording ids with a status file <id><SUFFIX> in STATUS/STAGE, one a line.
record_ids() {
  local file
  shopt -s nullglob
  for file in "$1/$2"/*"$3"; do
    file="${file##*/}"
    printf '%s\n' "${file%"$3"}"
  done
}

# unsent_recordings STATUS: the ids recorded, archived or published without a sender.done, nor an archived .norecord.
unsent_recordings() {
  local status="$1" id
  declare -A sent=()
  while read -r id; do sent[$id]=1; done < <(record_ids "$status" published -sender.done; record_ids "$status" archived .norecord)
  {
    record_ids "$status" recorded .done
    record_ids "$status" archived .done
    record_ids "$status" published .done | sed 's/-[^-]*$//'
  } | sort -u | while read -r id; do
    [[ -n "$id" && -z "${sent[$id]:-}" ]] && printf '%s\n' "$id"
  done
  return 0
}
