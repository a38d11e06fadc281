/**
 * How the offline plan grows with the campus: generated stacks of N BigBlueButton nodes (the brest
 * stack with its node list repeated over three datacenters), each planned in a fresh process.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { readStackFile } from "../components/config/stackFile";
import { md } from "./markdown";

const ROOT = path.resolve(__dirname, "..");

export interface PlanScale {
  nodes: number;
  resources: number;
  /** planStack in the process (validation + evaluation + recording). */
  planMs: number;
  /** The whole process (compiled JavaScript, as `npm run plan` runs it), from its start to the plan's text, as a user waits for it. */
  processMs: number;
  maxRssMb: number;
  /** CPU time (user + system) of the whole process: what the wall time approaches on an idle machine. */
  processCpuMs: number;
  /** CPU time of the process's parts: Node's start and the modules' loading, the plan (validation, evaluation, recording), the text. */
  loadCpuMs: number;
  planCpuMs: number;
  renderCpuMs: number;
  /** Pulumi's mock runtime alone for the same resources (bench/pulumiFloor.ts), in a process of its own. */
  floor: { cpuMs: number; loadCpuMs: number; maxRssMb: number };
}

/** A stack file with `nodes` dedicated nodes, written to a temporary directory. */
export function generatedStack(nodes: number): string {
  const brest = readStackFile("brest").config;
  const campus = structuredClone(brest["bbb-ovh:campus"].value) as Record<string, any>;
  const datacenters = ["sbg", "rbx", "gra"];
  campus.id = `gen${nodes}`;
  campus.expected = { concurrentUsers: nodes * 150, classrooms: nodes * 5 };
  campus.front = { ...campus.front, name: `lb-gen${nodes}`, fqdn: `visio-gen${nodes}.${campus.dns.zone}` };
  campus.nodes = Array.from({ length: nodes }, (_, i) => ({
    name: `bbb-gen-${i + 1}`,
    fqdn: `bbb${i + 1}.gen.${campus.dns.zone}`,
    kind: "dedicated",
    model: "infra-1",
    datacenter: datacenters[i % datacenters.length],
  }));
  const file = path.join(mkdtempSync(path.join(tmpdir(), "bbb-bench-")), `Pulumi.gen${nodes}.yaml`);
  // brest configures Moodle over SSH: its (encrypted) Moodle key comes along.
  writeFileSync(file, stringify({ config: { "bbb-ovh:campus": campus, "bbb-ovh:moodleSshPrivateKey": brest["bbb-ovh:moodleSshPrivateKey"].value } }));
  return file;
}

/**
 * The plan of a generated stack and Pulumi's share of it, each the median (by CPU time) of `runs` fresh
 * processes, plan and replay taking turns: on a shared machine one process's CPU time varies by a fifth.
 */
export async function planAtScale(nodes: number, runs = 3): Promise<PlanScale> {
  const file = generatedStack(nodes);
  execFileSync(process.execPath, [path.join(ROOT, "tools/build.mjs")], { cwd: ROOT });
  const recorded = path.join(path.dirname(file), "resources.json");
  const node = async (args: string[]) => {
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, maxBuffer: 16 << 20 });
    return JSON.parse(stdout.trim().split("\n").pop()!);
  };
  const plans: PlanRun[] = [];
  const floors: FloorRun[] = [];
  for (let i = 0; i < runs; i++) {
    plans.push((await node([path.join(ROOT, "dist/bench/planProcess.js"), file, recorded])) as PlanRun);
    floors.push((await node([path.join(ROOT, "dist/bench/planFloorProcess.js"), recorded, `gen${nodes}`])) as FloorRun);
  }
  const median = <T extends { cpuMs: number }>(all: T[]) => [...all].sort((x, y) => x.cpuMs - y.cpuMs)[Math.floor(all.length / 2)];
  const [result, floor] = [median(plans), median(floors)];
  if (floor.resources !== result.resources) throw new Error(`the replay registered ${floor.resources} resources, the plan ${result.resources}`);
  return {
    nodes,
    resources: result.resources,
    planMs: result.ms,
    // From the process's start to its text (writing the resources for the replay comes after).
    processMs: result.loadMs + result.ms + result.renderMs,
    processCpuMs: result.cpuMs,
    maxRssMb: result.maxRssMb,
    loadCpuMs: result.loadCpuMs,
    planCpuMs: result.planCpuMs,
    renderCpuMs: result.renderCpuMs,
    floor: { cpuMs: floor.cpuMs, loadCpuMs: floor.loadCpuMs, maxRssMb: floor.maxRssMb },
  };
}

