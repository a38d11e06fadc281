import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// The alert rules pack (scripts/monitoring/rules.yml), judged by Prometheus's own promtool (Debian's
// prometheus 2.42): `check rules` for syntax and `test rules` for the unit tests beside this file.
const ROOT = path.join(__dirname, "../..");
const RULES = path.join(ROOT, "scripts/monitoring/rules.yml");
const TESTS = path.join(__dirname, "rules.promtest.yml");
const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
if (promtool.status !== 0) console.warn("monitoring: promtool is not installed (Debian package prometheus): the rules tests are SKIPPED");

interface Rules {
  groups: Array<{ rules: Array<{ alert?: string }> }>;
}
interface PromTests {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}
const alerts = (parse(readFileSync(RULES, "utf8")) as Rules).groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));

describe("the alert rules pack", () => {
  it("has one rule per failure class the issue names, each with a case that fires it and a page in docs/monitoring.md", () => {
    const cases = (parse(readFileSync(TESTS, "utf8")) as PromTests).tests.flatMap((t) => t.alert_rule_test ?? []);
    const docs = readFileSync(path.join(ROOT, "docs/monitoring.md"), "utf8");
    expect(alerts.length).toBeGreaterThanOrEqual(17);
    for (const alert of alerts) {
      expect(
        cases.filter((c) => c.alertname === alert && (c.exp_alerts?.length ?? 0) > 0),
        `${alert}: no promtool case fires it`,
      ).not.toHaveLength(0);
      expect(docs, `${alert}: no section in docs/monitoring.md`).toContain(`### ${alert}`);
    }
  });

  describe.skipIf(promtool.status !== 0)(`promtool (${promtool.stdout.split("\n")[0]})`, () => {
    it("accepts the rules file", () => {
      const run = spawnSync("promtool", ["check", "rules", RULES], { encoding: "utf8" });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
      expect(run.stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
    });

    it("passes every unit test: each alert fires when it should, with its labels and text, and not otherwise", () => {
      const run = spawnSync("promtool", ["test", "rules", path.basename(TESTS)], { cwd: __dirname, encoding: "utf8" });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    });
  });
});
