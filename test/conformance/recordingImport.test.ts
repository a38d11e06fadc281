/**
 * What the mover hands over is what Scalelite's OWN importer takes: the front's spool step and mover (our
 * scripts, over sshd on a loopback test host), then Scalelite v1.8.5's `recordings:watch` task
 * (lib/tasks/recordings.rake -> lib/recording_importer.rb -> Recording.create_from_metadata_xml, from
 * the pinned tree) on Debian's ActiveRecord 6.1 against a real PostgreSQL 15 with Scalelite's
 * db/schema.rb loaded (test/support/scalelite/rake.rb says what stands in for Rails).
 *
 * Archives are put in a node's incoming directory as the spool receiver leaves them (how they get there
 * over rsync + rrsync is test/conformance/recordingTransfer.test.ts).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { base64 } from "../../components/remote/invocation";
import { INCOMING_DIR, RECORDING_DIR, REFUSED_DIR, RRSYNC, SPOOL_DIR, SPOOL_LIMITS, SPOOL_RECEIVE } from "../../components/scalelite/recordingLayout";
import { renderSpoolAuthorizedKeys, type SpoolClient } from "../../components/scalelite/renderRecordingTransfer";
import { output } from "../support/hostState";
import { postgresInstalled, startPostgres, type Postgres } from "../support/postgres";
import { craftedArchive, goodArchive, recordId, recordingMembers } from "../support/recordingArchives";
import { scaleliteTrees, startScalelite, type Scalelite } from "../support/scalelite/harness";
import { execOn, runStep, startTestHost, type TestHost } from "../support/sshd";
import { waitUntil } from "../support/waitUntil";

const trees = scaleliteTrees();
const ready = postgresInstalled();
if (!ready) console.warn("recordingImport: PostgreSQL 15 (postgresql-15) is not installed: these tests are SKIPPED");
const NODES = ["bbb1", "bbb2"];

describe.skipIf(!trees || !ready)("Scalelite's own importer on what the mover hands over", () => {
  let front: TestHost;
  let pg: Postgres;
  let scalelite: Scalelite;
  let work: string;
  const at = (dir: string) => path.join(front.root, dir);
  const importerEnv = () => ({
    RECORDING_SPOOL_DIR: at(SPOOL_DIR),
    RECORDING_WORK_DIR: at(`${RECORDING_DIR}/recording/scalelite`),
    RECORDING_PUBLISH_DIR: at(`${RECORDING_DIR}/published`),
    RECORDING_UNPUBLISH_DIR: at(`${RECORDING_DIR}/unpublished`),
    RAILS_LOG_LEVEL: "info",
  });
  const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
  const published = (id: string) => at(`${RECORDING_DIR}/published/presentation/${id}`);
  const spoolTars = () => readdirSync(at(SPOOL_DIR)).filter((f) => f.endsWith(".tar"));
  const row = (id: string) => pg.sql(`SELECT record_id, meeting_id, published, state FROM recordings WHERE record_id = '${id}'`, "scalelite");

  /** An archive as the spool receiver leaves it in `node`'s own incoming directory. */
  const deliver = (node: string, archive: string) => copyFileSync(archive, path.join(at(INCOMING_DIR), node, path.basename(archive)));
  const move = () => execOn(front, `"$BBB_OVH_ROOT/usr/local/sbin/bbb-ovh-recording-mover" ${RECORDING_DIR} 0`);
  /** Scalelite's importer loop (recordings:watch, 0.2 s between polls) until `done`, then its graceful stop (SIGTERM). */
  async function importUntil(done: () => boolean): Promise<string> {
    const watcher = scalelite.watch(["recordings:watch[false,0.2]"], importerEnv());
    try {
      // An import that fails is logged and retried forever by the task: stop at the first one.
      await waitUntil(() => done() || !watcher.running() || /Failed to import/.test(watcher.output()), undefined, 100);
      expect(done(), watcher.output()).toBe(true);
    } finally {
      const r = await watcher.stop();
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    return watcher.output();
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "bbb-ovh-import-"));
    front = await startTestHost({ fqdn: "scalelite.campus.example" });
    // Each node's key line, as the program renders them (the transfer itself is not exercised here).
    const clients: SpoolClient[] = NODES.map((name, i) => {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.join(work, name)]);
      return { name, ipv4: `127.0.0.${20 + i}`, ipv6: "", publicKey: readFileSync(path.join(work, `${name}.pub`), "utf8") };
    });
    const options = { incomingDir: at(INCOMING_DIR), receiver: at(SPOOL_RECEIVE), rrsync: RRSYNC, limits: SPOOL_LIMITS };
    const spoolStep = await runStep(front, "scaleliteSpool", {
      RECORDING_DIR,
      AUTHORIZED_KEYS_B64: base64(renderSpoolAuthorizedKeys(clients, options)),
      SENDERS: NODES.join(" "),
      RESERVE_BYTES: "0",
    });
    expect(spoolStep.code, output(spoolStep)).toBe(0);
    pg = await startPostgres(["scalelite"]);
    scalelite = await startScalelite(trees!, undefined, { databaseUrl: pg.url("scalelite") });
    const schema = await scalelite.rake(["db:prepare"]);
    expect(schema.code, schema.stderr).toBe(0);
    const version = await scalelite.rake(["db:version"]);
    expect(version.stdout).toMatch(/Current version: 20230627141045/);
  });

  afterAll(async () => {
    await scalelite?.stop();
    pg?.stop();
    await front?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("a node's recording goes from its incoming directory through the mover into Scalelite's database and published tree", async () => {
    const id = recordId("import-good");
    const archive = goodArchive(work, id);
    const video = sha256(path.join(work, `published-${id}`, "presentation", id, "video.bin"));
    deliver("bbb1", archive);
    const moved = await move();
    expect(moved).toContain(`handed over ${id}.tar from bbb1`);
    const log = await importUntil(() => spoolTars().length === 0 && existsSync(path.join(published(id), "video.bin")));
    expect(log).not.toMatch(/Failed to import|Skipping recording format/);
    expect(row(id)).toBe(`${id}|lesson-${id.slice(0, 8)}|t|published`);
    expect(pg.sql(`SELECT format, length FROM playback_formats JOIN recordings r ON r.id = recording_id WHERE r.record_id = '${id}'`, "scalelite")).toBe(
      "presentation|60",
    );
    expect(sha256(path.join(published(id), "video.bin"))).toBe(video);
  });

  it("without the mover, Scalelite's importer lets one archive replace another meeting's recording; with it, the victim is untouched", async () => {
    const victim = recordId("import-victim");
    deliver("bbb1", goodArchive(work, victim));
    await move();
    await importUntil(() => spoolTars().length === 0 && existsSync(path.join(published(victim), "video.bin")));
    const original = sha256(path.join(published(victim), "video.bin"));

    // bbb2 sends an archive that claims the victim's id, under another name (and one under the same name).
    const other = recordId("import-attacker");
    const forged = craftedArchive(work, `${other}.tar`, [...recordingMembers(victim), { name: `presentation/${victim}/video.bin`, content: "replaced" }]);
    mkdirSync(path.join(work, "same-name"));
    const sameName = craftedArchive(path.join(work, "same-name"), `${victim}.tar`, [
      ...recordingMembers(victim),
      { name: `presentation/${victim}/video.bin`, content: "replaced" },
    ]);
    deliver("bbb2", forged);
    deliver("bbb2", sameName);
    const moved = await move();
    expect(moved).toMatch(/refused/);
    expect(spoolTars()).toEqual([]);
    const reasons = readdirSync(at(`${REFUSED_DIR}/bbb2`)).filter((f) => f.endsWith(".reason"));
    expect(reasons).toHaveLength(2);
    expect(sha256(path.join(published(victim), "video.bin"))).toBe(original);

    // The same forged archive handed straight to Scalelite's spool: the importer takes the id from
    // metadata.xml as it is and removes the victim's published directory first (lib/recording_importer.rb).
    copyFileSync(forged, path.join(at(SPOOL_DIR), path.basename(forged)));
    await importUntil(() => spoolTars().length === 0);
    expect(readFileSync(path.join(published(victim), "video.bin"), "utf8")).toBe("replaced");
  });

  it("an archive sent twice is imported once", async () => {
    const id = recordId("import-twice");
    const archive = goodArchive(work, id);
    deliver("bbb1", archive);
    await move();
    await importUntil(() => spoolTars().length === 0 && existsSync(published(id)));
    deliver("bbb1", archive);
    const again = await move();
    expect(again).toContain(`duplicate of ${id}.tar from bbb1 dropped`);
    expect(spoolTars()).toEqual([]);
    expect(pg.sql(`SELECT count(*) FROM recordings WHERE record_id = '${id}'`, "scalelite")).toBe("1");
  });

  it("an archive the importer removed without publishing it is handed over again when its node sends it again", async () => {
    const id = recordId("import-dropped");
    const archive = goodArchive(work, id);
    deliver("bbb1", archive);
    await move();
    expect(spoolTars()).toContain(`${id}.tar`);
    // What Scalelite's importer does with an archive whose format it skipped: it removes it anyway
    // (lib/recording_importer.rb, FileUtils.rm after the formats loop). The operator sends the node's kept copy again.
    rmSync(path.join(at(SPOOL_DIR), `${id}.tar`));
    deliver("bbb1", archive);
    const again = await move();
    expect(again).toContain(`${id}.tar from bbb1 sent again, and the front does not hold it whole (its importer dropped it): handed over again`);
    expect(spoolTars()).toContain(`${id}.tar`);
    await importUntil(() => spoolTars().length === 0 && existsSync(published(id)));
    expect(row(id)).toMatch(new RegExp(`^${id}\\|`));
  });
});
