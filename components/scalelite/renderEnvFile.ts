import { RECORDING_DIR } from "./recordingLayout";

/** Host names of the PostgreSQL and Redis containers on the `scalelite` docker network (scalelite-docker.sh). */
export const POSTGRES_HOST = "scalelite-postgres";
export const REDIS_HOST = "scalelite-redis";

export const CHECKSUM_ALGORITHMS = ["SHA1", "SHA256", "SHA512"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export interface ScaleliteEnv {
  fqdn: string;
  secretKeyBase: string;
  loadBalancerSecret: string;
  /** Algorithms API clients may sign with; Scalelite passes the caller's choice on to the nodes. */
  checksumAlgorithms: readonly ChecksumAlgorithm[];
  postgresPassword: string;
  scaleliteTag: string;
  pollIntervalSeconds: number;
  recordingDir?: string;
}

/**
 * Content of /etc/default/scalelite, read by every Scalelite container through `docker run --env-file`.
 * Docker takes each value literally (no quotes, no escapes, one line), so values are checked rather
 * than quoted: a quote or a newline would silently become part of a secret.
 */
export function renderEnvFile(env: ScaleliteEnv): string {
  const problems: string[] = [];
  const require = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  require(/^[a-z0-9.-]+$/.test(env.fqdn), `URL_HOST '${env.fqdn}' is not a host name`);
  require(/^[0-9a-f]{128}$/.test(env.secretKeyBase), "SECRET_KEY_BASE must be 128 lowercase hex characters (openssl rand -hex 64)");
  // ':' separates LOADBALANCER_SECRETS; URL-unsafe characters would break API clients' checksums.
  require(/^[A-Za-z0-9]{32,}$/.test(env.loadBalancerSecret), "LOADBALANCER_SECRET must be at least 32 letters or digits");
  require(/^[A-Za-z0-9]{16,}$/.test(env.postgresPassword), "the PostgreSQL password must be at least 16 letters or digits (it goes into DATABASE_URL)");
  require(env.checksumAlgorithms.length > 0, "LOADBALANCER_CHECKSUM_ALGORITHM needs at least one algorithm");
  for (const alg of env.checksumAlgorithms) require(CHECKSUM_ALGORITHMS.includes(alg), `unknown checksum algorithm '${alg}'; Scalelite accepts ${CHECKSUM_ALGORITHMS.join(", ")}`);
  require(/^v\d+\.\d+\.\d+$/.test(env.scaleliteTag), `SCALELITE_TAG '${env.scaleliteTag}' is not a pinned release such as v1.8.5`);
  require(Number.isInteger(env.pollIntervalSeconds) && env.pollIntervalSeconds >= 10, "POLL_INTERVAL must be an integer of at least 10 seconds");
  const recordingDir = env.recordingDir ?? RECORDING_DIR;
  require(/^\/[A-Za-z0-9._/-]*$/.test(recordingDir), `SCALELITE_RECORDING_DIR '${recordingDir}' must be an absolute path of plain characters`);
  if (problems.length > 0) throw new Error(`/etc/default/scalelite: ${problems.join("; ")}`);

  const algorithms = CHECKSUM_ALGORITHMS.filter((alg) => env.checksumAlgorithms.includes(alg));
  const entries: Array<[string, string]> = [
    ["URL_HOST", env.fqdn],
    ["SECRET_KEY_BASE", env.secretKeyBase],
    ["LOADBALANCER_SECRET", env.loadBalancerSecret],
    ["LOADBALANCER_CHECKSUM_ALGORITHM", algorithms.join(":")],
    ["DATABASE_URL", `postgresql://postgres:${env.postgresPassword}@${POSTGRES_HOST}:5432`],
    ["REDIS_URL", `redis://${REDIS_HOST}:6379`],
    ["SCALELITE_TAG", env.scaleliteTag],
    ["SCALELITE_RECORDING_DIR", recordingDir],
    ["NGINX_SSL", "true"],
    ["SCALELITE_NGINX_EXTRA_OPTS", "--mount type=bind,source=/etc/letsencrypt,target=/etc/nginx/ssl,readonly"],
    ["POLL_INTERVAL", String(env.pollIntervalSeconds)],
    ["SERVER_ID_IS_HOSTNAME", "true"],
    ["RAILS_LOG_TO_STDOUT", "true"],
  ];
  for (const [key, value] of entries) {
    // The per-field rules above already exclude these; this guards any entry added later.
    if (/[\n\r\0]/.test(value) || /^["']/.test(value) || value.trim() !== value) throw new Error(`/etc/default/scalelite: ${key} cannot be passed literally by docker --env-file`);
  }
  return entries.map(([key, value]) => `${key}=${value}\n`).join("");
}
