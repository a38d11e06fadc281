/**
 * Alert drills on real programs, on loopback: Prometheus 2.42 with scripts/monitoring/rules.yml,
 * Alertmanager 0.25 mailing through an SMTP sink (aiosmtpd, which prints each message it receives), the
 * pinned BBB exporter, blackbox and node_exporter (test/support/monitoringStack.ts). Scrapes and rule
 * evaluations every second, so that a drill's time is the rule's `for`.
 *
 * A: the node's BigBlueButton API stops; the BbbNodeApiDown mail must arrive after the rule's `for` and
 *    within `for` + one scrape + one evaluation + Alertmanager's group_wait (1 s here; 30 s in the fronts'
 *    alertmanager.yml) + a few seconds for the mail itself. The drill's `for` is DRILL_FOR_SECONDS instead
 *    of the pack's 2 minutes: that the rule waits its 2 minutes, and fires after them, is promtool's test in
 *    simulated time (rules.promtest.yml); the drill proves the real chain after it, and two real minutes of
 *    waiting proved nothing more (they were the suite's longest wait).
 * B: an archive in the front's spool is aged past 6 hours (touch -d); RecordingsWaitingInSpool, which
 *    has no `for`, must mail within a textfile refresh, a scrape and an evaluation.
 * B runs while A waits out its `for`: the two alerts are of different hosts' metrics and mail in groups
 * of their own (group_by alertname, host), so the file lasts A's `for` and not A's plus B's.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { instantQuery, missingPrograms, pollUntil, PYTHON, RULES_FILE, startCampus, type Campus, type Proc } from "../support/monitoringStack";
import { freePort } from "../support/sshd";
import { upstreamTree } from "../support/upstream";

const tree = upstreamTree("bigbluebutton-exporter");
const missing = missingPrograms(["aiosmtpd"]);
if (missing.length > 0) process.stderr.write(`drills: SKIPPED, missing ${missing.join(", ")}\n`);

const INTERVAL_SECONDS = 1;
const GROUP_WAIT_SECONDS = 1;
/** Sending one mail through the loopback sink: Alertmanager's notify pipeline and SMTP, generously. */
const MAIL_SLACK_SECONDS = 10;
/** BbbNodeApiDown's `for` in the drill: long enough that a mail sent without waiting would show, short beside the pack's. */
const DRILL_FOR_SECONDS = 15;

