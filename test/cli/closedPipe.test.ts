/**
 * A reader that stops early (`| head`) closes the CLI's stdout. The command must go on without its output and end
 * as it would have (same exit code, same stderr), with no stack trace (cli/closedPipe.ts); `status --watch`, which
 * never ends by itself, ends. Before, `ops --help | head -1` and `plan brest --json | head -1` printed Node's
 * "Unhandled 'error' event ... write EPIPE".
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { OPS_CLI, PLAN_CLI } from "../support/distCli";

const ROOT = path.resolve(__dirname, "../..");

/** Runs the CLI; with `readerGone`, its stdout's reading end is closed before the process even starts writing. */
function run(args: string[], readerGone: boolean): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    if (readerGone) child.stdout.destroy();
    else child.stdout.resume();
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("the CLIs when their reader goes away", () => {
  it.each([
    ["ops --help", [OPS_CLI, "--help"], 0],
    ["ops size (a table, written in several parts)", [OPS_CLI, "size", "--users", "600", "--rooms", "20"], 0],
    ["ops size with a bad value (its error still on stderr)", [OPS_CLI, "size", "--users", "x", "--rooms", "20"], 2],
    ["plan brest --json", [PLAN_CLI, "brest", "--json"], 0],
  ])("%s: same exit code and stderr as with a reader, no stack trace", async (_name, args, expected) => {
    const [read, gone] = await Promise.all([run(args as string[], false), run(args as string[], true)]);
    expect(read.code).toBe(expected);
    expect(gone).toEqual(read);
    expect(gone.stderr).not.toMatch(/EPIPE|Unhandled|at .*\.js:\d+/);
  });

  it("ops status --watch, endless otherwise, ends when its reader goes (as on Ctrl-C), with the last report's exit code", async () => {
    // Nothing listens on the discard port of loopback: each report says the front is unreachable (exit 3).
    const gone = await run([OPS_CLI, "status", "--watch", "1", "--json", "--url", "http://127.0.0.1:9/"], true);
    expect(gone).toEqual({ code: 3, stderr: "" });
  });
});
