/**
 * `npm run bench [-- --out DIR]`: evidence of speed and stability, written to results.json and
 * RESULTS.md (machine, date, command) in .tmp/bench, or in DIR (`--out bench` refreshes the committed
 * bench/RESULTS.md on purpose). A benchmark, not a test: it measures and reports.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import * as path from "node:path";
import Table from "cli-table3";
import { cliStart, type CliStart } from "./cliStart";
import { BY_STEP, BY_TYPE, DEDICATED, MS_PER_MINUTE } from "./durations";
import { benchOutDir } from "./outDir";
import { DEFAULT_CONCURRENCY } from "../cli/ops/program";
import { HOSTS, SMALL_BOUND, sshFanout, startSshHosts, statusFanout, type FanoutPoint } from "./opsFanout";
import { planAtScale, renderPlanScaling, type PlanScale } from "./planScaling";
import { addOneNode, rerunStability, type AddNodeResult, type RerunResult } from "./rerunStability";
import { md, pct } from "./markdown";
import { failoverModel, renderFailover } from "./failoverModel";
import { nodeReadyPaths, type ReadyPath } from "./nodeReady";
import { renderScaling } from "./scalingReport";
import { scalingBench, type ScalingBench } from "./scalingWeek";
import { simulateUp, type SimulatedUp } from "./simulatedUp";

const STACKS = ["brest", "nantes", "rennes", "training", "lab"];

const min = (m: number) => `${m.toFixed(1)} min`;

function log(line: string) {
  process.stderr.write(`${line}\n`);
}

async function main() {
  // Before the minutes of measuring: a mistyped option fails at once.
  const out = benchOutDir(process.argv.slice(2), process.cwd());
  const started = new Date();
  // The load average matters: on a shared machine every wall time below stretches with it.
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: loadavg()[0],
  };

  const up: SimulatedUp[] = [];
  for (const stack of STACKS) {
    up.push(await simulateUp(stack));
    log(`simulated up ${stack}: ${Math.round(up.at(-1)!.wallMs)} ms`);
  }
  const rerun: RerunResult[] = [];
  const addNode: AddNodeResult[] = [];
  for (const stack of STACKS) {
    rerun.push(await rerunStability(stack));
    addNode.push(await addOneNode(stack));
  }
  log("re-run stability done");
  const cli: CliStart[] = await cliStart();
  log("CLI start done");
  const planScale: PlanScale[] = [];
  for (const nodes of [3, 30, 100]) {
    planScale.push(await planAtScale(nodes));
    log(`plan of ${nodes} nodes: ${Math.round(planScale.at(-1)!.processCpuMs)} ms CPU`);
  }
  const fanout: FanoutPoint[] = [];
  for (const delay of [200, 500, 1000]) fanout.push(await statusFanout(delay, HOSTS));
  fanout.push(await statusFanout(500, SMALL_BOUND));
  fanout.push(await statusFanout(500, HOSTS, 2000));
  const hosts = await startSshHosts();
  try {
    for (const delay of [500, 1000, 2000]) fanout.push(await sshFanout(hosts, delay, HOSTS));
    fanout.push(await sshFanout(hosts, 1000, SMALL_BOUND));
    fanout.push(await sshFanout(hosts, 1000, HOSTS, 3000));
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
  log("fan-out done");
  const scaling = scalingBench();
  const nodeReady = nodeReadyPaths();
  log("scaling week done");

  const results = {
    command: "npm run bench",
    date: started.toISOString(),
    durationS: Math.round((Date.now() - started.getTime()) / 1000),
    machine,
    scale: { msPerRealMinute: MS_PER_MINUTE },
    simulatedUp: up,
    rerunStability: rerun,
    addOneNode: addNode,
    cliStart: cli,
    planScaling: planScale,
    fanout,
    scaling,
    nodeReady,
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(out, "RESULTS.md"), renderMarkdown(results));
  const summary = new Table({ head: ["stack", "wall", "critical path", "serial", "overhead"], style: { head: [], border: [] } });
  for (const u of up) summary.push([u.stack, min(u.wallMinutes), min(u.criticalPath.minutes), min(u.serialMinutes), pct(u.overheadRatio)]);
  process.stdout.write(`${summary.toString()}\nwrote ${path.relative(process.cwd(), out) || "."}/results.json and RESULTS.md (${results.durationS} s)\n`);
}

type Results = {
  command: string;
  date: string;
  durationS: number;
  machine: { cpu: string; cores: number; memoryGb: number; node: string; platform: string; loadAverage: number };
  cliStart: CliStart[];
  simulatedUp: SimulatedUp[];
  rerunStability: RerunResult[];
  addOneNode: AddNodeResult[];
  planScaling: PlanScale[];
  fanout: FanoutPoint[];
  scaling: ScalingBench;
  nodeReady: ReadyPath[];
};

function renderMarkdown(r: Results): string {
  const durationRows = [
    ...Object.entries(DEDICATED).map(([k, v]) => [`dedicated server (${k})`, v.minutes, v.basis]),
    ...Object.entries(BY_TYPE).map(([k, v]) => [`\`${k}\``, v.minutes, v.basis]),
    ...Object.entries(BY_STEP).map(([k, v]) => [`step \`${k}\``, v.minutes, v.basis]),
  ];
  return `# Benchmark results

- Command: \`${r.command}\` (bench/run.ts), ${r.durationS} s
- Date: ${r.date}
- Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGb} GB, Node ${r.machine.node}, ${r.machine.platform}, load average ${r.machine.loadAverage.toFixed(1)} at the start

## Simulated \`pulumi up\`

The real program of each stack under Pulumi's mock runtime; every resource waits its modelled duration
(bench/durations.ts), one real minute = ${MS_PER_MINUTE} ms. The SDK registers a resource only when its inputs
and dependsOn are resolved, so the wall time comes from the program's real dependency graph.
Critical path = longest chain of real dependencies (recorded inputs, dependsOn, parents); serial = every
resource one after the other, as a runbook followed by hand. Each stack runs at two scales (${MS_PER_MINUTE} ms per minute,
then slowed until its critical path lasts at least 7 s): the wall time is a fixed part (the program's own evaluation, *fixed*) plus a part that
grows with the durations; *overhead* compares that growing part with the critical path, which is what a deploy of
hours sees. The raw ratio at ${MS_PER_MINUTE} ms/min (fixed part included) is shown in brackets. Goal: overhead within 5 %.

${md(
  ["stack", "resources", "simulated wall", "critical path", "serial (by hand)", "speed-up vs serial", "overhead (raw)", "fixed"],
  r.simulatedUp.map((u) => [
    u.stack,
    u.resources,
    min(u.wallMinutes),
    min(u.criticalPath.minutes),
    min(u.serialMinutes),
    `${(u.serialMinutes / u.wallMinutes).toFixed(1)}×`,
    `${pct(u.overheadRatio)} (${pct(u.rawOverheadRatio)})`,
    `${Math.round(u.fixedMs)} ms`,
  ]),
)}

Critical paths:

${r.simulatedUp.map((u) => `- **${u.stack}**: ${u.criticalPath.chain.map((c) => `${c.name} (${c.minutes})`).join(" → ")}`).join("\n")}

Modelled durations (real minutes):

${md(["resource", "minutes", "basis"], durationRows)}

## Re-run stability

Two evaluations of each stack with the same secrets: remote steps whose command, stdin or triggers differ
(the engine would re-run them). Goal 0.

${md(
  ["stack", "remote steps", "steps that would re-run", "resources with any input change"],
  r.rerunStability.map((s) => [s.stack, s.remoteSteps, s.changedSteps.length === 0 ? "0" : s.changedSteps.join(", "), s.changedResources.length]),
)}

Adding one node (a copy of the last node under a new name): existing resources whose inputs change.
Goal: only what must know the new node: the registration step; with recordings, the front's spool (its authorized_keys lists the node's key) and firewall (it admits the node's address); with monitoring, the front's Prometheus (a scrape target) and its exporter's plan (the node's capacity). No node's own step.

${md(
  ["stack", "existing resources", "changed", "removed"],
  r.addOneNode.map((a) => [a.stack, a.existing, a.changed.map((c) => `${c.name} (${c.fields.join(", ")})`).join("; ") || "none", a.removed.length]),
)}

## CLI start

The compiled CLIs (dist/, built by \`npm ci\` and before each \`npm run plan|ops\`), median of 5 fresh processes
each; npm itself adds its own start-up to these. On a shared machine the wall time stretches with the load
average (above); the process's CPU time is what the wall time comes down to on an idle one, and is what
"met" judges when the two disagree.

${md(
  ["command", "wall (median)", "CPU", "goal", "met (CPU)", "exit code"],
  r.cliStart.map((c) => [
    c.what,
    `${Math.round(c.medianMs)} ms`,
    `${Math.round(c.medianCpuMs)} ms`,
    `${c.goalMs} ms`,
    c.medianCpuMs <= c.goalMs ? "yes" : "no",
    c.exitCode,
  ]),
)}

${renderPlanScaling(r.planScaling)}
## Operations fan-out

${HOSTS} hosts on loopback, each answering after a delay d. *status (HTTP)*: \`ops status\`'s collectStatus, whose
per-node probes are signed getMeetings calls to each node's API (local BBB API servers). *ssh*: the ops SSH layer
(runRemote) over ${HOSTS} real sshd, each behind a proxy that holds the connection for d, fanned out with p-limit as
ops does. Goal: under 1.5 d with all hosts at once; with one dead host (accepts, never answers), bounded by the timeout.
\`npm run ops\` queries up to ${DEFAULT_CONCURRENCY} hosts at once by default (one round here); with --concurrency ${SMALL_BOUND}, ${HOSTS} hosts take ⌈${HOSTS}/${SMALL_BOUND}⌉ rounds.

${md(
  ["layer", "d", "concurrency", "dead host (timeout)", "wall", "wall / d (or / timeout)", "failed hosts"],
  r.fanout.map((f) => [
    f.layer,
    `${f.delayMs} ms`,
    f.concurrency,
    f.deadHostTimeoutMs ? `${f.deadHostTimeoutMs} ms` : "-",
    `${Math.round(f.wallMs)} ms`,
    f.ratio.toFixed(2),
    f.failures,
  ]),
)}

${renderFailover(failoverModel())}
${renderScaling(r.scaling, r.nodeReady)}`;
}

main().catch((e) => {
  if (String((e as NodeJS.ErrnoException).code).startsWith("ERR_PARSE_ARGS_")) {
    process.stderr.write(`bench: ${(e as Error).message} (usage: npm run bench [-- --out DIR])\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
