import { describe, expect, it } from "vitest";
import { renderEnvFile, type ScaleliteEnv } from "../../components/scalelite/renderEnvFile";

const env: ScaleliteEnv = {
  fqdn: "visio.example.org",
  secretKeyBase: "ab".repeat(64),
  loadBalancerSecret: "L0adBalancerSecretL0adBalancerSecret01",
  checksumAlgorithms: ["SHA512", "SHA256"],
  postgresPassword: "PgPassw0rdPgPassw0rd",
  scaleliteTag: "v1.8.5",
  pollIntervalSeconds: 60,
};

/** Parses the file the way `docker run --env-file` does: KEY=VALUE per line, value taken literally. */
function dockerEnv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n").filter((l) => l !== "")) {
    const eq = line.indexOf("=");
    out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

describe("renderEnvFile", () => {
  it("holds every variable the Scalelite containers need, each once", () => {
    const text = renderEnvFile(env);
    expect(text.endsWith("\n")).toBe(true);
    const vars = dockerEnv(text);
    expect(text.split("\n").filter(Boolean)).toHaveLength(vars.size);
    expect(Object.fromEntries(vars)).toEqual({
      URL_HOST: "visio.example.org",
      SECRET_KEY_BASE: env.secretKeyBase,
      LOADBALANCER_SECRET: env.loadBalancerSecret,
      LOADBALANCER_CHECKSUM_ALGORITHM: "SHA256:SHA512",
      DATABASE_URL: "postgresql://postgres:PgPassw0rdPgPassw0rd@scalelite-postgres:5432",
      REDIS_URL: "redis://scalelite-redis:6379",
      SCALELITE_TAG: "v1.8.5",
      SCALELITE_RECORDING_DIR: "/mnt/scalelite-recordings/var/bigbluebutton",
      NGINX_SSL: "true",
      SCALELITE_NGINX_EXTRA_OPTS: "--mount type=bind,source=/etc/letsencrypt,target=/etc/nginx/ssl,readonly",
      POLL_INTERVAL: "60",
      SERVER_ID_IS_HOSTNAME: "true",
      RAILS_LOG_TO_STDOUT: "true",
    });
  });

  it("gives the database URL a parseable form whose password is the generated one", () => {
    const url = new URL(dockerEnv(renderEnvFile(env)).get("DATABASE_URL") ?? "");
    expect([url.protocol, url.username, url.password, url.hostname, url.port]).toEqual(["postgresql:", "postgres", env.postgresPassword, "scalelite-postgres", "5432"]);
  });

  it("is byte-identical for the same inputs, whatever the order of algorithms", () => {
    expect(renderEnvFile({ ...env, checksumAlgorithms: ["SHA256", "SHA512"] })).toBe(renderEnvFile(env));
  });

  it.each([
    ["a newline in a secret", { loadBalancerSecret: "abcdefghijklmnopqrstuvwxyz012345\nX=1" }, /LOADBALANCER_SECRET/],
    ["a quoted secret", { loadBalancerSecret: '"abcdefghijklmnopqrstuvwxyz012345"' }, /LOADBALANCER_SECRET/],
    ["a short SECRET_KEY_BASE", { secretKeyBase: "ab".repeat(32) }, /SECRET_KEY_BASE/],
    ["a URL-breaking database password", { postgresPassword: "p@ss/word:with#chars" }, /PostgreSQL password/],
    ["sha384", { checksumAlgorithms: ["SHA384" as never] }, /unknown checksum algorithm 'SHA384'/],
    ["latest", { scaleliteTag: "latest" }, /SCALELITE_TAG 'latest'/],
    ["a host with a space", { fqdn: "visio example.org" }, /URL_HOST/],
  ])("rejects %s", (_label, change, message) => {
    expect(() => renderEnvFile({ ...env, ...change })).toThrow(message);
  });

  it("reports every problem at once", () => {
    const attempt = () => renderEnvFile({ ...env, scaleliteTag: "latest", checksumAlgorithms: [], pollIntervalSeconds: 1 });
    for (const part of [/at least one algorithm/, /SCALELITE_TAG 'latest'/, /POLL_INTERVAL/]) expect(attempt).toThrow(part);
  });
});
