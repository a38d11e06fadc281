/**
 * What went wrong, with which host: every failure the ops tool reports is one of these, so that the
 * operator reads "bbb1.example.org: TLS: certificate has expired" rather than "fetch failed", and
 * scripts can branch on the exit code.
 */
export type FailureKind =
  "usage" | "config" | "dns" | "tcp" | "tls" | "ssh-auth" | "checksum" | "api-auth" | "timeout" | "http" | "api" | "command" | "unhealthy" | "declined";

/** Exit codes, one per family of failure (documented in `npm run ops -- --help`). */
export const EXIT_CODES: Record<FailureKind, number> = {
  unhealthy: 1,
  declined: 1,
  usage: 2,
  config: 2,
  dns: 3,
  tcp: 3,
  tls: 3,
  "ssh-auth": 4,
  checksum: 4,
  "api-auth": 4,
  timeout: 5,
  http: 6,
  api: 6,
  command: 6,
};

export const EXIT_HELP =
  "exit codes: 0 ok, 1 unhealthy or declined, 2 usage/config, 3 unreachable (DNS, TCP, TLS), 4 rejected credentials (SSH auth, checksum, OVH API), 5 timeout, 6 unexpected answer (HTTP, API, remote command)";

const LABELS: Record<FailureKind, string> = {
  usage: "usage",
  config: "configuration",
  dns: "DNS",
  tcp: "TCP",
  tls: "TLS",
  "ssh-auth": "SSH authentication",
  checksum: "checksum error",
  "api-auth": "API credentials rejected",
  timeout: "timeout",
  http: "HTTP",
  api: "API",
  command: "remote command",
  unhealthy: "unhealthy",
  declined: "declined",
};

export class OpsError extends Error {
  constructor(
    readonly kind: FailureKind,
    /** The host (or "-" when none is involved) the failure is about. */
    readonly host: string,
    readonly detail: string,
  ) {
    super(`${host === "-" ? "" : `${host}: `}${LABELS[kind]}: ${detail}`);
    this.name = "OpsError";
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }

  toJSON(): { host: string; kind: FailureKind; message: string } {
    return { host: this.host, kind: this.kind, message: this.detail };
  }
}

const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL"]);
const TCP_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "EADDRNOTAVAIL", "ECONNABORTED"]);
const TIMEOUT_CODES = new Set(["ETIMEDOUT", "ESOCKETTIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT"]);

function isTlsCode(code: string): boolean {
  return /^(CERT_|ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE))/.test(code);
}

/** Maps a low-level error (Node net/tls/dns, AbortSignal, ssh2) to an OpsError naming the host. */
export function classifyError(error: unknown, host: string): OpsError {
  if (error instanceof OpsError) return error;
  const e = error as { code?: unknown; name?: string; message?: string; level?: string; cause?: unknown };
  const code = typeof e?.code === "string" ? e.code : "";
  const message = e?.message ?? String(error);
  if (e?.name === "TimeoutError" || e?.name === "AbortError" || TIMEOUT_CODES.has(code) || /timed out/i.test(message)) {
    return new OpsError("timeout", host, message);
  }
  if (DNS_CODES.has(code)) return new OpsError("dns", host, `cannot resolve the name (${code})`);
  if (TCP_CODES.has(code)) return new OpsError("tcp", host, `connection failed (${code})`);
  if (isTlsCode(code)) return new OpsError("tls", host, `${message} (${code})`);
  if (/host denied|verification failed/i.test(message)) {
    return new OpsError("ssh-auth", host, "the server's host key is not the pinned one (a changed or impostor host): refused before authenticating");
  }
  if (e?.level === "client-authentication" || /authentication methods failed/i.test(message)) {
    return new OpsError("ssh-auth", host, "the server refused the key (all authentication methods failed)");
  }
  if (e?.cause !== undefined && e.cause !== error) return classifyError(e.cause, host);
  return new OpsError("command", host, message);
}
