/**
 * `npm run bench:scaling [-- --out DIR]`: only the simulated week and the node-ready model, which are
 * seeded and CPU-only, so their figures do not depend on how busy the machine is. Writes scaling.json
 * and replaces the "Capacity that follows the load" section of RESULTS.md in DIR (the whole bench,
 * `npm run bench`, writes the same section along with the measured ones).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { benchOutDir } from "./outDir";
import { nodeReadyPaths } from "./nodeReady";
import { renderScaling, SCALING_HEADING } from "./scalingReport";
import { scalingBench } from "./scalingWeek";

const out = benchOutDir(process.argv.slice(2), process.cwd());
const scaling = scalingBench();
const nodeReady = nodeReadyPaths();
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, "scaling.json"),
  `${JSON.stringify({ command: "npm run bench:scaling", date: new Date().toISOString(), scaling, nodeReady }, null, 2)}\n`,
);
const file = path.join(out, "RESULTS.md");
const before = existsSync(file) ? readFileSync(file, "utf8") : "";
const at = before.indexOf(SCALING_HEADING);
const kept = at >= 0 ? before.slice(0, at) : before ? `${before.trimEnd()}\n\n` : "";
writeFileSync(file, `${kept}${renderScaling(scaling, nodeReady)}`);
process.stdout.write(
  `${scaling.runs.map((r) => `seed ${r.seed}, ${r.label}: scale ${(r.savingVsTimetable * 100).toFixed(1)} % below the timetable`).join("\n")}\nwrote ${path.relative(process.cwd(), out) || "."}/scaling.json and RESULTS.md\n`,
);