/** The rule's `for`, in seconds, read from a rules file (the pack's own by default). */
function ruleFor(alert: string, file = RULES_FILE): number {
  const rules = (parse(readFileSync(file, "utf8")) as { groups: { rules: { alert: string; for?: string }[] }[] }).groups.flatMap((g) => g.rules);
  const rule = rules.find((r) => r.alert === alert);
  if (!rule) throw new Error(`no rule ${alert} in rules.yml`);
  const m = (rule.for ?? "0s").match(/^(\d+)([smh])$/);
  if (!m) throw new Error(`${alert}: unexpected for ${rule.for}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
}

let campus: Campus | undefined;
let sink: Proc | undefined;
afterAll(async () => {
  await campus?.peer.close().catch(() => undefined);
  await campus?.stack.stop();
});

/** The mails the sink printed that name `alert` as firing (Alertmanager's default subject: [FIRING:n] alertname ...). */
const firingMails = (alert: string) => (sink?.log() ?? "").split("\n").filter((l) => /^Subject: \[FIRING:\d+\] /.test(l) && l.includes(alert));

describe.skipIf(!tree || missing.length > 0)("alert drills", () => {
  it("mail the admin: the spool alert at once when an archive is aged, BbbNodeApiDown after its `for` when the node's API stops", async ({ signal }) => {
    const [amPort, amCluster, smtpPort] = [await freePort(), await freePort(), await freePort()];
    campus = await startCampus(tree!, {
      intervalSeconds: INTERVAL_SECONDS,
      alertmanagerPort: amPort,
      signal,
      rulesFor: { BbbNodeApiDown: `${DRILL_FOR_SECONDS}s` },
    });
    const c = campus;
    sink = c.stack.start("smtp-sink", PYTHON, ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${smtpPort}`], { PYTHONUNBUFFERED: "1" });
    const am = c.stack.startAlertmanager(amPort, amCluster, {
      global: { smtp_smarthost: `127.0.0.1:${smtpPort}`, smtp_from: "prometheus@lb.campus.test", smtp_require_tls: false },
      route: { receiver: "admin", group_by: ["alertname", "host"], group_wait: `${GROUP_WAIT_SECONDS}s`, group_interval: "5m", repeat_interval: "4h" },
      receivers: [{ name: "admin", email_configs: [{ to: "ops@campus.test", send_resolved: true }] }],
    });
    const value = async (expr: string) => (await instantQuery(c.promUrl, expr)).map((s) => Number(s.value[1]));
    // A healthy start: the API probe succeeds, the spool is empty, and Alertmanager is listening.
    await pollUntil(
      async () => (await value(`probe_success{job="bbb_api",host="${c.node}"}`))[0] === 1,
      signal,
      () => "a first successful probe",
    );
    await pollUntil(
      async () => (await fetch(`http://127.0.0.1:${amPort}/-/ready`).catch(() => undefined))?.ok === true,
      signal,
      () => `alertmanager ready: ${am.log()}`,
    );
    expect(firingMails("RecordingsWaitingInSpool")).toEqual([]);
    // Prometheus runs the pack with BbbNodeApiDown's `for` shortened for the drill.
    expect(ruleFor("BbbNodeApiDown")).toBeGreaterThan(DRILL_FOR_SECONDS);
    const forSeconds = ruleFor("BbbNodeApiDown", c.rulesFile);
    expect(forSeconds).toBe(DRILL_FOR_SECONDS);
    expect(firingMails("BbbNodeApiDown")).toEqual([]);

    // Drill A: the node's API stops answering. Its mail waits for the rule's `for`: drill B runs meanwhile.
    const drillA = async () => {
      await c.peer.close();
      const stoppedAt = Date.now();
      await pollUntil(
        async () => firingMails("BbbNodeApiDown").length > 0,
        signal,
        () => `the BbbNodeApiDown mail; am: ${am.log()}`,
        250,
      );
      return (Date.now() - stoppedAt) / 1000;
    };
    // Drill B: an archive that has waited 7 hours in the spool.
    const drillB = async () => {
      const archive = path.join(c.spoolDir, "rec-7h.tar");
      writeFileSync(archive, "");
      expect(spawnSync("touch", ["-d", "7 hours ago", archive]).status).toBe(0);
      const agedAt = Date.now();
      c.refreshTextfile();
      await pollUntil(
        async () => firingMails("RecordingsWaitingInSpool").length > 0,
        signal,
        () => `the spool mail; sink: ${sink!.log()}; am: ${am.log()}`,
      );
      return (Date.now() - agedAt) / 1000;
    };
    const [secondsA, secondsB] = await Promise.all([drillA(), drillB()]);

    process.stderr.write(`drills: B, RecordingsWaitingInSpool mailed ${secondsB.toFixed(1)} s after the archive was aged\n`);
    expect(ruleFor("RecordingsWaitingInSpool")).toBe(0);
    expect(secondsB).toBeLessThanOrEqual(INTERVAL_SECONDS * 2 + GROUP_WAIT_SECONDS + MAIL_SLACK_SECONDS);
    expect(sink.log()).toContain("ops@campus.test");

    process.stderr.write(`drills: A, BbbNodeApiDown mailed ${secondsA.toFixed(1)} s after the API stopped (for: ${forSeconds} s)\n`);
    expect(firingMails("BbbNodeApiDown")[0]).toContain(c.node);
    expect(secondsA).toBeGreaterThanOrEqual(forSeconds);
    expect(secondsA).toBeLessThanOrEqual(forSeconds + INTERVAL_SECONDS * 2 + GROUP_WAIT_SECONDS + MAIL_SLACK_SECONDS);
    // The exporter on the node saw it too (its own signed calls fail).
    expect(await value(`bbb_api_up{job="bbb",host="${c.node}"}`)).toEqual([0]);
  });
});
