import { spawn } from "node:child_process";
import { drainAllowed, upgradeOrder } from "../../components/scaling/upgrade";
import { OpsError } from "./errors";
import type { HttpOptions } from "./http";
import { bbbCall } from "./nodePower";
import { readFrontRecordings, recordingsLeft } from "./recordingHealth";
import { Progress } from "./progress";
import { lockHolder, waitForPoolLock } from "./poolLock";
import { parseStatusTable, rake } from "./scalelite";
import { smoke } from "./smoke";
import type { SshTarget } from "./ssh";
import type { NodeTarget, OpsTarget } from "./stackSource";

/**
 * `upgrade`: a new pin rolled through the pool one node at a time, the canary first. For each node:
 * drain (servers:cordon) -> wait until it hosts no meeting and holds no recording (with recordings on, its
 * own report made after its last meeting says none is left being processed; bounded; a meeting
 * is never ended: past the deadline the node stays drained and the upgrade stops, or with --skip-busy
 * goes on without it, saying so) -> apply (the operator's command for one node: re-run the installer
 * step, or replace the node from the new image) -> a signed create/join/getMeetingInfo/end through the
 * balancer, placed on that node (see CHECK_TAG) -> undrain. The first failure stops the upgrade and
 * leaves the rest of the pool as it was. A node is drained only when the others carry the users
 * connected now under the failover policy (components/scaling/upgrade.ts).
 */

/**
 * The health check goes through the balancer and lands on the upgraded node only: Scalelite places a create
 * that asks for `meta_server-tag=<tag>!` on an enabled, online server carrying that tag, and fails it when
 * there is none (app/models/server.rb `find_available`, tags_required); a create without a tag goes only to
 * untagged servers. So the node is enabled under this tag for the check, takes that meeting and no lesson,
 * then gets its own tag back (or none), which is when it takes lessons again.
 */
export const CHECK_TAG = "bbb-ovh-upgrade-check";

/** The pool lock (cli/ops/poolLock.ts): held for one look and one cordon; waited for while a scale run holds it. */
const UPGRADE_LOCK_STALE_MS = 10 * 60_000;
const UPGRADE_LOCK_WAIT_MS = 15 * 60_000;

export type UpgradeStepKind = "waiting" | "drained" | "empty" | "applied" | "healthy" | "undrained" | "refused" | "timeout" | "skipped" | "failed" | "left";

export interface UpgradeStep {
  node: string;
  step: UpgradeStepKind;
  detail: string;
  at: string;
}

export interface UpgradeReport {
  order: string[];
  canary?: string;
  upgraded: string[];
  /** Drained and left drained (past the deadline with --skip-busy). */
  skipped: string[];
  steps: UpgradeStep[];
  /** Why it stopped before the end, if it did. */
  stopped?: string;
  ok: boolean;
}

