/**
 * `npm run bench:plan [-- --out DIR]`: the plan's speed and memory (bench/planScaling.ts) at 3, 30 and 100
 * nodes, beside Pulumi's mock runtime alone. Replaces its section of RESULTS.md in DIR, before the
 * operations fan-out's.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import * as path from "node:path";
import { replaceSection } from "./failoverModel";
import { benchOutDir } from "./outDir";
import { PLAN_HEADING, planAtScale, renderPlanScaling, type PlanScale } from "./planScaling";

async function main() {
  const out = benchOutDir(process.argv.slice(2), process.cwd());
  const load = loadavg()[0];
  const points: PlanScale[] = [];
  for (const nodes of [3, 30, 100]) {
    points.push(await planAtScale(nodes));
    process.stderr.write(`plan of ${nodes} nodes: ${Math.round(points.at(-1)!.processCpuMs)} ms CPU\n`);
  }
  const measured = `Measured alone by \`npm run bench:plan\` on ${new Date().toISOString()}, load average ${load.toFixed(1)} at the start.`;
  mkdirSync(out, { recursive: true });
  const file = path.join(out, "RESULTS.md");
  const before = existsSync(file) ? readFileSync(file, "utf8") : "";
  writeFileSync(file, replaceSection(before, PLAN_HEADING, renderPlanScaling(points, measured), "## Operations fan-out"));
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench:plan: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
