import type ovhClient from "@ovhcloud/node-ovh";
import { OpsError } from "./errors";

/**
 * The OVH API, through OVH's own Node client (@ovhcloud/node-ovh: it signs application-key requests
 * with "$1$" + SHA1(secret+consumer+method+URL+body+timestamp) after reading the server's clock at
 * /auth/time, and fetches OAuth2 tokens for service accounts). Credentials are read from the
 * environment under the names the OVH Pulumi provider reads, so one set serves `pulumi up` and ops.
 */
export interface OvhApi {
  /** Where calls go, for messages. */
  readonly label: string;
  call<T = unknown>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, params?: Record<string, unknown>): Promise<T>;
}

const ENDPOINTS = ["ovh-eu", "ovh-ca", "ovh-us"] as const;

/**
 * A client from OVH_ENDPOINT + (OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY) or
 * (OVH_CLIENT_ID, OVH_CLIENT_SECRET). OVH_API_URL (a full URL such as https://eu.api.ovh.com/1.0)
 * replaces the endpoint for private endpoints and tests; OAuth2 tokens then come from its origin's /auth/.
 */
export function ovhApiFromEnv(env: NodeJS.ProcessEnv = process.env): OvhApi {
  const problems: string[] = [];
  const appKey = env.OVH_APPLICATION_KEY;
  const appSecret = env.OVH_APPLICATION_SECRET;
  const consumerKey = env.OVH_CONSUMER_KEY;
  const clientID = env.OVH_CLIENT_ID;
  const clientSecret = env.OVH_CLIENT_SECRET;
  const byKeys = !!(appKey || appSecret || consumerKey);
  const byOAuth = !!(clientID || clientSecret);
  if (byKeys && byOAuth) problems.push("set either OVH_APPLICATION_KEY/OVH_APPLICATION_SECRET/OVH_CONSUMER_KEY or OVH_CLIENT_ID/OVH_CLIENT_SECRET, not both");
  else if (byKeys && !(appKey && appSecret && consumerKey))
    problems.push("application keys need all of OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET and OVH_CONSUMER_KEY");
  else if (byOAuth && !(clientID && clientSecret)) problems.push("OAuth2 needs both OVH_CLIENT_ID and OVH_CLIENT_SECRET");
  else if (!byKeys && !byOAuth)
    problems.push(
      "no OVH API credentials: set OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY (or OVH_CLIENT_ID, OVH_CLIENT_SECRET), as for `pulumi up`",
    );
  const endpoint = env.OVH_ENDPOINT ?? "ovh-eu";
  let place: { endpoint: string } | { host: string; port: number; basePath: string; tokenURL: string };
  if (env.OVH_API_URL) {
    let url: URL | undefined;
    try {
      url = new URL(env.OVH_API_URL);
    } catch {
      problems.push(`OVH_API_URL '${env.OVH_API_URL}' is not a URL such as https://eu.api.ovh.com/1.0`);
    }
    if (url && url.protocol !== "https:") problems.push(`OVH_API_URL must be https:// (the OVH client speaks HTTPS only), got '${env.OVH_API_URL}'`);
    place = url
      ? { host: url.hostname, port: Number(url.port || 443), basePath: url.pathname.replace(/\/$/, "") || "/1.0", tokenURL: `${url.origin}/auth/` }
      : { endpoint };
  } else {
    if (!(ENDPOINTS as readonly string[]).includes(endpoint)) problems.push(`OVH_ENDPOINT '${endpoint}' is not one of ${ENDPOINTS.join(", ")}`);
    place = { endpoint };
  }
  if (problems.length > 0) throw new OpsError("config", "OVH API", problems.join("; "));
  const label = "endpoint" in place ? `OVH API (${place.endpoint})` : `OVH API (${env.OVH_API_URL})`;
  // The client library is loaded at the first call: it is the heaviest part of `ops`'s start-up otherwise.
  let client: ReturnType<typeof ovhClient> | undefined;
  const connect = async () =>
    (client ??= (await import("@ovhcloud/node-ovh")).default({
      ...place,
      ...(byKeys ? { appKey, appSecret, consumerKey } : { clientID, clientSecret }),
      timeout: 30_000,
    }));
  return {
    label,
    async call<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, params?: Record<string, unknown>): Promise<T> {
      try {
        // The client deletes keys it substitutes into the path: give it a copy.
        return (await (await connect()).requestPromised(method, path, params ? { ...params } : undefined)) as T;
      } catch (e) {
        throw apiError(label, method, path, e);
      }
    },
  };
}

/** The API's answer to a failed call, with the call that failed; never the request body (codes are secrets). */
function apiError(label: string, method: string, path: string, e: unknown): OpsError {
  const { error, message } = (e ?? {}) as { error?: unknown; message?: unknown };
  const status = typeof error === "number" ? error : undefined;
  const text = typeof message === "string" && message ? message : typeof error === "string" ? error : JSON.stringify(e);
  const call = `${method} ${path}`;
  // The API answers a wrong application secret with 400 "Invalid signature", not 401.
  if (status === 401 || status === 403 || /invalid signature/i.test(text))
    return new OpsError("api-auth", label, `${call}: HTTP ${status}: ${text} (check the OVH credentials and the consumer key's rights)`);
  if (status === undefined) return new OpsError("tcp", label, `${call}: ${text}`);
  return new OpsError("api", label, `${call}: HTTP ${status}: ${text}`);
}
