/**
 * What a test can observe on a loopback test host (test/support/sshd.ts): its files, the fakes' call
 * log, and the machine's process listing while a step runs.
 */
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { StepName } from "../../components/remote/catalogue";
import type { StepInputs } from "../../components/remote/invocation";
import { runStep, type StepResult, type TestHost } from "./sshd";

/** Every file and directory under the host root with what a change would touch (content, mode, inode, mtime). */
export function tree(h: TestHost): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      const rel = path.relative(h.root, full);
      if (rel === "fake-calls.log" || rel === "fake-state" || rel === "opt") continue; // test instrumentation, uploaded scripts
      const st = lstatSync(full, { bigint: true });
      // A directory's mtime moves with any temporary file made in it; its entries are compared instead.
      out.set(rel, st.isDirectory() ? `${st.mode}` : `${st.mode}:${st.ino}:${st.size}:${st.mtimeNs}`);
      if (st.isDirectory()) walk(full);
    }
  };
  walk(h.root);
  return out;
}

/**
 * Gives the fresh test host `h` the filesystem of the host root `from` (`cp -a`), as if the steps that built
 * `from` had run on `h`: a test that needs a host after steps it does not test starts from a copy instead of
 * running them again. Files that name paths under `from` (the fakes' call log, a log the fake installer
 * wrote) are rewritten to name h's root instead.
 */
export function copyRoot(from: string, h: TestHost): void {
  const copied = spawnSync("cp", ["-a", `${from}/.`, h.root], { encoding: "utf8" });
  if (copied.status !== 0) throw new Error(`copying the host ${from}: ${copied.stderr}`);
  const naming = spawnSync("grep", ["-rlFZ", "--", from, h.root], { encoding: "utf8" });
  if (naming.status === 2) throw new Error(`looking for ${from} in its copy: ${naming.stderr}`);
  for (const file of naming.stdout.split("\0").filter(Boolean)) writeFileSync(file, readFileSync(file, "utf8").replaceAll(from, h.root));
}

/** The fakes' calls so far, one argv line each. */
export function calls(h: TestHost): string[] {
  const file = path.join(h.root, "fake-calls.log");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
}

export const read = (h: TestHost, rel: string): string => readFileSync(path.join(h.root, rel), "utf8");
export const mode = (h: TestHost, rel: string): string => (statSync(path.join(h.root, rel)).mode & 0o777).toString(8);
export const owner = (h: TestHost, rel: string): string => {
  const st = statSync(path.join(h.root, rel));
  return `${st.uid}:${st.gid}`;
};
export const output = (r: StepResult): string => r.stdout + r.stderr;

/**
 * Every process's command line, as `ps -eo args` shows it, read from /proc/PID/cmdline (proc(5)) in this
 * process: a `ps` started every few milliseconds was a large share of the suite's CPU on a loaded machine.
 */
function processListing(): string {
  const lines: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trimEnd());
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return lines.join("\n");
}

/** Runs a step while sampling the whole machine's process listing. */
export async function runWatched(h: TestHost, step: StepName, inputs: StepInputs, listings: string[]): Promise<StepResult> {
  let running = true;
  const sampler = (async () => {
    while (running) {
      listings.push(processListing());
      await new Promise((r) => setTimeout(r, 15));
    }
  })();
  try {
    return await runStep(h, step, inputs);
  } finally {
    running = false;
    await sampler;
  }
}
