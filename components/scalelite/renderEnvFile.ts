/** Host names of the PostgreSQL and Redis containers on the `scalelite` docker network (scalelite-docker.sh). */
export const POSTGRES_HOST = "scalelite-postgres";
export const REDIS_HOST = "scalelite-redis";

export const CHECKSUM_ALGORITHMS = ["SHA1", "SHA256", "SHA512"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** The Scalelite containers, each with its own env file (scalelite-app.sh: ENV_<CONTAINER>_B64 inputs). */
export const SCALELITE_CONTAINERS = ["api", "nginx", "poller", "recording-importer"] as const;
export type ScaleliteContainer = (typeof SCALELITE_CONTAINERS)[number];

export interface ScaleliteEnv {
  fqdn: string;
  secretKeyBase: string;
  loadBalancerSecret: string;
  /** Algorithms API clients may sign with; Scalelite passes the caller's choice on to the nodes. */
  checksumAlgorithms: readonly ChecksumAlgorithm[];
  postgresPassword: string;
  pollIntervalSeconds: number;
  /** Off: Scalelite's recording APIs are disabled (RECORDING_DISABLED) and no importer runs. */
  recordings: boolean;
  /** Scalelite's protected recordings (docs/protectedrecordings_README.md): one-time playback links. */
  protectedRecordings: boolean;
}

const RAILS: ScaleliteContainer[] = ["api", "poller", "recording-importer"];

/**
 * Who reads what, in Scalelite v1.8.5: the api, poller and recording-importer images are the same Rails
 * application (Dockerfile), configured by config/application.rb and config/environments/production.rb;
 * the nginx image reads only URL_HOST and NGINX_SSL (nginx/start, which renders its template with them).
 * LOADBALANCER_SECRET checks API clients' calls: only the api answers them. The poller signs its
 * getMeetings to the nodes with the strongest of LOADBALANCER_CHECKSUM_ALGORITHM. POLL_INTERVAL is read by
 * bin/start-poller; PROTECTED_RECORDINGS_ENABLED "applies to the recording import process" and the api
 * hands out the tokens (docs/configuration-README.md); servers:sync runs in the api container, which is
 * where server ids are made (SERVER_ID_IS_HOSTNAME).
 */
const READERS: Record<string, ScaleliteContainer[]> = {
  URL_HOST: ["api", "nginx"],
  SECRET_KEY_BASE: RAILS,
  LOADBALANCER_SECRET: ["api"],
  LOADBALANCER_CHECKSUM_ALGORITHM: ["api", "poller"],
  DATABASE_URL: RAILS,
  REDIS_URL: RAILS,
  RECORDING_DISABLED: ["api"],
  PROTECTED_RECORDINGS_ENABLED: ["api", "recording-importer"],
  NGINX_SSL: ["nginx"],
  POLL_INTERVAL: ["poller"],
  SERVER_ID_IS_HOSTNAME: ["api"],
  RAILS_LOG_TO_STDOUT: RAILS,
};

/**
 * The env file of each Scalelite container, read through `docker run --env-file`: each container gets
 * only the variables it reads, so that nginx, the one facing the internet, holds no secret. The api's
 * file is /etc/default/scalelite, where Scalelite's docs put the configuration. No recording-importer
 * file when recordings are off (no importer runs).
 * Docker takes each value literally (no quotes, no escapes, one line), so values are checked rather
 * than quoted: a quote or a newline would silently become part of a secret.
 */
export function renderEnvFiles(env: ScaleliteEnv): Partial<Record<ScaleliteContainer, string>> & Record<"api" | "nginx" | "poller", string> {
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
  for (const alg of env.checksumAlgorithms)
    require(CHECKSUM_ALGORITHMS.includes(alg), `unknown checksum algorithm '${alg}'; Scalelite accepts ${CHECKSUM_ALGORITHMS.join(", ")}`);
  require(Number.isInteger(env.pollIntervalSeconds) && env.pollIntervalSeconds >= 10, "POLL_INTERVAL must be an integer of at least 10 seconds");
  require(env.recordings || !env.protectedRecordings, "protected recordings need recordings on");
  if (problems.length > 0) throw new Error(`Scalelite env files: ${problems.join("; ")}`);

  const algorithms = CHECKSUM_ALGORITHMS.filter((alg) => env.checksumAlgorithms.includes(alg));
  const values: Record<string, string | undefined> = {
    URL_HOST: env.fqdn,
    SECRET_KEY_BASE: env.secretKeyBase,
    LOADBALANCER_SECRET: env.loadBalancerSecret,
    LOADBALANCER_CHECKSUM_ALGORITHM: algorithms.join(":"),
    DATABASE_URL: `postgresql://postgres:${env.postgresPassword}@${POSTGRES_HOST}:5432`,
    REDIS_URL: `redis://${REDIS_HOST}:6379`,
    RECORDING_DISABLED: env.recordings ? undefined : "true",
    PROTECTED_RECORDINGS_ENABLED: env.protectedRecordings ? "true" : undefined,
    NGINX_SSL: "true",
    POLL_INTERVAL: String(env.pollIntervalSeconds),
    SERVER_ID_IS_HOSTNAME: "true",
    RAILS_LOG_TO_STDOUT: "true",
  };
  for (const [key, value] of Object.entries(values)) {
    // The per-field rules above already exclude these; this guards any entry added later.
    if (value !== undefined && (/[\n\r\0]/.test(value) || /^["']/.test(value) || value.trim() !== value))
      throw new Error(`Scalelite env files: ${key} cannot be passed literally by docker --env-file`);
  }
  const fileOf = (container: ScaleliteContainer) =>
    Object.entries(READERS)
      .filter(([key, readers]) => readers.includes(container) && values[key] !== undefined)
      .map(([key]) => `${key}=${values[key]}\n`)
      .join("");
  return {
    api: fileOf("api"),
    nginx: fileOf("nginx"),
    poller: fileOf("poller"),
    ...(env.recordings ? { "recording-importer": fileOf("recording-importer") } : {}),
  };
}
