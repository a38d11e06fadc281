import { stringify } from "yaml";
import { FRONT_ALIAS, NODE_WORK_DIR, TRANSFER_USER, nodeTransferFiles } from "./recordingLayout";

export interface ScaleliteYmlArgs {
  workDir?: string;
  /** The ssh_config of renderTransferSshConfig, as installed on the node. */
  sshConfig?: string;
  user?: string;
}

/**
 * The node's /usr/local/bigbluebutton/core/scripts/scalelite.yml, read by scalelite_post_publish.rb
 * (keys of bigbluebutton/scalelite.yml): work_dir (local scratch), spool_dir in the rsync-over-SSH form
 * `USER@HOST:DEST` (bigbluebutton/README.md), extra_rsync_opts, and delete_recording so a node does not
 * keep a copy once the front has it.
 * - DEST is `.`: rrsync runs in the spool and anchors paths there; `.` is the spool with every rrsync
 *   (newer ones refuse `/`, RsyncProject/rsync#922).
 * - `--no-protect-args` undoes the script's `--protect-args`: rrsync refuses -s, since the paths would
 *   then travel inside the protocol where it cannot check them (rrsync's short_disabled).
 * - `--rsh=ssh -F <file>`: our ssh_config (front alias, transfer key, pinned host key), the README's
 *   "pass the --rsh option" way, instead of the bigbluebutton user's ~/.ssh.
 */
export function renderScaleliteYml(args: ScaleliteYmlArgs = {}): string {
  const { workDir = NODE_WORK_DIR, sshConfig = nodeTransferFiles().sshConfig, user = TRANSFER_USER } = args;
  const problems: string[] = [];
  if (!/^\/[^\0\n\r]*[^/]$/.test(workDir)) problems.push(`work_dir must be an absolute path without a trailing slash, got '${workDir}'`);
  if (!/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/.test(sshConfig))
    problems.push(`the ssh_config path '${sshConfig}' must be absolute, of plain characters (rsync splits --rsh on spaces)`);
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) problems.push(`'${user}' is not a Unix user name`);
  if (problems.length > 0) throw new Error(`scalelite.yml: ${problems.join("; ")}`);
  return stringify({
    work_dir: workDir,
    spool_dir: `${user}@${FRONT_ALIAS}:.`,
    extra_rsync_opts: ["--no-protect-args", `--rsh=ssh -F ${sshConfig}`],
    delete_recording: true,
  });
}
