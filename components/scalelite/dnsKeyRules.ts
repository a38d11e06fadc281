/**
 * The OVH API rights of the DNS-01 key (bbb-ovh:dnsCredentials), limited to the campus's zone.
 *
 * An OVH consumer key carries access rules, each a method and a path where `*` matches anything
 * (OVH docs "First steps with the OVHcloud APIs", "Requesting credentials"; GET /auth/currentCredential
 * returns them as auth.Credential.rules[] of {method, path}). `/domain/zone/*` would let a key stolen from
 * the front rewrite every zone of the account, so the rules name the zone.
 *
 * The calls certbot-dns-ovh makes, through lexicon's OVH provider (AnalogJ/lexicon,
 * src/lexicon/_private/providers/ovh.py): authenticate() reads GET /auth/time (no key needed),
 * GET /domain/zone/ (the list of zone names) and GET /domain/zone/{zone}/status; create_record() lists
 * with GET /domain/zone/{zone}/record (?fieldType=&subDomain=) and GET /domain/zone/{zone}/record/{id},
 * then POST /domain/zone/{zone}/record and POST /domain/zone/{zone}/refresh; delete_record() sends
 * DELETE /domain/zone/{zone}/record/{id} and POST /domain/zone/{zone}/refresh. update_record() (PUT) is
 * not used by certbot, which only creates and deletes TXT records.
 */
export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface AccessRule {
  method: HttpMethod;
  path: string;
}

/** GET /auth/currentCredential: lets `ops status` read the key's own rules, and nothing else. */
const SELF_CHECK: AccessRule = { method: "GET", path: "/auth/currentCredential" };

/** The zone list lexicon reads before anything else: zone names only, no records. */
const ZONE_LIST: AccessRule = { method: "GET", path: "/domain/zone/" };

/** The exact rules for certbot's DNS-01 challenge on one zone. */
export function dnsKeyRules(zone: string): AccessRule[] {
  const z = `/domain/zone/${zone}`;
  return [
    ZONE_LIST,
    { method: "GET", path: `${z}/status` },
    { method: "GET", path: `${z}/record` },
    { method: "GET", path: `${z}/record/*` },
    { method: "POST", path: `${z}/record` },
    { method: "DELETE", path: `${z}/record/*` },
    { method: "POST", path: `${z}/refresh` },
    SELF_CHECK,
  ];
}

const CREATE_TOKEN: Record<string, string> = {
  "ovh-eu": "https://eu.api.ovh.com/createToken/",
  "ovh-ca": "https://ca.api.ovh.com/createToken/",
  "ovh-us": "https://api.us.ovhcloud.com/createToken/",
};

/** The createToken page pre-filled with the rules (one METHOD=path query parameter per rule). */
export function createTokenUrl(endpoint: string, rules: AccessRule[]): string | undefined {
  const base = CREATE_TOKEN[endpoint];
  return base && `${base}?${rules.map((r) => `${r.method}=${r.path}`).join("&")}`;
}

/**
 * The rules that reach beyond the campus zone: any path not under /domain/zone/{zone}/ (a `*` before
 * the zone name counts as beyond, since it matches other zones), except the zone list and the self-check.
 */
export function rulesBeyondZone(rules: AccessRule[], zone: string): AccessRule[] {
  const prefix = `/domain/zone/${zone}/`;
  const allowed = (r: AccessRule) =>
    (r.method === ZONE_LIST.method && r.path === ZONE_LIST.path) ||
    (r.method === SELF_CHECK.method && r.path === SELF_CHECK.path) ||
    r.path.startsWith(prefix) ||
    r.path === prefix.slice(0, -1);
  return rules.filter((r) => !allowed(r));
}
