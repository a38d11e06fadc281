/**
 * campus.backup: the schema and cross-field rules, the pure target/policy logic, and the real program
 * under Pulumi's mocks (what it would create, what is protected, what stays secret).
 */
import { describe, expect, it } from "vitest";
import { backupRegion, backupTarget, backupUserPolicy, backupWarnings, ovhBucketName, resticRepository } from "../../components/backup/backupConfig";
import { CampusConfigError } from "../../components/config/campus";
import { campusOfStackFile, readStackFile } from "../../components/config/stackFile";
import { isSecretValue } from "../../cli/plan/recorder";
import { renderStepStdin } from "../../components/remote/invocation";
import { byType, evaluateStack, plainStrings } from "../support/evaluateStack";

const S3_SECRET = "s3-secret-key-0123456789abcdefghij";

function campusWith(stack: string, backup: unknown, mutate?: (c: Record<string, any>) => void) {
  const file = readStackFile(stack);
  const campus = structuredClone(file.config["bbb-ovh:campus"].value) as Record<string, any>;
  campus.backup = backup;
  mutate?.(campus);
  file.config["bbb-ovh:campus"] = { value: campus, encrypted: false };
  return campusOfStackFile(file);
}

function problemsOf(stack: string, backup: unknown, mutate?: (c: Record<string, any>) => void): string[] {
  try {
    campusWith(stack, backup, mutate);
    return [];
  } catch (e) {
    if (!(e instanceof CampusConfigError)) throw e;
    return e.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

describe("campus.backup, checked before anything is created", () => {
  it("defaults: daily at 03:15, keeps 7 daily, 5 weekly, 12 monthly, alerts after 26 h; bucket in GRA for a front in GRA11? no: SBG", () => {
    const campus = campusWith("training", {});
    expect(campus.config.backup).toEqual({
      enabled: true,
      target: "ovh",
      schedule: "*-*-* 03:15:00",
      retention: { daily: 7, weekly: 5, monthly: 12 },
      maxAgeHours: 26,
    });
    expect(backupRegion(campus, campus.config.backup!)).toBe("SBG");
    const target = backupTarget(campus, campus.config.backup!);
    expect(target).toEqual({
      kind: "ovh",
      endpoint: "https://s3.sbg.io.cloud.ovh.net",
      bucket: "training-bbb-backup-5f3c1e0a",
      region: "sbg",
      ovhRegion: "SBG",
      projectId: "5f3c1e0a9b8d4c7e8f6a2b1c0d9e8f7a",
    });
    expect(resticRepository(target)).toBe("s3:https://s3.sbg.io.cloud.ovh.net/training-bbb-backup-5f3c1e0a");
  });

  it("refuses a bucket in the front's own datacenter, an OVH target without Public Cloud, and s3 without its endpoint, all at once", () => {
    expect(problemsOf("training", { region: "GRA" })).toEqual([
      "campus.backup.region: 'GRA' is where the front is (GRA11): a fire there would take both; choose another region such as SBG",
    ]);
    expect(problemsOf("brest", {})).toEqual([
      "campus.backup.target: ovh needs campus.publicCloud {projectId}: the bucket is created in that project; or use target: s3 with campus.backup.s3",
    ]);
    expect(problemsOf("brest", { target: "s3", schedule: "now; rm -rf /", retention: { daily: 0, weekly: 0, monthly: 0 }, maxAgeHours: 0 })).toEqual(
      expect.arrayContaining([
        "campus.backup.schedule: expected a systemd OnCalendar expression such as '*-*-* 03:15:00' or daily",
        "campus.backup.retention: the retention must keep at least one snapshot",
        expect.stringMatching(/^campus\.backup\.maxAgeHours: /),
        "campus.backup.s3: is required with target: s3: {endpoint, bucket, region}; the keys go in the secret bbb-ovh:backupS3Credentials",
      ]),
    );
    expect(problemsOf("brest", { target: "s3", s3: { endpoint: "https://s3.example.org", bucket: "Bad_Bucket" } })).toContain(
      "campus.backup.s3.bucket: expected an S3 bucket name: 3 to 63 lowercase letters, digits, '.', '-'",
    );
  });

  it("target s3 needs its keys in the secret bbb-ovh:backupS3Credentials", () => {
    expect(problemsOf("brest", { target: "s3", s3: { endpoint: "https://s3.example.org", bucket: "brest-backups" } })).toEqual([
      "bbb-ovh:backupS3Credentials: is required with campus.backup.target s3: a secret object {accessKeyId, secretAccessKey} (pulumi config set --secret --path 'backupS3Credentials.accessKeyId' ...)",
    ]);
  });

  it("is on by default where the program can create the bucket and there are recordings to keep; the plan warns elsewhere", () => {
    expect(campusWith("training", undefined, (c) => (c.recordings = true)).config.backup).toMatchObject({ enabled: true, target: "ovh" });
    expect(campusWith("training", undefined).config.backup).toBeUndefined(); // recordings: false
    const brest = campusWith("brest", undefined);
    expect(brest.config.backup).toBeUndefined();
    expect(backupWarnings(brest)).toEqual([
      `recordings are not backed up: every one lives only on ${brest.front.fqdn}; to do: set campus.backup (docs/backups.md)`,
    ]);
    expect(backupWarnings(campusWith("brest", { enabled: false }))).toHaveLength(1);
    expect(backupWarnings(campusWith("training", {}))).toEqual([]);
  });

  it("a disabled backup is not checked further", () => {
    expect(problemsOf("brest", { enabled: false })).toEqual([]);
  });

  it("the front's S3 policy is limited to its bucket and cannot delete object versions, the bucket or its settings", () => {
    const policy = JSON.parse(backupUserPolicy("b1"));
    expect(policy.Statement).toHaveLength(1);
    expect(policy.Statement[0].Resource).toEqual(["arn:aws:s3:::b1", "arn:aws:s3:::b1/*"]);
    const actions: string[] = policy.Statement[0].Action;
    expect(actions).toContain("s3:PutObject");
    for (const forbidden of [
      "s3:*",
      "s3:DeleteObjectVersion",
      "s3:DeleteBucket",
      "s3:PutBucketVersioning",
      "s3:PutBucketPolicy",
      "s3:PutLifecycleConfiguration",
    ]) {
      expect(actions).not.toContain(forbidden);
    }
    expect(ovhBucketName("brest", "0123456789abcdef0123456789abcdef")).toBe("brest-bbb-backup-01234567");
  });
});

describe("the program under mocks", () => {
  it("ovh target: a versioned bucket in another region, protected and kept; a user limited to it; the step's secrets stay secret", async () => {
    const { resources } = await evaluateStack("training", {}, (c) => (c.backup = { retention: { daily: 3, weekly: 2, monthly: 1 } }));
    const [bucket] = byType(resources, "ovh:CloudProject/storage:Storage");
    expect(bucket.inputs).toMatchObject({ regionName: "SBG", name: "training-bbb-backup-5f3c1e0a", versioning: { status: "enabled" } });
    expect([bucket.protect, bucket.retainOnDelete]).toEqual([true, true]);
    const [password] = byType(resources, "random:index/randomPassword:RandomPassword").filter((r) => r.name.includes("backup"));
    expect([password.protect, password.retainOnDelete]).toEqual([true, true]);
    const [policy] = byType(resources, "ovh:CloudProject/s3Policy:S3Policy");
    expect(JSON.parse(policy.inputs.policy as string).Statement[0].Resource).toEqual([
      "arn:aws:s3:::training-bbb-backup-5f3c1e0a",
      "arn:aws:s3:::training-bbb-backup-5f3c1e0a/*",
    ]);
    expect(byType(resources, "ovh:CloudProject/user:User")[0].inputs.roleNames).toEqual(["objectstore_operator"]);

    const step = resources.find((r) => r.name.endsWith("-scaleliteBackup"))!;
    expect(step).toBeDefined();
    expect(isSecretValue(step.inputs.stdin)).toBe(true);
    expect(step.inputs.create).toMatch(/bash \S+\/scalelite-backup\.sh$/);
    expect(step.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    const health = resources.find((r) => r.name.endsWith("-scaleliteHealth"))!;
    expect(step.dependencies).toEqual(expect.arrayContaining([health.urn, bucket.urn, policy.urn]));
  });

  it("allowTermination lifts the protection of the bucket and of the password", async () => {
    const { resources } = await evaluateStack("training", {}, (c) => {
      c.backup = {};
      c.protection = { allowTermination: true };
    });
    const [bucket] = byType(resources, "ovh:CloudProject/storage:Storage");
    expect([bucket.protect, bucket.retainOnDelete]).toEqual([false, false]);
  });

  it("s3 target: no OVH resource, the keys from the secret bbb-ovh:backupS3Credentials, never in plain", async () => {
    const { resources } = await evaluateStack(
      "brest",
      { "bbb-ovh:backupS3Credentials": JSON.stringify({ accessKeyId: "AKIAEXAMPLE", secretAccessKey: S3_SECRET }) },
      (c) => (c.backup = { target: "s3", s3: { endpoint: "https://s3.example.org/", bucket: "brest-backups" } }),
    );
    expect(byType(resources, "ovh:CloudProject/storage:Storage")).toEqual([]);
    const step = resources.find((r) => r.name.endsWith("-scaleliteBackup"))!;
    const stdin = (step.inputs.stdin as { value: string }).value;
    expect(stdin).toContain("RESTIC_REPOSITORY=s3:https://s3.example.org/brest-backups\n");
    expect(stdin).toContain(`AWS_SECRET_ACCESS_KEY=${S3_SECRET}\n`);
    expect(plainStrings(resources.map((r) => r.inputs)).some((s) => s.includes(S3_SECRET))).toBe(false);
  });

  it("the step's inputs are exactly what the catalogue declares", () => {
    expect(() => renderStepStdin("scaleliteBackup", { RESTIC_REPOSITORY: "s3:https://x/b" })).toThrow(/missing input RESTIC_PASSWORD/);
  });
});
