import { createTokenUrl, dnsKeyRules, rulesBeyondZone, type AccessRule } from "../../components/scalelite/dnsKeyRules";
import { parseOvhDnsIni } from "../../components/scalelite/renderOvhDnsIni";
import { OpsError } from "./errors";
import { ovhApiFromEnv, type OvhApi } from "./ovhApi";

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
interface Credential {
  credentialId?: number;
  status?: string;
  rules?: AccessRule[];
}

/** A client signing with the DNS-01 key (the certbot-dns-ovh file); OVH_API_URL still redirects it (tests, private endpoints). */
export function dnsKeyApi(iniText: string, env: NodeJS.ProcessEnv): OvhApi {
  let creds;
  try {
    creds = parseOvhDnsIni(iniText);
  } catch (e) {
    throw new OpsError("config", "-", `--dns-key-file: ${(e as Error).message}`);
  }
  return ovhApiFromEnv({
    OVH_API_URL: env.OVH_API_URL,
    OVH_ENDPOINT: creds.endpoint,
    OVH_APPLICATION_KEY: creds.applicationKey,
    OVH_APPLICATION_SECRET: creds.applicationSecret,
    OVH_CONSUMER_KEY: creds.consumerKey,
  });
}

export async function checkDnsKey(api: OvhApi, zone: string): Promise<DnsKeyCheck> {
  let credential: Credential;
  try {
    credential = await api.call<Credential>("GET", "/auth/currentCredential");
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
