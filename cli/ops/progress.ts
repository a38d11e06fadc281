import type { OpsError } from "./errors";

/**
 * Per-host progress for long commands. It writes to stderr and only on a terminal, and never with
 * --json: piped or parsed output stays exactly the report.
 */
export class Progress {
  private readonly started = new Map<string, number>();

  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly enabled: boolean,
  ) {}

  static for(stream: NodeJS.WritableStream & { isTTY?: boolean }, json: boolean): Progress {
    return new Progress(stream, Boolean(stream.isTTY) && !json);
  }

  start(host: string, what: string): void {
    this.started.set(`${host} ${what}`, performance.now());
    if (this.enabled) this.stream.write(`  .. ${host}: ${what}\n`);
  }

  done(host: string, what: string, detail = ""): void {
    if (this.enabled) this.stream.write(`  ok ${host}: ${what} (${this.elapsed(host, what)} ms)${detail ? ` ${detail}` : ""}\n`);
  }

  fail(host: string, what: string, error: OpsError): void {
    if (this.enabled) this.stream.write(`  !! ${host}: ${what} failed after ${this.elapsed(host, what)} ms: ${error.message}\n`);
  }

  private elapsed(host: string, what: string): number {
    const t = this.started.get(`${host} ${what}`);
    return t === undefined ? 0 : Math.round(performance.now() - t);
  }
}
