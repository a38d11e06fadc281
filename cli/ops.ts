/**
 * `npm run ops -- <command> [options]`: day-2 operations of a bbb-ovh platform (see cli/ops/program.ts).
 */
import { continueWhenReaderGoes } from "./closedPipe";
import { runOps } from "./ops/program";

// Ends `status --watch`: on Ctrl-C, or when its reader has gone (`| head`), which would otherwise leave the pipeline waiting on it.
const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
continueWhenReaderGoes(process.stdout, () => stop.abort());
continueWhenReaderGoes(process.stderr);

runOps(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signal: stop.signal }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = 1;
  },
);