export interface UpgradeOptions {
  /** Shell command applying the new pin to one node; gets BBB_OVH_NODE (FQDN) and BBB_OVH_NODE_NAME. */
  apply: string;
  drainTimeoutMs: number;
  pollMs: number;
  skipBusy: boolean;
  commandTimeoutMs: number;
  /** Deadline of the apply command. */
  applyTimeoutMs: number;
  /** How long the check waits for Scalelite to count the applied node enabled, online and with a load. */
  checkWaitMs: number;
  http: HttpOptions;
  /** Progress lines, one a step, as they happen. */
  onStep?: (step: UpgradeStep) => void;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Before its check, the upgrade polls until Scalelite counts the node enabled, online and with a load, or says
 * how it stands past `checkWaitMs`. Scalelite places a create only on a server in its load set (enabled,
 * online, with a load). Its poller disables a cordoned server whose load is zero, which drops the load
 * (lib/tasks/poll.rake; app/models/server.rb save!), so a node that waited empty long enough comes back
 * without one, and gets one only from a poll of it that succeeds. One poll:all can miss it (its pollers give up after POLLER_WAIT_TIMEOUT; a CI run of the drill
 * failed so), a node just replaced can answer late, and SERVER_HEALTHY_THRESHOLD may ask for several polls.
 */
async function pollUntilPlaceable(ssh: SshTarget, fqdn: string, opts: UpgradeOptions): Promise<void> {
  const deadline = Date.now() + opts.checkWaitMs;
  for (;;) {
    await rake(ssh, "poll:all", [], opts.commandTimeoutMs);
    const row = parseStatusTable(await rake(ssh, "status", [], opts.commandTimeoutMs)).find((r) => r.hostname === fqdn);
    if (row?.state === "enabled" && row.status === "online" && row.load !== undefined) return;
    if (Date.now() >= deadline) {
      const seen = row ? `${row.state}, ${row.status}, ${row.load === undefined ? "no load" : `load ${row.load}`}` : "not registered";
      const why = row?.state === "enabled" ? "its poll of the node's getMeetings did not succeed" : "it did not stay enabled";
      throw new Error(`Scalelite does not place meetings on it ${Math.round(opts.checkWaitMs / 1000)} s after it was enabled (${seen}): ${why}`);
    }
    // The poller container saves each server as it read it before its poll: one read while the node was
    // cordoned and empty is saved disabled (lib/tasks/poll.rake), over the enable. Under the check tag no
    // lesson can land there, so enabling it again is safe.
    if (row && row.state !== "enabled") await rake(ssh, "servers:enable", [fqdn], opts.commandTimeoutMs);
    await pause(Math.min(opts.pollMs, Math.max(0, deadline - Date.now())));
  }
}

/** Runs the apply command for one node; its output goes to the caller's stderr, the last lines into the report. */
function runApply(command: string, node: NodeTarget, timeoutMs: number): Promise<{ code: number; tail: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", command], {
      env: { ...process.env, BBB_OVH_NODE: node.fqdn, BBB_OVH_NODE_NAME: node.name },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
    });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
      process.stderr.write(chunk);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), tail: output.trim().split("\n").slice(-5).join(" / ") }));
  });
}

async function loadOf(node: NodeTarget, timeoutMs: number): Promise<{ meetings: number; users: number }> {
  const meetings = (await bbbCall(node, "getMeetings", {}, timeoutMs)).meetings;
  return { meetings: meetings.length, users: meetings.reduce((n, m) => n + Number(m.participantCount ?? 0), 0) };
}

