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

const ROOT = path.resolve(__dirname, "..");

export interface PlanScale {
  nodes: number;
  resources: number;
  /** planStack in the process (validation + evaluation + recording). */
  planMs: number;
  /** The whole process (compiled JavaScript, as `npm run plan` runs it), start to exit, as a user waits for it. */
  processMs: number;
  maxRssMb: number;
  /** CPU time (user + system) of the whole process: what the wall time approaches on an idle machine. */
  processCpuMs: number;
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

export async function planAtScale(nodes: number): Promise<PlanScale> {
  const file = generatedStack(nodes);
  execFileSync(process.execPath, [path.join(ROOT, "tools/build.mjs")], { cwd: ROOT });
  const started = performance.now();
  const args = [path.join(ROOT, "dist/bench/planProcess.js"), file];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, maxBuffer: 16 << 20 });
  const processMs = performance.now() - started;
  const result = JSON.parse(stdout.trim().split("\n").pop()!) as { ms: number; cpuMs: number; resources: number; maxRssMb: number };
  return { nodes, resources: result.resources, planMs: result.ms, processMs, processCpuMs: result.cpuMs, maxRssMb: result.maxRssMb };
}
