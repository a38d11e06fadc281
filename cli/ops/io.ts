/** Where a command reads and writes: the process in the CLI, in-memory streams in tests. */
export interface OpsIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Ends `status --watch` (SIGINT in the CLI). */
  signal?: AbortSignal;
}
