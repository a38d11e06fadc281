/**
 * Every panel query of the Grafana dashboards (scripts/monitoring/dashboards/*.json) run on a real
 * Prometheus (Debian's 2.42) that scrapes real exporters on loopback (test/support/monitoringStack.ts):
 * each must be valid PromQL and return at least one series. Dashboard variables are resolved the way
 * Grafana does, from their label_values() query on the same Prometheus.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { instantQuery, missingPrograms, pollUntil, startCampus, type Campus } from "../support/monitoringStack";
import { upstreamTree } from "../support/upstream";

const DIR = path.resolve(__dirname, "../../scripts/monitoring/dashboards");
const tree = upstreamTree("bigbluebutton-exporter");
const missing = missingPrograms();
if (missing.length > 0) process.stderr.write(`dashboards: SKIPPED the real Prometheus run, missing ${missing.join(", ")}\n`);

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .map((f) => ({ file: f, json: JSON.parse(readFileSync(path.join(DIR, f), "utf8")) as Dashboard }));

/** Every panel, rows' panels included. */
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

let campus: Campus | undefined;
afterAll(async () => {
  await campus?.peer.close().catch(() => undefined);
  await campus?.stack.stop();
});

describe("dashboards", () => {
  it("are the four dashboards, with unique uids, every panel with a query and a description", () => {
    expect(dashboards.map((d) => d.file).sort()).toEqual(["budget.json", "node.json", "platform.json", "recordings.json"]);
    expect(new Set(dashboards.map((d) => d.json.uid)).size).toBe(dashboards.length);
    for (const { file, json } of dashboards) {
      for (const panel of allPanels(json.panels).filter((p) => !p.panels)) {
        expect(panel.targets?.length, `${file}: ${panel.title}`).toBeGreaterThan(0);
        expect((panel as { description?: string }).description, `${file}: ${panel.title}`).toBeTruthy();
      }
    }
  });

  it.skipIf(!tree || missing.length > 0)("run every panel query on a real Prometheus, each returning at least one series", async ({ signal }) => {
    campus = await startCampus(tree!, { intervalSeconds: 1, signal });
    const c = campus;
    // Variables are resolved once every target has been scraped once, as on a running campus.
    await pollUntil(
      async () => {
        const r = (await (await fetch(`${c.promUrl}/api/v1/targets`, { signal: AbortSignal.timeout(30_000) })).json()) as {
          data: { activeTargets: { health: string }[] };
        };
        return r.data.activeTargets.length > 0 && r.data.activeTargets.every((t) => t.health !== "unknown");
      },
      signal,
      () => "a first scrape of every target",
    );
    // Variables: the datasource is Grafana's own; a query variable takes the first value its label_values() finds.
    const values: Record<string, string> = {};
    for (const { json } of dashboards) {
      for (const v of json.templating.list.filter((x) => x.type === "query")) {
        const q = typeof v.query === "string" ? v.query : v.query!.query;
        const m = q.match(/^label_values\((.+), *(\w+)\)$/);
        expect(m, `variable ${v.name}: ${q}`).not.toBeNull();
        let found: string[] = [];
        await pollUntil(
          async () => (found = (await instantQuery(c.promUrl, m![1])).map((s) => s.metric[m![2]]).filter(Boolean)).length > 0,
          signal,
          () => `values of $${v.name}`,
        );
        // The BigBlueButton node, where it is offered: the per-node panels about BigBlueButton need one.
        values[v.name] = found.includes(c.node) ? c.node : found.sort()[0];
      }
    }
    expect(values.node).toBe(c.node);
    const queries = dashboards.flatMap(({ file, json }) =>
      allPanels(json.panels).flatMap((p) =>
        (p.targets ?? []).map((t) => ({ where: `${file}: ${p.title}`, expr: t.expr.replace(/\$(\w+)/g, (_, name: string) => values[name] ?? `$${name}`) })),
      ),
    );
    expect(queries.length).toBeGreaterThanOrEqual(30);
    for (const q of queries) expect(q.expr, q.where).not.toMatch(/\$\w/);
    // Until every query has data: rates need two scrapes, the exporter and blackbox their first answers.
    let empty: string[] = [];
    await pollUntil(
      async () => {
        empty = [];
        for (const q of queries) if ((await instantQuery(c.promUrl, q.expr)).length === 0) empty.push(`${q.where}: ${q.expr}`);
        return empty.length === 0;
      },
      signal,
      () => `series for:\n${empty.join("\n")}\nprometheus: ${c.prometheus.log().slice(-2000)}`,
      500,
    );
    expect(empty).toEqual([]);
    // And they show what the stack holds: the node's meetings and participants, its recording queue.
    const value = async (expr: string) => Number((await instantQuery(c.promUrl, expr))[0].value[1]);
    expect(await value(`bbb_meetings{job="bbb",host="${c.node}"}`)).toBe(2);
    expect(await value(`bbb_meetings_participants{job="bbb",host="${c.node}"}`)).toBe(8);
    expect(await value(`bbb_recordings_unprocessed{job="bbb",host="${c.node}"}`)).toBe(1);
  });
});
