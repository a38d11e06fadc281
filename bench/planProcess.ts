/**
 * One offline plan in a process of its own, so its peak memory is its own, doing what `npm run plan`
 * does (plan, then the text): prints {loadMs, loadCpuMs, ms, planCpuMs, renderMs, renderCpuMs, cpuMs, resources,
 * textBytes, maxRssMb} as JSON.
 * With a second argument, then writes the recorded resources there (for bench/planFloorProcess.ts).
 * Used by bench/planScaling.ts.
 */
import { writeFileSync } from "node:fs";
import { campusProgram } from "../components/program";
import { planStack } from "../cli/plan/planStack";
import { renderPlanText } from "../cli/plan/render";

const cpuMs = () => {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
};

async function main() {
  // performance.now() counts from the process's start: what came before is Node's start and the modules' loading.
  const loadMs = performance.now();
  const loadCpuMs = cpuMs();
  const [file, resourcesOut] = process.argv.slice(2);
  if (!file) throw new Error("usage: node dist/bench/planProcess.js STACK_FILE [RESOURCES_JSON] (npm run build first)");
  const started = performance.now();
  const plan = await planStack(file, campusProgram);
  const [planned, plannedCpuMs] = [performance.now(), cpuMs()];
  const text = renderPlanText(plan);
  const total = cpuMs();
  const result = {
    loadMs,
    loadCpuMs,
    ms: planned - started,
    planCpuMs: plannedCpuMs - loadCpuMs,
    renderMs: performance.now() - planned,
    renderCpuMs: total - plannedCpuMs,
    cpuMs: total,
    resources: plan.resources.length,
    textBytes: Buffer.byteLength(text),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  if (resourcesOut) writeFileSync(resourcesOut, JSON.stringify(plan.resources));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

void main();
