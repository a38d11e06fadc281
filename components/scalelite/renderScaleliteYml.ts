import { stringify } from "yaml";
import { NODE_WORK_DIR, SPOOL_DIR } from "./recordingLayout";

/**
 * The node's /usr/local/bigbluebutton/core/scripts/scalelite.yml, read by scalelite_post_publish.rb:
 * work_dir (local scratch), spool_dir (the NFS-mounted spool of the front) and extra_rsync_opts.
 * On NFS the files are written by the bigbluebutton user into a directory owned 1000:2000, so rsync
 * must not try to keep owners and must leave the archive group-readable for the importer (uid 1000).
 */
export function renderScaleliteYml(paths: { workDir?: string; spoolDir?: string } = {}): string {
  const workDir = paths.workDir ?? NODE_WORK_DIR;
  const spoolDir = paths.spoolDir ?? SPOOL_DIR;
  for (const [key, dir] of [["work_dir", workDir], ["spool_dir", spoolDir]] as const) {
    if (!/^\/[^\0\n\r]*[^/]$/.test(dir)) throw new Error(`scalelite.yml ${key} must be an absolute path without a trailing slash, got '${dir}'`);
  }
  return stringify({ work_dir: workDir, spool_dir: spoolDir, extra_rsync_opts: ["--no-owner", "--chmod=F664"] });
}
