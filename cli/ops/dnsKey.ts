import { createTokenUrl, dnsKeyRules, rulesBeyondZone, type AccessRule } from "../../components/scalelite/dnsKeyRules";
import { parseOvhDnsIni } from "../../components/scalelite/renderOvhDnsIni";
import { createHash } from "node:crypto";
import * as https from "node:https";
import { OpsError } from "./errors";

/** What the DNS-01 key may do, as the OVH API says, against the campus zone. */
export interface DnsKeyCheck {
  zone: string;
  /** False when its rules reach beyond the zone, or could not be read. */
  ok: boolean;
  rules?: AccessRule[];
  beyond: AccessRule[];
  detail: string;
}

/** auth.Credential (GET /auth/currentCredential): the calling key's own credential. */
export interface Credential {
  credentialId?: number;
  status?: string;
  rules?: AccessRule[];
}

const API_BASE: Record<string, string> = {
  "ovh-eu": "https://eu.api.ovh.com/1.0",
  "ovh-ca": "https://ca.api.ovh.com/1.0",
  "ovh-us": "https://api.us.ovhcloud.com/1.0",
};

function getJson(url: URL, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: text.slice(0, 200) });
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 30 s")));
    req.on("error", reject);
  });
}

/**
 * GET /auth/currentCredential signed with the DNS-01 key (the certbot-dns-ovh file). Signed here, not
 * through @ovhcloud/node-ovh: that client sends no consumer key nor signature on any /auth path
 * (lib/ovh.es5.js, `path.indexOf('/auth') < 0`), and the API then cannot tell whose credential to return.
 * Signature as OVH documents it ("First steps with the OVHcloud APIs"): "$1$" + SHA1 of
 * secret+consumer+METHOD+URL+body+timestamp, the timestamp from GET /auth/time; the URL as the client
 * requests it, without a port (the API listens on 443). OVH_API_URL redirects it like the other calls.
 */
export async function currentCredential(iniText: string, env: NodeJS.ProcessEnv): Promise<Credential> {
  let creds;
  try {
    creds = parseOvhDnsIni(iniText);
  } catch (e) {
    throw new OpsError("config", "-", `--dns-key-file: ${(e as Error).message}`);
  }
  const base = env.OVH_API_URL ?? API_BASE[creds.endpoint];
  if (!base) throw new OpsError("config", "-", `--dns-key-file: endpoint '${creds.endpoint}' is not one of ${Object.keys(API_BASE).join(", ")}`);
  const root = base.replace(/\/$/, "");
  const time = await getJson(new URL(`${root}/auth/time`), {});
  if (time.status !== 200 || typeof time.body !== "number") throw new OpsError("api", "OVH API", `GET /auth/time: HTTP ${time.status}`);
  const url = new URL(`${root}/auth/currentCredential`);
  const signed = `https://${url.hostname}${url.pathname}`;
  const timestamp = String(time.body);
  const signature = `$1$${createHash("sha1").update([creds.applicationSecret, creds.consumerKey, "GET", signed, "", timestamp].join("+")).digest("hex")}`;
  const answer = await getJson(url, {
    "X-Ovh-Application": creds.applicationKey,
    "X-Ovh-Consumer": creds.consumerKey,
    "X-Ovh-Timestamp": timestamp,
    "X-Ovh-Signature": signature,
  });
  if (answer.status !== 200) {
    const message = (answer.body as { message?: string } | null)?.message ?? "";
    throw new OpsError(
      answer.status === 401 || answer.status === 403 ? "api-auth" : "api",
      "OVH API",
      `GET /auth/currentCredential: HTTP ${answer.status} ${message}`.trim(),
    );
  }
  return answer.body as Credential;
}

export async function checkDnsKey(read: () => Promise<Credential>, zone: string): Promise<DnsKeyCheck> {
  let credential: Credential;
  try {
    credential = await read();
  } catch (e) {
    return { zone, ok: false, beyond: [], detail: `cannot read the key's rules (GET /auth/currentCredential): ${(e as Error).message}` };
  }
  const rules = (credential.rules ?? []).map((r) => ({ method: r.method, path: r.path }));
  const beyond = rulesBeyondZone(rules, zone);
  return {
    zone,
    ok: beyond.length === 0,
    rules,
    beyond,
    detail:
      beyond.length === 0
        ? `its ${rules.length} rules stay within the zone ${zone}`
        : `WARNING: its rules reach beyond the zone ${zone}: ${beyond.map((r) => `${r.method} ${r.path}`).join(", ")}; a key stolen from the front could change those: replace it with one limited to the rules of \`ops dns-key-rules\``,
  };
}

/** The rules to give the DNS-01 key of a zone, and the createToken page that asks for them. */
export function renderDnsKeyRules(zone: string, endpoint: string): string {
  const rules = dnsKeyRules(zone);
  const url = createTokenUrl(endpoint, rules);
  return [
    `access rules for the DNS-01 key of zone ${zone} (bbb-ovh:dnsCredentials), nothing else:`,
    ...rules.map((r) => `  ${r.method.padEnd(6)} ${r.path}`),
    url ? `create it at: ${url}` : `endpoint ${endpoint}: give these rules to the createToken page of your endpoint`,
    "",
  ].join("\n");
}
