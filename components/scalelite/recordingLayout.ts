/**
 * Where recordings live, following Scalelite's shared-volume guide (docs/sharedvolume-README.md):
 * the front keeps them under /mnt/scalelite-recordings/var/bigbluebutton and exports that directory
 * over NFS; each node mounts it at the same path, so one path means the same thing on every host.
 */
export const RECORDING_DIR = "/mnt/scalelite-recordings/var/bigbluebutton";
/** Where the nodes' post_publish script drops recording archives for the importer. */
export const SPOOL_DIR = `${RECORDING_DIR}/spool`;
/** Local scratch space of the post_publish script on each node (scalelite.yml's default). */
export const NODE_WORK_DIR = "/var/bigbluebutton/recording/scalelite";

/** The post_publish script of the Scalelite release the front runs, so both sides match. */
export function postPublishUrl(scaleliteTag: string): string {
  if (!/^v\d+\.\d+\.\d+$/.test(scaleliteTag)) throw new Error(`expected a pinned Scalelite release such as v1.8.5, got '${scaleliteTag}'`);
  return `https://raw.githubusercontent.com/blindsidenetworks/scalelite/${scaleliteTag}/bigbluebutton/scalelite_post_publish.rb`;
}
