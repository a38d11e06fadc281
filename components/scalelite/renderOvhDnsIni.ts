/** OVH API credentials for certbot's dns-ovh plugin (the stack's dnsCredentials secret object). */
export interface OvhDnsCredentials {
  endpoint: string;
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
}

const FIELDS: Array<[keyof OvhDnsCredentials, string]> = [
  ["endpoint", "dns_ovh_endpoint"],
  ["applicationKey", "dns_ovh_application_key"],
  ["applicationSecret", "dns_ovh_application_secret"],
  ["consumerKey", "dns_ovh_consumer_key"],
];

/**
 * The credentials file certbot-dns-ovh reads (`--dns-ovh-credentials`, one `key = value` per line).
 * Checks the object without ever quoting a value in an error: they are secrets.
 */
export function renderOvhDnsIni(credentials: Record<string, unknown>): string {
  const problems: string[] = [];
  for (const [field] of FIELDS) {
    const value = credentials[field];
    if (typeof value !== "string" || !/^[A-Za-z0-9._-]+$/.test(value)) problems.push(`${field} is missing or not a plain token`);
  }
  const unknown = Object.keys(credentials).filter((key) => !FIELDS.some(([field]) => field === key));
  if (unknown.length > 0) problems.push(`unknown key${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`);
  if (problems.length > 0)
    throw new Error(`bbb-ovh:dnsCredentials: ${problems.join("; ")}; expected {endpoint, applicationKey, applicationSecret, consumerKey}`);
  return FIELDS.map(([field, key]) => `${key} = ${credentials[field] as string}\n`).join("");
}

/**
 * The credentials back from such a file (the front's /etc/bbb-ovh/certbot-dns-ovh.ini), for `ops status`
 * to ask the API what the key may do. Errors name the missing keys, never a value.
 */
export function parseOvhDnsIni(text: string): OvhDnsCredentials {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*([a-z_]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (m) values.set(m[1], m[2]);
  }
  const missing = FIELDS.filter(([, key]) => !values.has(key)).map(([, key]) => key);
  if (missing.length > 0) throw new Error(`the certbot-dns-ovh credentials file lacks ${missing.join(", ")}`);
  return Object.fromEntries(FIELDS.map(([field, key]) => [field, values.get(key)])) as unknown as OvhDnsCredentials;
}
