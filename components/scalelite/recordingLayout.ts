/**
 * Where recordings live and how they travel. The front keeps them where Scalelite's shared-volume guide
 * puts them (docs/sharedvolume-README.md: /mnt/scalelite-recordings/var/bigbluebutton, spool,
 * recording/scalelite, published, unpublished, owned 1000:2000, mode 0775). The nodes do not mount it:
 * their post_publish script sends each archive by rsync over SSH (bigbluebutton/README.md, "Transfer
 * using rsync over SSH") to a dedicated user of the front whose key can only write into the spool
 * (rrsync -wo). See docs/recordings.md.
 */
export const RECORDING_DIR = "/mnt/scalelite-recordings/var/bigbluebutton";
/** Where the nodes' post_publish script drops recording archives for the importer. */
export const SPOOL_DIR = `${RECORDING_DIR}/spool`;
/**
 * Each node's own transfer target on the front: `<INCOMING_DIR>/<node>`. A node's key is confined to it
 * (rrsync -wo, through SPOOL_RECEIVE), so no node can see or change what another sent; the mover
 * (scripts/scalelite-recording-mover.sh) checks every archive there before handing it to SPOOL_DIR.
 */
export const INCOMING_DIR = `${RECORDING_DIR}/incoming`;
/** Archives the mover refused, per node, each with a `.reason` file: kept, never deleted. */
export const REFUSED_DIR = `${RECORDING_DIR}/refused`;
export const senderTarget = (node: string, incomingDir: string = INCOMING_DIR): string => `${incomingDir}/${node}`;
/** The forced command of every node key (scripts/scalelite-spool-receive.sh, installed by scaleliteSpool). */
export const SPOOL_RECEIVE = "/usr/local/lib/bbb-ovh/spool-receive";

const GiB = 1024 ** 3;
/**
 * The spool's space rule (the recordings share the front's filesystem with PostgreSQL and Redis):
 * the kernel stops any write past maxArchiveBytes (RLIMIT_FSIZE on the receiving rsync); a node whose target already holds
 * senderLimitBytes is refused until the mover has handed its archives over; no transfer starts, and the
 * mover hands nothing to the importer (which unpacks it), while the filesystem has less than
 * reserveBytes (+ one archive) free. Ten nodes at once can write at most ten archives past the check.
 */
export interface SpoolLimits {
  maxArchiveBytes: number;
  senderLimitBytes: number;
  reserveBytes: number;
}
export const SPOOL_LIMITS: SpoolLimits = { maxArchiveBytes: 10 * GiB, senderLimitBytes: 40 * GiB, reserveBytes: 10 * GiB };
export const describeSpoolLimits = (l: SpoolLimits = SPOOL_LIMITS): string =>
  `an archive at most ${l.maxArchiveBytes / GiB} GiB, at most ${l.senderLimitBytes / GiB} GiB waiting per node, ${l.reserveBytes / GiB} GiB kept free for PostgreSQL and Redis`;

/**
 * What each node keeps of the archives it delivered (scripts/bbb-node-recording-keep.sh), oldest dropped
 * first: enough to send again, after a failover, what the lost front had received but not yet imported
 * (it imports within minutes; the standby copies every STANDBY_COPY_INTERVAL_MINUTES). A week covers an
 * operator who fails over days later; the bytes bound the node's disk (a BigBlueButton node has hundreds of GB).
 */
export const NODE_KEEP = { maxBytes: 20 * GiB, maxHours: 7 * 24 } as const;
/** Where a node keeps those copies (the bigbluebutton user's). */
export const NODE_KEPT_DIR = "/var/bigbluebutton/bbb-ovh-kept";
/** The node's command that keeps, prunes and sends them again (installed by bbbRecordings). */
export const NODE_KEEP_COMMAND = "/usr/local/sbin/bbb-ovh-recording-keep";

/** Local scratch space of the post_publish script on each node (scalelite.yml's default). */
export const NODE_WORK_DIR = "/var/bigbluebutton/recording/scalelite";

/** The front's user that receives archives (the name of Scalelite's README example); its group is gid 2000. */
export const TRANSFER_USER = "scalelite-spool";
/** rrsync as Debian and Ubuntu's rsync package install it (since Debian 3.1.3-8; jammy's 3.2.x has it). */
export const RRSYNC = "/usr/bin/rrsync";
/** On each node: the transfer key, the pinned front host key and the ssh config the post_publish rsync uses. */
export const NODE_TRANSFER_DIR = "/etc/bbb-ovh/recording-transfer";
export const nodeTransferFiles = (dir: string = NODE_TRANSFER_DIR) => ({
  key: `${dir}/id_ed25519`,
  knownHosts: `${dir}/known_hosts`,
  sshConfig: `${dir}/ssh_config`,
});
/** On a standby front: the key, the primary's pinned host key and the ssh config of the recordings copy (scalelite-recordings-copy.sh). */
export const STANDBY_COPY_DIR = "/etc/bbb-ovh/recordings-copy";
/** What the standby's copy writes after each run (scalelite-recordings-pull.sh), read by `ops status`. */
export const STANDBY_COPY_STATUS = "/var/lib/bbb-ovh/recordings-copy.status";
/** How often the standby copies (its timer's OnUnitActiveSec), in minutes. */
export const STANDBY_COPY_INTERVAL_MINUTES = 5;
/** The name the nodes' ssh config gives the front (its HostName is the front's address). */
export const FRONT_ALIAS = "scalelite-front";

/**
 * Scalelite's post_publish script, pinned to a commit with its sha256: the commit of v1.8.5 (the
 * scalelite pin of tools/upstream/pins.tsv, which the conformance tests run), whose
 * bigbluebutton/scalelite_post_publish.rb hashes to `sha256`. The script only tars the published
 * formats and rsyncs the archive to spool_dir, so it does not follow the front's scalelite.tag.
 */
export const POST_PUBLISH = {
  commit: "7498a81dc813efcb5116143c64d23493292f7b57",
  sha256: "29f8980e917e83b3d432d9ab4521407abb48bc6ca7055b888ea56eea6e031616",
  url: "https://raw.githubusercontent.com/blindsidenetworks/scalelite/7498a81dc813efcb5116143c64d23493292f7b57/bigbluebutton/scalelite_post_publish.rb",
} as const;
