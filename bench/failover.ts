/**
 * `npm run bench:failover [-- --out DIR]`: the failover model (bench/failoverModel.ts), CPU-only. Replaces
 * its section of RESULTS.md in DIR, before the simulated week's (which `npm run bench:scaling` rewrites to the end).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { FAILOVER_HEADING, failoverModel, renderFailover, replaceSection } from "./failoverModel";
import { benchOutDir } from "./outDir";
import { SCALING_HEADING } from "./scalingReport";

const out = benchOutDir(process.argv.slice(2), process.cwd());
const model = failoverModel();
mkdirSync(out, { recursive: true });
const file = path.join(out, "RESULTS.md");
const before = existsSync(file) ? readFileSync(file, "utf8") : "";
writeFileSync(file, replaceSection(before, FAILOVER_HEADING, renderFailover(model), SCALING_HEADING));
process.stdout.write(
  `failover: ${model.minutes.toFixed(1)} min from the command (goal ${model.goalMinutes}) + DNS TTL ${model.dnsTtlSeconds} s\nwrote ${path.relative(process.cwd(), file)}\n`,
);
