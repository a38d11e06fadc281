/**
 * One offline plan in a process of its own, so its peak memory is its own: prints
 * {ms, cpuMs, resources, maxRssMb} as JSON. Used by bench/planScaling.ts.
 */
import { campusProgram } from "../components/program";
import { planStack } from "../cli/plan/planStack";

async function main() {
  const file = process.argv[2];
  if (!file) throw new Error("usage: node dist/bench/planProcess.js STACK_FILE (npm run build first)");
  const started = performance.now();
  const plan = await planStack(file, campusProgram);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage();
  process.stdout.write(
    `${JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, resources: plan.resources.length, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
}

void main();