export async function rollingUpgrade(target: OpsTarget, opts: UpgradeOptions): Promise<UpgradeReport> {
  const campus = target.campus;
  if (!campus) throw new OpsError("config", "-", `upgrade needs a valid stack file: ${target.campusProblem ?? "no stack given"}`);
  const ssh = target.ssh;
  if (!ssh) throw new OpsError("config", "-", "no SSH host for the front: give --host");
  if (!target.frontApiUrl || !target.lbSecret)
    throw new OpsError(
      "config",
      "-",
      "upgrade checks each node through the balancer: it needs the front's API and LOADBALANCER_SECRET (--url, --secret-file, or the stack's outputs)",
    );
  const policy = campus.config.failover;
  const report: UpgradeReport = { order: [], upgraded: [], skipped: [], steps: [], ok: false };
  const note = (node: string, step: UpgradeStepKind, detail: string) => {
    const s = { node, step, detail, at: new Date().toISOString() };
    report.steps.push(s);
    opts.onStep?.(s);
  };
  const hostOf = (fqdn: string) => campus.nodes.find((n) => n.fqdn === fqdn);
  const nodeOf = (fqdn: string) => target.nodes.find((n) => n.fqdn === fqdn) ?? { name: fqdn, fqdn, apiUrl: `https://${fqdn}/bigbluebutton/api` };
  const member = (fqdn: string) => {
    const h = hostOf(fqdn);
    return { id: fqdn, site: h?.site ?? `region:${h?.datacenter ?? fqdn}`, spec: h?.spec };
  };

  /** The pool now: Scalelite's enabled, online nodes of the stack, and everyone connected to any node. */
  const poolNow = async () => {
    const rows = parseStatusTable(await rake(ssh, "status", [], opts.commandTimeoutMs));
    // A node left under the check tag by a cut upgrade takes no lesson: not capacity.
    const enabled = rows.filter((r) => r.state === "enabled" && r.status === "online" && r.tag !== CHECK_TAG && hostOf(r.hostname));
    let users = 0;
    for (const r of rows.filter((x) => hostOf(x.hostname) && x.state !== "disabled")) {
      users += await loadOf(nodeOf(r.hostname), opts.http.timeoutMs ?? 10_000).then(
        (l) => l.users,
        () => r.users ?? 0,
      );
    }
    return { rows, enabled, users };
  };

  const first = await poolNow();
  for (const n of campus.nodes.filter((h) => !first.enabled.some((r) => r.hostname === h.fqdn))) {
    const row = first.rows.find((r) => r.hostname === n.fqdn);
    note(
      n.fqdn,
      "left",
      row
        ? `${row.state}, ${row.status}${row.tag === CHECK_TAG ? `, tagged ${CHECK_TAG} by a cut upgrade` : ""} in Scalelite: not taking meetings, left as it is (upgrade it when it is back)`
        : "not registered in Scalelite: left as it is",
    );
  }
  const candidates = await Promise.all(
    first.enabled.map(async (r) => ({
      ...member(r.hostname),
      users: await loadOf(nodeOf(r.hostname), opts.http.timeoutMs ?? 10_000).then(
        (l) => l.users,
        () => r.users ?? 0,
      ),
    })),
  );
  report.order = upgradeOrder(candidates);
  report.canary = report.order[0];

  for (const fqdn of report.order) {
    const node = nodeOf(fqdn);
    // From the look at the pool to the cordon, no scale or schedule run decides from the same look (cli/ops/poolLock.ts).
    const lock = await waitForPoolLock(ssh, lockHolder("ops upgrade"), UPGRADE_LOCK_STALE_MS, opts.commandTimeoutMs, {
      waitMs: UPGRADE_LOCK_WAIT_MS,
      pollMs: opts.pollMs,
      onBusy: (why) => note(fqdn, "waiting", why),
    });
    let check: ReturnType<typeof drainAllowed>;
    try {
      const now = await poolNow();
      // Drained, put to sleep or gone offline since the upgrade began: not ours to take, nor to enable after.
      const row = now.rows.find((r) => r.hostname === fqdn);
      if (!now.enabled.some((r) => r.hostname === fqdn)) {
        note(
          fqdn,
          "left",
          `${row ? `${row.state}, ${row.status}` : "not registered"} in Scalelite since the upgrade began: left as it is (upgrade it when it is back)`,
        );
        continue;
      }
      check = drainAllowed(
        now.enabled.map((r) => member(r.hostname)),
        fqdn,
        now.users,
        policy,
      );
      if (!check.ok) {
        note(fqdn, "refused", check.reason);
        report.stopped = `${fqdn} cannot leave the pool now (${check.reason}); run the upgrade again when fewer users are connected`;
        return report;
      }
      await rake(ssh, "servers:cordon", [fqdn], opts.commandTimeoutMs);
    } finally {
      await lock.release();
    }
    note(fqdn, "drained", `${fqdn === report.canary ? "canary: " : ""}${check.reason}`);

    const deadline = Date.now() + opts.drainTimeoutMs;
    let busy: string;
    // The front's time when the node was first seen without a meeting: its recordings still being processed,
    // which getRecordings does not list and a replacement would lose, are counted by its next report (recordingsLeft).
    let emptiedAt: number | undefined;
    for (;;) {
      try {
        const { meetings } = await loadOf(node, opts.http.timeoutMs ?? 10_000);
        const recordings = meetings === 0 ? (await bbbCall(node, "getRecordings", { state: "any" }, opts.http.timeoutMs ?? 10_000)).recordings.length : 0;
        busy = meetings > 0 ? `${meetings} meeting(s) running` : recordings > 0 ? `${recordings} recording(s) still on the node` : "";
        if (meetings > 0) emptiedAt = undefined;
      } catch (e) {
        busy = `its API does not answer (${(e as Error).message})`;
      }
      if (!busy && campus.config.recordings) {
        try {
          const front = await readFrontRecordings(ssh, opts.commandTimeoutMs);
          emptiedAt ??= front.now;
          busy =
            recordingsLeft(
              front.nodes.find((n) => n.node === hostOf(fqdn)?.name),
              emptiedAt,
            ) ?? "";
        } catch (e) {
          busy = (e as Error).message;
        }
      }
      if (!busy || Date.now() >= deadline) break;
      await pause(opts.pollMs);
    }
    if (busy) {
      const minutes = Math.round(opts.drainTimeoutMs / 60_000);
      if (opts.skipBusy) {
        note(fqdn, "skipped", `${busy} after ${minutes} min: left drained, never ended; upgrade it later (ops upgrade again, or undrain it)`);
        report.skipped.push(fqdn);
        continue;
      }
      note(fqdn, "timeout", `${busy} after ${minutes} min: left drained, never ended; the upgrade stops here`);
      report.stopped = `${fqdn} was not empty within ${minutes} min: it stays drained (its lessons go on); undrain it or run the upgrade again later`;
      return report;
    }
    note(fqdn, "empty", "no meeting, no recording");

    const applied = await runApply(opts.apply, node, opts.applyTimeoutMs);
    if (applied.code !== 0) {
      note(fqdn, "failed", `the apply command exited ${applied.code}: ${applied.tail}`);
      report.stopped = `applying the new pin to ${fqdn} failed: it stays drained; the other nodes were not touched`;
      return report;
    }
    note(fqdn, "applied", applied.tail || "the apply command succeeded");

    // Enabled under the check tag (no lesson can land there), polled, then a meeting through the balancer.
    // The stack's tag, which registration gives it (a cut upgrade may have left the check tag in Scalelite).
    const ownTag = hostOf(fqdn)?.tag;
    const restoreTag = () => rake(ssh, "servers:tag", ownTag ? [fqdn, ownTag] : [fqdn], opts.commandTimeoutMs);
    const nodeHost = new URL(node.apiUrl).host;
    let health: Awaited<ReturnType<typeof smoke>> | undefined;
    let cut: string | undefined;
    // What was under way when the check failed, for its message.
    let stage = "enabling it in Scalelite under the check tag";
    try {
      await rake(ssh, "servers:tag", [fqdn, CHECK_TAG], opts.commandTimeoutMs);
      await rake(ssh, "servers:enable", [fqdn], opts.commandTimeoutMs);
      stage = "waiting for Scalelite to place meetings on it";
      await pollUntilPlaceable(ssh, fqdn, opts);
      stage = "signed create/join/end through the balancer";
      health = await smoke(
        target,
        { algorithm: "sha256", http: opts.http, createParams: { "meta_server-tag": `${CHECK_TAG}!` } },
        Progress.for(process.stderr, true),
      );
    } catch (e) {
      cut = (e as Error).message;
    }
    if (!health?.ok || health.landedOn?.host !== nodeHost) {
      // Never left enabled under the check tag: counted as capacity, it would take no lesson. When Scalelite
      // cannot be told (the same rake or SSH failure that cut the check), the report says what to run.
      const putBack = await rake(ssh, "servers:cordon", [fqdn], opts.commandTimeoutMs)
        .then(() => restoreTag())
        .then(
          () => "",
          (e: Error) =>
            `; putting it back failed (${e.message}): it may still be enabled under ${CHECK_TAG}, where it takes no lesson: run \`ops drain\` on it, then bin/rake 'servers:tag[${ownTag ? `${fqdn},${ownTag}` : fqdn}]'`,
        );
      const why =
        cut ?? (health?.ok ? `the balancer placed the check on ${health.landedOn?.host ?? "?"}, not on ${nodeHost}` : (health?.failure?.message ?? "?"));
      note(fqdn, "failed", `${stage} failed: ${why}${putBack}`);
      report.stopped = `${fqdn} is not healthy after the upgrade: ${putBack ? "see its last step" : "it stays drained"}; the other nodes were not touched`;
      return report;
    }
    note(fqdn, "healthy", `create, join, getMeetingInfo, end through the balancer, placed on ${nodeHost} (${health.steps.length} signed calls)`);
    await restoreTag();
    report.upgraded.push(fqdn);
    note(fqdn, "undrained", `enabled in Scalelite again${ownTag ? `, tag ${ownTag}` : ""}`);
  }
  report.ok = report.skipped.length === 0;
  return report;
}

export function renderUpgrade(r: UpgradeReport): string {
  const lines = [`order: ${r.order.join(", ") || "-"}${r.canary ? ` (canary ${r.canary})` : ""}`];
  for (const s of r.steps) lines.push(`  ${s.at} ${s.node}: ${s.step}: ${s.detail}`);
  lines.push(
    r.stopped ? `STOPPED: ${r.stopped}` : `upgraded ${r.upgraded.length} node(s)${r.skipped.length ? `; skipped (left drained): ${r.skipped.join(", ")}` : ""}`,
  );
  return `${lines.join("\n")}\n`;
}
