/**
 * The scaleliteMetrics step over a real sshd: the exporter and its every-minute timer installed on the front
 * (systemctl is the fake of test/fakes/bin, which records the calls), idempotent on a second run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { base64 } from "../../components/remote/invocation";
import { calls, mode, output, read, tree } from "../support/hostState";
import { runStep, startTestHost, type TestHost } from "../support/sshd";

const RECORDING_DIR = "/mnt/scalelite-recordings/var/bigbluebutton";
// As components/remote/HostStep.ts sleepingListPath gives it for the front's SSH user.
const SLEEPING_LIST = "/home/ubuntu/.bbb-ovh/schedule-sleeping";
// As creditEstimatePath gives it, and a plan as components/monitoring/renderPlanFile.ts renders one.
const CREDIT_ESTIMATE = "/home/ubuntu/.bbb-ovh/credit-estimate";
const PLAN = "# plan\ncapacity_users bbb1.campus.example 200\nterm_end 1814400000\n";
const INPUTS = { RECORDING_DIR, SLEEPING_LIST, PLAN_B64: base64(PLAN), CREDIT_ESTIMATE };

describe("scalelite-metrics-timer", () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await startTestHost({ fqdn: "lb.campus.example" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("installs the exporter, its service and a timer every minute, writes the plan, and starts the timer", async () => {
    const r = await runStep(h, "scaleliteMetrics", INPUTS);
    expect(r.code, output(r)).toBe(0);
    expect(read(h, "usr/local/sbin/bbb-ovh-scalelite-metrics")).toBe(readFileSync(path.resolve(__dirname, "../../scripts/scalelite-metrics.sh"), "utf8"));
    expect(mode(h, "usr/local/sbin/bbb-ovh-scalelite-metrics")).toBe("755");
    expect(read(h, "etc/systemd/system/bbb-ovh-scalelite-metrics.service")).toContain(
      `ExecStart=/usr/local/sbin/bbb-ovh-scalelite-metrics ${RECORDING_DIR} ${SLEEPING_LIST} /etc/bbb-ovh/plan ${CREDIT_ESTIMATE}\n`,
    );
    expect(read(h, "etc/bbb-ovh/plan")).toBe(PLAN);
    expect(mode(h, "etc/bbb-ovh/plan")).toBe("644");
    const timer = read(h, "etc/systemd/system/bbb-ovh-scalelite-metrics.timer");
    expect(timer).toContain("OnUnitActiveSec=1min\n");
    expect(timer).toContain("Unit=bbb-ovh-scalelite-metrics.service\n");
    expect(calls(h)).toEqual(expect.arrayContaining(["systemctl enable bbb-ovh-scalelite-metrics.timer", "systemctl start bbb-ovh-scalelite-metrics.timer"]));
  });

  it("changes nothing on a second run", async () => {
    const before = tree(h);
    const seen = calls(h).length;
    const r = await runStep(h, "scaleliteMetrics", INPUTS);
    expect(r.code, output(r)).toBe(0);
    expect(tree(h)).toEqual(before);
    expect(
      calls(h)
        .slice(seen)
        .filter((c) => /^systemctl (restart|start|enable|daemon-reload)/.test(c)),
    ).toEqual([]);
  });

  it("refuses paths that are not plain and absolute and a plan line it does not know, naming every input at once", async () => {
    const r = await runStep(h, "scaleliteMetrics", {
      RECORDING_DIR: "relative/dir",
      SLEEPING_LIST: "/home/ubuntu/a list",
      PLAN_B64: base64("capacity_users bbb1.campus.example 200\nrm -rf /\n"),
      CREDIT_ESTIMATE: "credit",
    });
    expect(r.code).not.toBe(0);
    for (const problem of [
      "RECORDING_DIR must be an absolute path",
      "SLEEPING_LIST must be an absolute path",
      "CREDIT_ESTIMATE must be an absolute path",
      "PLAN_B64 holds a line that is neither",
    ])
      expect(output(r)).toContain(problem);
    expect(read(h, "etc/bbb-ovh/plan")).toBe(PLAN);
  });
});
