import { describe, expect, it } from "vitest";
import { renderEnvFiles, type ScaleliteEnv } from "../../components/scalelite/renderEnvFile";

const env: ScaleliteEnv = {
  fqdn: "visio.example.org",
  secretKeyBase: "ab".repeat(64),
  loadBalancerSecret: "L0adBalancerSecretL0adBalancerSecret01",
  checksumAlgorithms: ["SHA512", "SHA256"],
  postgresPassword: "PgPassw0rdPgPassw0rd",
  pollIntervalSeconds: 60,
  recordings: true,
  protectedRecordings: false,
};

/** Parses the file the way `docker run --env-file` does: KEY=VALUE per line, value taken literally. */
function dockerEnv(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (text ?? "").split("\n").filter((l) => l !== "")) {
    const eq = line.indexOf("=");
    expect(out[line.slice(0, eq)], `${line.slice(0, eq)} twice`).toBeUndefined();
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

describe("renderEnvFiles", () => {
  it("gives each container exactly the variables it reads", () => {
    const files = renderEnvFiles(env);
    for (const text of Object.values(files)) expect(text.endsWith("\n")).toBe(true);
    const rails = {
      SECRET_KEY_BASE: env.secretKeyBase,
      DATABASE_URL: "postgresql://postgres:PgPassw0rdPgPassw0rd@scalelite-postgres:5432",
      REDIS_URL: "redis://scalelite-redis:6379",
      RAILS_LOG_TO_STDOUT: "true",
    };
    expect(dockerEnv(files.api)).toEqual({
      ...rails,
      URL_HOST: "visio.example.org",
      LOADBALANCER_SECRET: env.loadBalancerSecret,
      LOADBALANCER_CHECKSUM_ALGORITHM: "SHA256:SHA512",
      SERVER_ID_IS_HOSTNAME: "true",
    });
    expect(dockerEnv(files.nginx)).toEqual({ URL_HOST: "visio.example.org", NGINX_SSL: "true" });
    expect(dockerEnv(files.poller)).toEqual({ ...rails, LOADBALANCER_CHECKSUM_ALGORITHM: "SHA256:SHA512", POLL_INTERVAL: "60" });
    expect(dockerEnv(files["recording-importer"])).toEqual(rails);
  });

  it("without recordings: RECORDING_DISABLED for the api and no importer file", () => {
    const files = renderEnvFiles({ ...env, recordings: false });
    expect(dockerEnv(files.api).RECORDING_DISABLED).toBe("true");
    expect(files["recording-importer"]).toBeUndefined();
  });

  it("protected recordings reach the importer and the api, not nginx", () => {
    const files = renderEnvFiles({ ...env, protectedRecordings: true });
    expect(dockerEnv(files.api).PROTECTED_RECORDINGS_ENABLED).toBe("true");
    expect(dockerEnv(files["recording-importer"]).PROTECTED_RECORDINGS_ENABLED).toBe("true");
    expect(files.nginx).not.toContain("PROTECTED");
    expect(() => renderEnvFiles({ ...env, recordings: false, protectedRecordings: true })).toThrow(/protected recordings need recordings on/);
  });

  it("gives the database URL a parseable form whose password is the generated one", () => {
    const url = new URL(dockerEnv(renderEnvFiles(env).api).DATABASE_URL);
    expect([url.protocol, url.username, url.password, url.hostname, url.port]).toEqual([
      "postgresql:",
      "postgres",
      env.postgresPassword,
      "scalelite-postgres",
      "5432",
    ]);
  });

  it("is byte-identical for the same inputs, whatever the order of algorithms", () => {
    expect(renderEnvFiles({ ...env, checksumAlgorithms: ["SHA256", "SHA512"] })).toEqual(renderEnvFiles(env));
  });

  it.each([
    ["a newline in a secret", { loadBalancerSecret: "abcdefghijklmnopqrstuvwxyz012345\nX=1" }, /LOADBALANCER_SECRET/],
    ["a quoted secret", { loadBalancerSecret: '"abcdefghijklmnopqrstuvwxyz012345"' }, /LOADBALANCER_SECRET/],
    ["a short SECRET_KEY_BASE", { secretKeyBase: "ab".repeat(32) }, /SECRET_KEY_BASE/],
    ["a URL-breaking database password", { postgresPassword: "p@ss/word:with#chars" }, /PostgreSQL password/],
    ["sha384", { checksumAlgorithms: ["SHA384" as never] }, /unknown checksum algorithm 'SHA384'/],
    ["a host with a space", { fqdn: "visio example.org" }, /URL_HOST/],
  ])("rejects %s", (_label, change, message) => {
    expect(() => renderEnvFiles({ ...env, ...change })).toThrow(message);
  });

  it("reports every problem at once", () => {
    const attempt = () => renderEnvFiles({ ...env, fqdn: "a b", checksumAlgorithms: [], pollIntervalSeconds: 1 });
    for (const part of [/at least one algorithm/, /URL_HOST 'a b'/, /POLL_INTERVAL/]) expect(attempt).toThrow(part);
  });
});
