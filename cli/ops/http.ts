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
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
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