/** What bench/planProcess.ts and bench/planFloorProcess.ts print. */
type PlanRun = {
  loadMs: number;
  loadCpuMs: number;
  ms: number;
  planCpuMs: number;
  renderMs: number;
  renderCpuMs: number;
  cpuMs: number;
  resources: number;
  maxRssMb: number;
};
type FloorRun = { loadCpuMs: number; cpuMs: number; resources: number; maxRssMb: number };

/** Issue 20: a 100-node offline plan within 1.5 s and 250 MB. */
export const PLAN_GOAL = { nodes: 100, ms: 1500, mb: 250 };
export const PLAN_HEADING = "## Plan speed and memory";

const ms = (n: number) => `${Math.round(n)} ms`;
const mb = (n: number) => `${Math.round(n)} MB`;

/** The RESULTS.md section of the plan's figures; `measured` says when and under what load, for a section refreshed alone. */
export function renderPlanScaling(points: PlanScale[], measured?: string): string {
  const [small, large] = [points[0], points.at(-1) as PlanScale];
  const perNodeMs = (large.processCpuMs - small.processCpuMs) / (large.nodes - small.nodes);
  const perNodeMb = (large.maxRssMb - small.maxRssMb) / (large.nodes - small.nodes);
  const goal = points.find((p) => p.nodes === PLAN_GOAL.nodes);
  const met = (ok: boolean) => (ok ? "met" : "not met");
  return `${PLAN_HEADING}

\`npm run plan\` on generated stacks of N dedicated BigBlueButton nodes (brest's settings), each in a fresh process
of the compiled JavaScript as \`npm run plan\` runs it (median of three by CPU time): load the modules, plan (validation, evaluation under
Pulumi's mock runtime, recording), render the text. CPU time (user + system) is what the wall time comes down to
on an idle machine. *Pulumi alone*: the same resources (types, names, parents, dependencies, inputs, secrets)
registered again through the same SDK classes, recorder and mocks by a program that does nothing else
(bench/pulumiFloor.ts), in a process of its own: the mock runtime's cost for these resources whatever builds
them, a lower bound since its inputs are already resolved. *Ours* is the plan above it.${measured ? `\n${measured}` : ""}

${md(
  [
    "nodes",
    "resources",
    "wall",
    "CPU",
    "CPU: start and modules",
    "CPU: plan",
    "CPU: text",
    "peak RSS",
    "Pulumi alone: CPU",
    "Pulumi alone: RSS",
    "ours: CPU",
    "ours: RSS",
  ],
  points.map((p) => [
    p.nodes,
    p.resources,
    ms(p.processMs),
    ms(p.processCpuMs),
    ms(p.loadCpuMs),
    ms(p.planCpuMs),
    ms(p.renderCpuMs),
    mb(p.maxRssMb),
    ms(p.floor.cpuMs),
    mb(p.floor.maxRssMb),
    ms(p.processCpuMs - p.floor.cpuMs),
    mb(p.maxRssMb - p.floor.maxRssMb),
  ]),
)}

Goal for ${PLAN_GOAL.nodes} nodes: the whole process within ${PLAN_GOAL.ms} ms and ${PLAN_GOAL.mb} MB.${
    goal
      ? ` CPU ${ms(goal.processCpuMs)}: ${met(goal.processCpuMs <= PLAN_GOAL.ms)}; peak RSS ${mb(goal.maxRssMb)}: ${met(goal.maxRssMb <= PLAN_GOAL.mb)}. ` +
        `Pulumi's mock runtime alone takes ${ms(goal.floor.cpuMs)} of CPU (${ms(goal.floor.loadCpuMs)} of it Node's start and loading the SDKs) and ${mb(goal.floor.maxRssMb)} for these ${goal.resources} resources: ` +
        `${goal.floor.cpuMs > PLAN_GOAL.ms || goal.floor.maxRssMb > PLAN_GOAL.mb ? "the goal cannot be met while the plan evaluates the program under it" : "within the goal"}.`
      : ""
  }
Growth is linear: about ${perNodeMs.toFixed(0)} ms of CPU and ${perNodeMb.toFixed(1)} MB per added node.
Where the time and memory go, profiled by hand with \`node --cpu-prof\`: bench/PROFILE.md.
`;
}
