/**
 * Pulumi's mock runtime alone (bench/pulumiFloor.ts) for the resources a plan recorded, in a process of
 * its own: prints {loadCpuMs, cpuMs, resources, maxRssMb} as JSON. Used by bench/planScaling.ts.
 */
import { readFileSync } from "node:fs";
import { evaluateProgram, type RecordedResource } from "../cli/plan/recorder";
import { plannedCloud } from "../cli/plan/mockCloud";
import { replayProgram } from "./pulumiFloor";

const cpuMs = () => {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
};

async function main() {
  const loadCpuMs = cpuMs();
  const [resourcesFile, stack] = process.argv.slice(2);
  if (!resourcesFile || !stack) throw new Error("usage: node dist/bench/planFloorProcess.js RESOURCES_JSON STACK (npm run build first)");
  const recorded = JSON.parse(readFileSync(resourcesFile, "utf8")) as RecordedResource[];
  const evaluation = await evaluateProgram({ project: "bbb-ovh", stack, config: {}, mocks: plannedCloud }, replayProgram(recorded));
  process.stdout.write(
    `${JSON.stringify({ loadCpuMs, cpuMs: cpuMs(), resources: evaluation.resources.length, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
}

void main();
