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
