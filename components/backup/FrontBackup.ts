import * as pulumi from "@pulumi/pulumi";
import * as ovh from "@ovhcloud/pulumi-ovh";
import * as random from "@pulumi/random";
import type { remote } from "@pulumi/command";
import type { Campus } from "../config/campus";
import { RECORDING_DIR } from "../scalelite/recordingLayout";
import type { ScaleliteFront } from "../scalelite/ScaleliteFront";
import { backupTarget, backupUserPolicy, resticRepository, type BackupConfig } from "./backupConfig";

export interface FrontBackupArgs {
  campus: Campus;
  /** campus.backup, when it is enabled. */
  backup: BackupConfig;
  front: ScaleliteFront;
  /** campus.standbyFront: it backs up into the same repository once it serves (its timer skips until then). */
  standbyFront?: ScaleliteFront;
}

/** The secret config keys of backups: an S3 key pair for target s3; optionally the repository password. */
export const BACKUP_SECRET_KEYS = { s3Credentials: "backupS3Credentials", password: "backupPassword" } as const;

/**
 * Backups of the Scalelite front (docs/backups.md): where they go, then the host step that sets up restic
 * and its timer on the front.
 *
 * With target ovh, an Object Storage bucket in another region of the stack's Public Cloud project
 * (ovh.cloudproject.Storage, versioned), a Public Cloud user for the front (ovh.cloudproject.User, role
 * objectstore_operator), its S3 keys (ovh.cloudproject.S3Credential) and an S3 policy limiting it to that
 * bucket (ovh.cloudproject.S3Policy); see @ovhcloud/pulumi-ovh 2.19.1's cloudproject/*.d.ts.
 * The bucket holds the only other copy of every recording: like a paid server it is protected and kept
 * when removed from the program unless protection.allowTermination is set, and so is the generated
 * repository password, without which the bucket is unreadable.
 */
export class FrontBackup extends pulumi.ComponentResource {
  readonly repository: string;
  readonly step: remote.Command;

  constructor(name: string, args: FrontBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:backup:FrontBackup", name, {}, opts);
    const { campus, backup, front, standbyFront } = args;
    const keep = !campus.config.protection.allowTermination;
    const kept = { parent: this, protect: keep, retainOnDelete: keep };
    const config = new pulumi.Config("bbb-ovh");
    const target = backupTarget(campus, backup);
    this.repository = resticRepository(target);

    const password =
      config.getSecret(BACKUP_SECRET_KEYS.password) ??
      pulumi.secret(new random.RandomPassword(`${name}-repository-password`, { length: 48, special: false }, kept).result);

    let keys: pulumi.Output<{ accessKeyId: string; secretAccessKey: string }>;
    // The bucket and its user's policy, when the stack makes them: the steps wait for both.
    const store: pulumi.Resource[] = [];
    if (target.kind === "ovh") {
      const serviceName = target.projectId;
      const bucket = new ovh.cloudproject.Storage(
        `${name}-bucket`,
        { serviceName, regionName: target.ovhRegion, name: target.bucket, versioning: { status: "enabled" }, hideObjects: true },
        kept,
      );
      const user = new ovh.cloudproject.User(
        `${name}-user`,
        { serviceName, description: `${campus.config.id}: restic backups of the Scalelite front`, roleNames: ["objectstore_operator"] },
        { parent: this },
      );
      const credential = new ovh.cloudproject.S3Credential(`${name}-s3-credentials`, { serviceName, userId: user.id }, { parent: this });
      const policy = new ovh.cloudproject.S3Policy(
        `${name}-s3-policy`,
        { serviceName, userId: user.id, policy: backupUserPolicy(target.bucket) },
        { parent: this },
      );
      keys = pulumi.secret(
        pulumi.all([credential.accessKeyId, credential.secretAccessKey]).apply(([accessKeyId, secretAccessKey]) => ({ accessKeyId, secretAccessKey })),
      );
      store.push(bucket, policy);
    } else {
      const given = config.getSecretObject<{ accessKeyId?: string; secretAccessKey?: string }>(BACKUP_SECRET_KEYS.s3Credentials);
      if (!given)
        throw new Error(
          `campus.backup.target is s3 but the secret bbb-ovh:${BACKUP_SECRET_KEYS.s3Credentials} is not set: pulumi config set --secret --path 'bbb-ovh:${BACKUP_SECRET_KEYS.s3Credentials}.accessKeyId' ... (and .secretAccessKey)`,
        );
      keys = pulumi.secret(
        given.apply((k) => {
          if (!k.accessKeyId || !k.secretAccessKey) throw new Error(`bbb-ovh:${BACKUP_SECRET_KEYS.s3Credentials}: expected {accessKeyId, secretAccessKey}`);
          return { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
        }),
      );
    }

    const inputs = {
      RESTIC_REPOSITORY: this.repository,
      RESTIC_PASSWORD: password,
      AWS_ACCESS_KEY_ID: pulumi.secret(keys.apply((k) => k.accessKeyId)),
      AWS_SECRET_ACCESS_KEY: pulumi.secret(keys.apply((k) => k.secretAccessKey)),
      AWS_DEFAULT_REGION: target.region,
      RECORDING_DIR,
      SCHEDULE: backup.schedule,
      KEEP_DAILY: String(backup.retention.daily),
      KEEP_WEEKLY: String(backup.retention.weekly),
      KEEP_MONTHLY: String(backup.retention.monthly),
      MAX_AGE_HOURS: String(backup.maxAgeHours),
    };
    this.step = front.steps.run("scaleliteBackup", inputs, { dependsOn: [front.health, ...store], parent: this });
    // The standby front gets the same repository, keys and timer: after `ops failover` it serves, and its runs
    // back up (each run skips while its front-role says standby or fenced). After the front's step, which makes
    // the repository when it is new: two `restic init` at once would race.
    if (standbyFront) standbyFront.steps.run("scaleliteBackup", inputs, { dependsOn: [standbyFront.health, this.step], parent: this });
    this.registerOutputs({ repository: this.repository });
  }
}
