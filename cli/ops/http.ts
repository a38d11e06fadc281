import * as http from "node:http";
import * as https from "node:https";
import { classifyError, OpsError } from "./errors";

export interface HttpOptions {
  /** Whole-request budget: connect, TLS, headers and body. */
  timeoutMs: number;
  /** Extra CA certificates (PEM) to trust, e.g. a staging or self-signed front. */
  ca?: string | Buffer;
  /** Accept any certificate. For test benches only; the operator asks for it explicitly. */
  insecure?: boolean;
}

/**
 * The most of an answer ops reads: a BBB or Scalelite API answer is a few KiB to a few hundred KiB
 * (getMeetings of a busy node); anything larger is not an answer ops understands, and reading it whole
 * ends in "Cannot create a string longer than ..." (Node's string limit, about 512 MiB).
 */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface HttpResponse {
  status: number;
  /** Redirect target, when the answer is a redirect (never followed automatically). */
  location?: string;
  body: string;
  elapsedMs: number;
}

/**
 * One GET with a hard deadline, redirects not followed. Failures come back as OpsError naming the
 * URL's host and the layer that failed (DNS, TCP, TLS, timeout).
 */
export function httpGet(url: string, options: HttpOptions): Promise<HttpResponse> {
  const target = new URL(url);
  const host = target.host;
  const started = performance.now();
  const signal = AbortSignal.timeout(options.timeoutMs);
  const client = target.protocol === "https:" ? https : http;
  const tls = target.protocol === "https:" ? { ca: options.ca, rejectUnauthorized: !options.insecure } : {};
  return new Promise<HttpResponse>((resolve, reject) => {
    const request = client.get(target, { signal, agent: false, ...tls }, (response) => {
      const chunks: Buffer[] = [];
      let read = 0;
      response.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read <= MAX_BODY_BYTES) return void chunks.push(chunk);
        // Hang up: the server stops sending, and nothing more is buffered.
        request.destroy();
        reject(
          new OpsError(
            "http",
            host,
            `the answer is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB (HTTP ${response.statusCode ?? "?"}), more than any API answer ops reads; not read further`,
          ),
        );
      });
      response.on("error", (e) => reject(classifyError(signal.aborted ? signal.reason : e, host)));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          location: response.headers.location,
          body: Buffer.concat(chunks).toString("utf8"),
          elapsedMs: Math.round(performance.now() - started),
        }),
      );
    });
    request.on("error", (e) => {
      const cause = signal.aborted ? signal.reason : e;
      const failure = classifyError(cause, host);
      reject(failure.kind === "timeout" ? new OpsError("timeout", host, `no complete answer within ${options.timeoutMs} ms`) : failure);
    });
  });
}
