import type { CampusConfig } from "../config/schema";

/**
 * Where and how the front is backed up, from the campus; pure (docs/backups.md).
 *
 * OVH Object Storage's S3 endpoints are https://s3.<region>.io.cloud.ovh.net (OVHcloud, "Object Storage -
 * Endpoints and Object Storage geoavailability", help.ovhcloud.com, checked 2026-11), the region in lower
 * case doubling as the S3 signing region.
 */
export type BackupConfig = NonNullable<CampusConfig["backup"]>;

/**
 * What these rules read of a parsed campus (config/campus.ts's Campus satisfies it). Named here rather
 * than imported: config/campus.ts runs backupProblems below, and an import back would close a circle.
 */
export interface BackedUpCampus {
  config: CampusConfig;
  front: { datacenter: string; fqdn: string };
}

interface BackupBucket {
  endpoint: string;
  bucket: string;
  /** The S3 signing region (AWS_DEFAULT_REGION for restic). */
  region: string;
}

/** By kind: the ovh target carries what creating its bucket takes, so FrontBackup needs no re-check. */
export type BackupTarget =
  | (BackupBucket & { kind: "s3" })
  | (BackupBucket & {
      kind: "ovh";
      /** The OVH Object Storage region (upper case). */
      ovhRegion: string;
      /** The Public Cloud project (campus.publicCloud.projectId) that holds the bucket. */
      projectId: string;
    });

/** The datacenter family of an OVH location: sbg5 -> sbg, GRA11 -> gra, rbx -> rbx. */
const family = (location: string) => location.toLowerCase().replace(/[0-9]+$/, "");

/** The bucket's OVH region: the configured one, else GRA, or SBG when the front itself is in Gravelines. */
export function backupRegion(campus: Pick<BackedUpCampus, "front">, backup: Pick<BackupConfig, "region">): string {
  return backup.region ?? (family(campus.front.datacenter) === "gra" ? "SBG" : "GRA");
}

/** A bucket name unique to the campus and the Public Cloud project (bucket names are shared across OVH). */
export function ovhBucketName(campusId: string, projectId: string): string {
  return `${campusId}-bbb-backup-${projectId.slice(0, 8)}`;
}

export function backupTarget(campus: BackedUpCampus, backup: BackupConfig): BackupTarget {
  if (backup.target === "s3") {
    if (!backup.s3) throw new Error("campus.backup.s3 is required when campus.backup.target is s3");
    return { kind: "s3", endpoint: backup.s3.endpoint.replace(/\/+$/, ""), bucket: backup.s3.bucket, region: backup.s3.region };
  }
  const projectId = campus.config.publicCloud?.projectId;
  if (!projectId) throw new Error("campus.backup.target ovh needs campus.publicCloud (the project that holds the bucket)");
  const ovhRegion = backupRegion(campus, backup);
  const region = ovhRegion.toLowerCase();
  return { kind: "ovh", endpoint: `https://s3.${region}.io.cloud.ovh.net`, bucket: ovhBucketName(campus.config.id, projectId), region, ovhRegion, projectId };
}

/** restic's repository string for an S3 bucket (restic docs, "Preparing a new repository": s3:https://host/bucket). */
export function resticRepository(target: Pick<BackupTarget, "endpoint" | "bucket">): string {
  return `s3:${target.endpoint}/${target.bucket}`;
}

/**
 * The S3 policy of the front's Object Storage user: this bucket only, and only what restic does (read
 * its index, write packs, delete what `forget --prune` drops, its lock files). It cannot be write-only:
 * restic reads its keys, index and snapshots before every run. What it lacks is what would destroy the
 * backups beyond recovery: no s3:DeleteObjectVersion (the bucket is versioned, so a deleted or
 * overwritten object keeps its previous version), no bucket deletion, no change of versioning or policy.
 * Actions and ARN form as in the d.ts example of ovh.cloudproject.S3Policy (@ovhcloud/pulumi-ovh 2.19.1)
 * and OVHcloud's "Object Storage - Identity and access management" guide.
 */
export function backupUserPolicy(bucket: string): string {
  return JSON.stringify({
    Statement: [
      {
        Sid: "ResticOnTheBackupBucket",
        Effect: "Allow",
        Action: [
          "s3:GetObject",
          "s3:PutObject",
          "s3:DeleteObject",
          "s3:ListBucket",
          "s3:GetBucketLocation",
          "s3:ListMultipartUploadParts",
          "s3:ListBucketMultipartUploads",
          "s3:AbortMultipartUpload",
        ],
        Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
      },
    ],
  });
}

/** What the offline plan warns about: recordings kept on one disk only. */
export function backupWarnings(campus: BackedUpCampus): string[] {
  if (!campus.config.recordings || campus.config.backup?.enabled) return [];
  return [`recordings are not backed up: every one lives only on ${campus.front.fqdn}; to do: set campus.backup (docs/backups.md)`];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Rules of campus.backup that span other fields, read from the raw input (see crossFieldProblems). */
export function backupProblems(raw: Record<string, unknown>, hasS3Credentials?: boolean): Array<{ path: string; message: string }> {
  const backup = raw.backup;
  if (!isRecord(backup) || backup.enabled === false) return [];
  const problems: Array<{ path: string; message: string }> = [];
  const target = backup.target ?? "ovh";
  if (target === "ovh") {
    if (!isRecord(raw.publicCloud)) {
      problems.push({
        path: "campus.backup.target",
        message: "ovh needs campus.publicCloud {projectId}: the bucket is created in that project; or use target: s3 with campus.backup.s3",
      });
    }
    if (backup.s3 !== undefined) problems.push({ path: "campus.backup.s3", message: "only applies with target: s3" });
    const front = isRecord(raw.front) ? raw.front : {};
    const frontLocation = typeof front.datacenter === "string" ? front.datacenter : typeof front.region === "string" ? front.region : undefined;
    const region = typeof backup.region === "string" ? backup.region : frontLocation && family(frontLocation) === "gra" ? "SBG" : "GRA";
    if (frontLocation && family(frontLocation) === family(region)) {
      problems.push({
        path: "campus.backup.region",
        message: `'${region}' is where the front is (${frontLocation}): a fire there would take both; choose another region such as ${family(region) === "gra" ? "SBG" : "GRA"}`,
      });
    }
  } else if (target === "s3") {
    if (!isRecord(backup.s3)) {
      problems.push({
        path: "campus.backup.s3",
        message: "is required with target: s3: {endpoint, bucket, region}; the keys go in the secret bbb-ovh:backupS3Credentials",
      });
    }
    if (hasS3Credentials === false) {
      problems.push({
        path: "bbb-ovh:backupS3Credentials",
        message:
          "is required with campus.backup.target s3: a secret object {accessKeyId, secretAccessKey} (pulumi config set --secret --path 'backupS3Credentials.accessKeyId' ...)",
      });
    }
  }
  return problems;
}
