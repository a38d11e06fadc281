/**
 * An OVH API peer on loopback, written from OVH's API documentation, for the voucher and schedule
 * commands. It models:
 * - application-key signing (docs "First steps with the OVHcloud APIs"): headers X-Ovh-Application,
 *   X-Ovh-Consumer, X-Ovh-Timestamp, X-Ovh-Signature = "$1$" + sha1_hex(AS+"+"+CK+"+"+METHOD+"+"+URL+"+"+
 *   BODY+"+"+TS), URL being the full https URL with the query; clients read the server's clock from
 *   GET /auth/time first. A wrong signature answers 400 INVALID_SIGNATURE, an unknown application key
 *   403 INVALID_KEY, a timestamp far from the server's clock 400 (the API refuses stale queries).
 *   @ovhcloud/node-ovh signs "https://" + host + path without the port: on 443 that is the real URL,
 *   here the peer rebuilds the URL the same way.
 * - OAuth2 client credentials (docs "Managing OVHcloud service accounts via the API"): POST
 *   /auth/oauth2/token gives a Bearer token.
 * - the calls of cli/ops/voucher.ts and schedule.ts with the shapes of the API typings (cloud.Credit,
 *   me.credit.Balance, cloud.Usage.*, cloud.instance.Instance, domain.zone.Record), with state.
 * - GET /auth/currentCredential (API schema /auth, type auth.Credential: credentialId, applicationId,
 *   creation, expiration, lastUse, ovhSupport, rules[] of {method, path}, status): the calling consumer
 *   key's own credential and access rules, for `ops status --dns-key-file`. The peer does not enforce
 *   the rules; it only reports them.
 * - the node image builder's calls (cli/ops/imageBuild.ts), paths and fields as OVH's own callers make them:
 *   ovh/ovhcloud-cli (internal/services/cloud: cloud_reference.go lists GET .../flavor?region= and
 *   .../image?region=&osType=; cloud_instance.go creates through POST .../region/{regionName}/instance and
 *   waits on GET .../operation/{id} (utils.go), stops through POST .../instance/{id}/stop, snapshots through
 *   POST .../instance/{id}/snapshot {snapshotName}) and OVH's Terraform provider (ovh/terraform-provider-ovh:
 *   resource_cloud_project_instance.go creates through the same regional call and operation,
 *   resource_cloud_project_instance_snapshot the same snapshot call): see route().
 *   An instance is BUILD when created and ACTIVE from the next read (a boot), ACTIVE at the read after a stop and
 *   SHUTOFF from the next; a snapshot goes queued -> saving ->
 *   active (Glance's image statuses), one step each time the snapshots are listed.
 * Error wordings for vouchers are the peer's (the API's exact texts are not documented); the tool
 * shows whatever the API says, so only the status codes matter to it.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { selfSignedCert } from "./selfSignedCert";

interface Money {
  value: number;
  currencyCode: "EUR";
  text: string;
}
const eur = (value: number): Money => ({ value, currencyCode: "EUR", text: `${value.toFixed(2)} €` });

export interface PeerVoucher {
  amount: number;
  /** ISO date the credit stops being valid. */
  validTo: string;
  used?: boolean;
  expired?: boolean;
}

export interface PeerInstance {
  id: string;
  name: string;
  status: string;
  monthlyBilling: null | { since: string; status: "ok" };
  ip: string;
  /** Knob: the address the instance comes back with after unshelve (default: the same). */
  ipAfterUnshelve?: string;
  /** The region (default GRA11), flavor and image it was created with. */
  region?: string;
  /** Set by POST .../stop: ACTIVE (powering off) at the next read, SHUTOFF from the one after. */
  stopping?: boolean;
  flavorId?: string;
  imageId?: string;
}

/** cloud.flavor.Flavor / cloud.image.Image: the fields the builder reads. */
export interface PeerCatalogItem {
  id: string;
  name: string;
  region: string;
  status?: string;
  /** A snapshot's: the status its instance had when it was taken (not in the API's answer). */
  instanceStatus?: string;
}

export interface PeerState {
  appKey: string;
  appSecret: string;
  consumerKey: string;
  clientId: string;
  clientSecret: string;
  /** Seconds the peer's clock is ahead of this machine's. */
  clockSkew: number;
  vouchers: Map<string, PeerVoucher>;
  credits: Array<{ id: number; description?: string; voucher: string; available: number; used: number; total: number; validFrom: string; validTo: string }>;
  accountBalances: Array<{ name: string; amount: number; expiring: Array<{ amount: number; date: string }> }>;
  /** Knob: a 403 on /me/* (a consumer key without /me rights). */
  meForbidden: boolean;
  /** Knob: a 403 on the project's flavor list (a key restricted to the schedule's calls). */
  flavorForbidden?: boolean;
  /** Knob: a 403 on the project's credit and usage (a key restricted to the schedule's calls, docs/vouchers.md). */
  creditForbidden: boolean;
  usage: { periodFrom: string; spent: number; forecast: number };
  instances: PeerInstance[];
  records: Array<{ id: number; zone: string; subDomain: string; fieldType: string; target: string; ttl?: number }>;
  /** The access rules the consumer key was granted (auth.Credential.rules). */
  credentialRules: Array<{ method: "GET" | "POST" | "PUT" | "DELETE"; path: string }>;
  /** Every call that passed authentication: "METHOD /path". */
  calls: string[];
  /** The project's flavors and images (the line's Ubuntu), per region, and its instance snapshots. */
  flavors: PeerCatalogItem[];
  images: PeerCatalogItem[];
  snapshots: PeerCatalogItem[];
  /** Knob: called with each instance created and its body (userData...) before the API answers: a test "boots" it. */
  onInstanceCreate?: (instance: PeerInstance, body: Record<string, unknown>) => void;
  /** The IPv4 a created instance gets (default 198.51.100.200). */
  newInstanceIp: string;
  /** Knob: while set, a stopped instance stays ACTIVE (powering off) instead of reaching SHUTOFF. */
  holdStopping?: boolean;
  /** cloud.Operation of each instance creation; knob: while holdOperations is set, they stay in progress. */
  operations: Array<{
    id: string;
    action: string;
    status: string;
    regions: string[];
    resourceId: string | null;
    subOperations: Array<{ action: string; resourceId: string }>;
  }>;
  holdOperations?: boolean;
}

export interface OvhApiPeer {
  url: string;
  /** PEM of the peer's self-signed certificate: give it to clients as NODE_EXTRA_CA_CERTS. */
  caFile: string;
  state: PeerState;
  close(): Promise<void>;
}

const nowSeconds = (skew: number) => Math.round(Date.now() / 1000) + skew;

/**
 * The groups of a usage document (cloud.usage.UsageCurrent / UsageForecast) adding up to `total`, in
 * the schema's shape: each group carries its own `totalPrice` and so do its parts (hourly instances'
 * `details[]`, storage's `stored`/`outgoingBandwidth`, snapshots' `instance`, resourcesUsage's
 * `resources[].components[]`). Shapes from the API schema as typed in OVH's own console (github.com/
 * ovh/manager, packages/manager/apps/pci-ai-notebooks/src/types/cloud/billingView/: HourlyResources,
 * HourlyInstance, HourlyStorage, StoredStorage, HourlySnapshot, MonthlyResources, TypedResources,
 * RegionalizedResource, Component; cloud/usage/UsageForecast).
 */
function usageGroups(total: number) {
  const cents = (n: number) => Math.round(n * 100) / 100;
  const part = (share: number) => cents(total * share);
  /** `whole` cut in two parts that add up to it to the cent. */
  const split = (whole: number, share: number) => [cents(whole * share), cents(whole - cents(whole * share))];
  const instances = part(0.6);
  const storage = part(0.1);
  const snapshot = part(0.05);
  const monthly = part(0.2);
  const resources = cents(total - instances - storage - snapshot - monthly);
  const [inst1, inst2] = split(instances, 0.6);
  const [stored, outgoing] = split(storage, 0.8);
  const hours = (value: number) => ({ unit: "Hour", value });
  const gibh = (value: number) => ({ unit: "GiBh", value });
  return {
    hourlyUsage: {
      instance: [
        {
          reference: "c3-8",
          region: "GRA11",
          totalPrice: instances,
          quantity: hours(200),
          details: [
            { instanceId: "inst-1", quantity: hours(120), totalPrice: inst1 },
            { instanceId: "inst-2", quantity: hours(80), totalPrice: inst2 },
          ],
        },
      ],
      storage: [
        {
          bucketName: "bbb-backup",
          region: "GRA",
          type: "pca",
          totalPrice: storage,
          stored: { quantity: gibh(50_000), totalPrice: stored },
          outgoingBandwidth: { quantity: { unit: "GiB", value: 10 }, totalPrice: outgoing },
        },
      ],
      snapshot: [{ region: "GRA11", totalPrice: snapshot, instance: { quantity: gibh(20_000), totalPrice: snapshot } }],
      volume: [],
      instanceBandwidth: [],
      instanceOption: [],
    },
    monthlyUsage: {
      instance: [
        {
          reference: "b3-16",
          region: "GRA11",
          totalPrice: monthly,
          details: [{ instanceId: "front-1", activation: "2026-01-01T00:00:00Z", totalPrice: monthly }],
        },
      ],
      instanceOption: [],
      certification: [],
    },
    resourcesUsage: [
      {
        type: "floatingip",
        totalPrice: resources,
        resources: [{ region: "GRA11", components: [{ name: "floatingip", quantity: hours(200), totalPrice: resources }] }],
      },
    ],
  };
}

export async function startOvhApiPeer(serviceName: string, init: Partial<PeerState> = {}): Promise<OvhApiPeer> {
  const dir = mkdtempSync(path.join(tmpdir(), "ovh-peer-"));
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  selfSignedCert({ key, cert });
  const state: PeerState = {
    appKey: randomBytes(8).toString("hex"),
    appSecret: randomBytes(16).toString("hex"),
    consumerKey: randomBytes(16).toString("hex"),
    clientId: randomBytes(8).toString("hex"),
    clientSecret: randomBytes(16).toString("hex"),
    clockSkew: 0,
    vouchers: new Map(),
    credits: [],
    accountBalances: [],
    meForbidden: false,
    creditForbidden: false,
    usage: { periodFrom: new Date(Date.now() - 10 * 86_400_000).toISOString(), spent: 0, forecast: 0 },
    instances: [],
    records: [],
    credentialRules: [
      { method: "GET", path: "/*" },
      { method: "POST", path: "/*" },
      { method: "PUT", path: "/*" },
      { method: "DELETE", path: "/*" },
    ],
    calls: [],
    flavors: [],
    images: [],
    snapshots: [],
    operations: [],
    newInstanceIp: "198.51.100.200",
    ...init,
  };
  const tokens = new Set<string>();

  const creditDoc = (c: PeerState["credits"][number]) => ({
    id: c.id,
    description: c.description,
    voucher: c.voucher,
    available_credit: eur(c.available),
    used_credit: eur(c.used),
    total_credit: eur(c.total),
    validity: { from: c.validFrom, to: c.validTo },
    products: ["cloud"],
  });
  const instanceDoc = (i: PeerInstance) => ({
    id: i.id,
    name: i.name,
    status: i.status,
    monthlyBilling: i.monthlyBilling,
    ipAddresses: [{ ip: i.ip, type: "public", version: 4, networkId: "ext-net", gatewayIp: null }],
    region: i.region ?? "GRA11",
    ...(i.flavorId ? { flavorId: i.flavorId } : {}),
  });

  type Answer = { status: number; body?: unknown };
  const error = (status: number, errorCode: string, message: string): Answer => ({ status, body: { errorCode, httpCode: `${status}`, message } });

  function authenticate(req: { method: string; url: string; headers: Record<string, string | string[] | undefined> }, body: string): Answer | undefined {
    const auth = req.headers.authorization;
    if (typeof auth === "string" && auth.startsWith("Bearer "))
      return tokens.has(auth.slice(7)) ? undefined : error(401, "INVALID_CREDENTIAL", "This credential is not valid");
    const h = (name: string) => String(req.headers[name] ?? "");
    if (h("x-ovh-application") !== state.appKey) return error(403, "INVALID_KEY", "This application key is invalid");
    if (h("x-ovh-consumer") !== state.consumerKey) return error(403, "INVALID_CREDENTIAL", "This credential does not exist");
    const ts = Number(h("x-ovh-timestamp"));
    const expected = `$1$${createHash("sha1")
      .update([state.appSecret, state.consumerKey, req.method, `https://127.0.0.1${req.url}`, body, h("x-ovh-timestamp")].join("+"))
      .digest("hex")}`;
    if (h("x-ovh-signature") !== expected) return error(400, "INVALID_SIGNATURE", "Invalid signature");
    if (!Number.isFinite(ts) || Math.abs(ts - nowSeconds(state.clockSkew)) > 180) return error(400, "QUERY_TIME_OUT", "Query out of time");
    return undefined;
  }

  function route(method: string, url: URL, payload: Record<string, unknown>): Answer {
    const p = url.pathname.replace(/^\/1\.0/, "");
    const project = `/cloud/project/${serviceName}`;
    let m: RegExpExecArray | null;
    const redeem = (code: string): Answer | PeerVoucher => {
      const v = state.vouchers.get(code);
      if (!v) return error(404, "NOT_FOUND", `The voucher ${code.slice(0, 2)}… does not exist`);
      if (v.used) return error(400, "VOUCHER_ALREADY_USED", "This voucher has already been used");
      if (v.expired) return error(400, "VOUCHER_EXPIRED", "This voucher has expired");
      v.used = true;
      return v;
    };
    if (p.startsWith("/me/") && state.meForbidden) return error(403, "NOT_GRANTED_CALL", "This call has not been granted");
    if (/^\/cloud\/project\/[^/]+\/(credit|usage)(\/|$)/.test(p) && state.creditForbidden)
      return error(403, "NOT_GRANTED_CALL", "This call has not been granted");
    if (/^\/cloud\/project\/[^/]+\/flavor$/.test(p) && state.flavorForbidden) return error(403, "NOT_GRANTED_CALL", "This call has not been granted");
    if (method === "POST" && p === `${project}/credit`) {
      const v = redeem(String(payload.code ?? ""));
      if ("status" in v) return v;
      // cloud.Credit's `voucher` is the code that was redeemed.
      const credit = {
        id: 1000 + state.credits.length,
        voucher: String(payload.code),
        available: v.amount,
        used: 0,
        total: v.amount,
        validFrom: new Date().toISOString(),
        validTo: v.validTo,
      };
      state.credits.push(credit);
      // POST /cloud/project/{serviceName}/credit is typed `void` in the API schema: it answers nothing.
      return { status: 200, body: null };
    }
    if (method === "GET" && p === `${project}/credit`) return { status: 200, body: state.credits.map((c) => c.id) };
    if (method === "GET" && (m = new RegExp(`^${project}/credit/(\\d+)$`).exec(p))) {
      const c = state.credits.find((x) => x.id === Number(m![1]));
      return c ? { status: 200, body: creditDoc(c) } : error(404, "NOT_FOUND", "Credit not found");
    }
    if (method === "POST" && p === "/me/credit/code") {
      const v = redeem(String(payload.inputCode ?? ""));
      if ("status" in v) return v;
      state.accountBalances.push({ name: `VOUCHER-${state.accountBalances.length + 1}`, amount: v.amount, expiring: [{ amount: v.amount, date: v.validTo }] });
      return { status: 200, body: { amount: eur(v.amount), balanceName: state.accountBalances.at(-1)!.name, creationDate: new Date().toISOString() } };
    }
    if (method === "GET" && p === "/me/credit/balance")
      return { status: 200, body: url.searchParams.get("type") === "VOUCHER" ? state.accountBalances.map((b) => b.name) : [] };
    if (method === "GET" && (m = /^\/me\/credit\/balance\/([^/]+)$/.exec(p))) {
      const b = state.accountBalances.find((x) => x.name === decodeURIComponent(m![1]));
      return b
        ? {
            status: 200,
            body: {
              balanceName: b.name,
              amount: eur(b.amount),
              type: "VOUCHER",
              expiring: b.expiring.map((e) => ({ amount: eur(e.amount), expirationDate: e.date })),
            },
          }
        : error(404, "NOT_FOUND", "Balance not found");
    }
    if (method === "GET" && p === `${project}/usage/current`) {
      return {
        status: 200,
        body: {
          period: { from: state.usage.periodFrom, to: new Date().toISOString() },
          lastUpdate: new Date().toISOString(),
          ...usageGroups(state.usage.spent),
        },
      };
    }
    if (method === "GET" && p === `${project}/usage/forecast`) {
      const usable = state.credits.reduce((s, c) => s + c.available, 0);
      return {
        status: 200,
        body: {
          period: { from: state.usage.periodFrom, to: new Date().toISOString() },
          lastUpdate: new Date().toISOString(),
          ...usageGroups(state.usage.forecast),
          usableCredits: { totalCredit: eur(usable), details: [] },
        },
      };
    }
    // GET /cloud/project/{serviceName}/instance?region= -> cloud.instance.Instance[] (region optional).
    if (method === "GET" && p === `${project}/instance`)
      return {
        status: 200,
        body: state.instances.filter((i) => !url.searchParams.get("region") || (i.region ?? "GRA11") === url.searchParams.get("region")).map(instanceDoc),
      };
    // GET .../flavor?region= -> cloud.flavor.Flavor[]; GET .../image?region=&osType= -> cloud.image.Image[];
    // GET .../snapshot?region= -> cloud.image.Image[] (the project's instance snapshots).
    if (method === "GET" && (m = new RegExp(`^${project}/(flavor|image|snapshot)$`).exec(p))) {
      const region = url.searchParams.get("region");
      const items = m[1] === "flavor" ? state.flavors : m[1] === "image" ? state.images : state.snapshots;
      const body = items.filter((x) => !region || x.region === region).map((x) => ({ ...x }));
      // A snapshot is saved in the background: one status further (queued, saving, active) at each listing.
      if (m[1] === "snapshot")
        for (const x of state.snapshots)
          if (x.status === "queued") x.status = "saving";
          else if (x.status === "saving") x.status = "active";
      return { status: 200, body };
    }
    // POST /cloud/project/{serviceName}/region/{regionName}/instance {name, flavor: {id}, bootFrom: {imageId},
    // network: {public}, userData?, billingPeriod?} -> cloud.Operation (ovhcloud-cli's CreateInstance requires
    // name, flavor, bootFrom and network); an unknown flavor or image in that region is a 400. The instance
    // shows (BUILD) at once; the operation completes at its second read and names the instance in its
    // sub-operation "instance#create" (resourceId null), one of the two places both OVH tools look.
    if (method === "POST" && (m = new RegExp(`^${project}/region/([^/]+)/instance$`).exec(p))) {
      const region = m[1];
      const field = (o: unknown, k: string) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined);
      const flavorId = field(payload.flavor, "id");
      const imageId = field(payload.bootFrom, "imageId");
      const problems = [
        typeof payload.name !== "string" && "name",
        typeof flavorId !== "string" && "flavor.id",
        typeof imageId !== "string" && "bootFrom.imageId",
        typeof payload.network !== "object" && "network",
      ].filter(Boolean);
      if (problems.length > 0) return error(400, "BAD_REQUEST", `Missing parameter(s): ${problems.join(", ")}`);
      if (!state.flavors.some((f) => f.id === flavorId && f.region === region))
        return error(400, "BAD_REQUEST", `Flavor ${String(flavorId)} not found in ${region}`);
      if (!state.images.some((i) => i.id === imageId && i.region === region))
        return error(400, "BAD_REQUEST", `Image ${String(imageId)} not found in ${region}`);
      const instance: PeerInstance = {
        id: `inst-${randomBytes(4).toString("hex")}`,
        name: String(payload.name),
        status: "BUILD",
        monthlyBilling: null,
        ip: state.newInstanceIp,
        region,
        flavorId: String(flavorId),
        imageId: String(imageId),
      };
      state.instances.push(instance);
      state.onInstanceCreate?.(instance, payload);
      const operation = {
        id: `op-${randomBytes(4).toString("hex")}`,
        action: "instance#create",
        status: "created",
        regions: [region],
        resourceId: null,
        subOperations: [{ action: "instance#create", resourceId: instance.id }],
      };
      state.operations.push(operation);
      return { status: 200, body: { ...operation } };
    }
    // GET /cloud/project/{serviceName}/operation/{operationId} -> cloud.Operation (status created,
    // in-progress, completed or in-error, as the tools above test it).
    if (method === "GET" && (m = new RegExp(`^${project}/operation/([^/]+)$`).exec(p))) {
      const op = state.operations.find((x) => x.id === m![1]);
      if (!op) return error(404, "NOT_FOUND", "Operation not found");
      const body = { ...op };
      if (!state.holdOperations) op.status = op.status === "created" ? "in-progress" : "completed";
      return { status: 200, body };
    }
    // GET /cloud/project/{serviceName}/instance/{instanceId} -> cloud.instance.InstanceDetail;
    // DELETE -> void; POST .../snapshot {snapshotName} -> void (the snapshot then shows in GET .../snapshot).
    if ((m = new RegExp(`^${project}/instance/([^/]+)(/snapshot)?$`).exec(p))) {
      const i = state.instances.find((x) => x.id === m![1]);
      if (!i) return error(404, "NOT_FOUND", "Instance not found");
      if (method === "GET" && !m[2]) {
        const doc = instanceDoc(i);
        if (i.status === "BUILD") i.status = "ACTIVE";
        if (i.stopping && !state.holdStopping) [i.status, i.stopping] = ["SHUTOFF", false];
        return { status: 200, body: doc };
      }
      if (method === "DELETE" && !m[2]) {
        state.instances = state.instances.filter((x) => x !== i);
        return { status: 200, body: null };
      }
      if (method === "POST" && m[2]) {
        if (typeof payload.snapshotName !== "string" || !payload.snapshotName) return error(400, "BAD_REQUEST", "Missing parameter(s): snapshotName");
        state.snapshots.push({
          id: `snap-${randomBytes(4).toString("hex")}`,
          name: payload.snapshotName,
          region: i.region ?? "GRA11",
          status: "queued",
          instanceStatus: i.status,
        });
        return { status: 200, body: null };
      }
    }
    // POST /cloud/project/{serviceName}/instance/{instanceId}/stop, no body -> void (the API console's /cloud
    // section; ovh/ovhcloud-cli's `cloud instance stop` calls it, internal/services/cloud/cloud_instance.go):
    // OpenStack's os-stop, which answers 409 to an instance not ACTIVE or already powering off (Nova API
    // reference, "Stop Server (os-stop Action)"); the instance is SHUTOFF once Nova has shut it down.
    if (method === "POST" && (m = new RegExp(`^${project}/instance/([^/]+)/stop$`).exec(p))) {
      const i = state.instances.find((x) => x.id === m![1]);
      if (!i) return error(404, "NOT_FOUND", "Instance not found");
      if (i.status !== "ACTIVE" || i.stopping) return error(409, "CONFLICT", `Cannot 'stop' instance while it is in status ${i.status}`);
      i.stopping = true;
      return { status: 200, body: null };
    }
    if (method === "POST" && (m = new RegExp(`^${project}/instance/([^/]+)/(shelve|unshelve)$`).exec(p))) {
      const i = state.instances.find((x) => x.id === m![1]);
      if (!i) return error(404, "NOT_FOUND", "Instance not found");
      if (m[2] === "shelve") {
        if (i.status !== "ACTIVE") return error(409, "CONFLICT", `Cannot shelve an instance in status ${i.status}`);
        i.status = "SHELVED_OFFLOADED";
      } else {
        if (!/^SHELVED/.test(i.status)) return error(409, "CONFLICT", `Cannot unshelve an instance in status ${i.status}`);
        i.status = "ACTIVE";
        if (i.ipAfterUnshelve) i.ip = i.ipAfterUnshelve;
      }
      return { status: 200, body: null };
    }
    // The DNS zone calls of schedule/scale (a node's new address) and failover (the front's name), as the API
    // schema of /domain (https://eu.api.ovh.com/console/, "domain" section) types them:
    // GET /domain/zone/{zoneName}/record?fieldType=&subDomain= -> long[] (record ids, filters optional);
    // GET /domain/zone/{zoneName}/record/{id} -> domain.zone.Record {id, zone, subDomain, fieldType, target, ttl};
    // PUT /domain/zone/{zoneName}/record/{id} with domain.zone.Record fields (subDomain, target, ttl) -> void;
    // POST /domain/zone/{zoneName}/refresh -> void (applies the zone's changes to its DNS servers);
    // POST /domain/zone/{zoneName}/record with {fieldType, subDomain, target, ttl} -> the new domain.zone.Record;
    // DELETE /domain/zone/{zoneName}/record/{id} -> void (the same calls as the ovh provider's
    // ovh_domain_zone_record create and delete, github.com/ovh/terraform-provider-ovh, which Pulumi's ovh wraps).
    if ((m = /^\/domain\/zone\/([^/]+)\/record(?:\/(\d+))?$/.exec(p))) {
      const zone = m[1];
      if (method === "POST" && !m[2]) {
        if (typeof payload.fieldType !== "string" || typeof payload.target !== "string")
          return error(400, "BAD_REQUEST", "Missing parameter(s): fieldType, target");
        const created = {
          id: Math.max(0, ...state.records.map((x) => x.id)) + 1,
          zone,
          subDomain: typeof payload.subDomain === "string" ? payload.subDomain : "",
          fieldType: payload.fieldType,
          target: payload.target,
          ...(typeof payload.ttl === "number" ? { ttl: payload.ttl } : {}),
        };
        state.records.push(created);
        return { status: 200, body: created };
      }
      if (method === "GET" && !m[2]) {
        const sub = url.searchParams.get("subDomain");
        const type = url.searchParams.get("fieldType");
        return {
          status: 200,
          body: state.records
            .filter((r) => r.zone === zone && (sub === null || r.subDomain === sub) && (type === null || r.fieldType === type))
            .map((r) => r.id),
        };
      }
      const r = state.records.find((x) => x.zone === zone && x.id === Number(m![2]));
      if (!r) return error(404, "NOT_FOUND", "Record not found");
      if (method === "PUT") {
        // subDomain too: the ovh provider's record update sends it (ovh/resource_domain_zone_record.go).
        if (typeof payload.subDomain === "string") r.subDomain = payload.subDomain;
        if (typeof payload.target === "string") r.target = payload.target;
        if (typeof payload.ttl === "number") r.ttl = payload.ttl;
        return { status: 200, body: null };
      }
      if (method === "DELETE") {
        state.records.splice(state.records.indexOf(r), 1);
        return { status: 200, body: null };
      }
      return { status: 200, body: r };
    }
    if (method === "POST" && /^\/domain\/zone\/[^/]+\/refresh$/.test(p)) return { status: 200, body: null };
    if (method === "GET" && p === "/auth/currentCredential")
      return {
        status: 200,
        body: {
          credentialId: 4242,
          applicationId: 1717,
          creation: "2026-09-01T10:00:00+02:00",
          expiration: null,
          lastUse: new Date().toISOString(),
          ovhSupport: false,
          rules: state.credentialRules,
          status: "validated",
        },
      };
    return error(404, "NOT_FOUND", `Got an invalid (or empty) URL: ${method} ${p}`);
  }

  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "https://127.0.0.1");
      let answer: Answer;
      if (req.method === "GET" && url.pathname === "/1.0/auth/time") answer = { status: 200, body: nowSeconds(state.clockSkew) };
      else if (req.method === "POST" && url.pathname === "/auth/oauth2/token") {
        const form = new URLSearchParams(body);
        const basic = String(req.headers.authorization ?? "").replace(/^Basic /, "");
        const [id, secret] = basic
          ? Buffer.from(basic, "base64").toString().split(":").map(decodeURIComponent)
          : [form.get("client_id"), form.get("client_secret")];
        if (form.get("grant_type") !== "client_credentials" || id !== state.clientId || secret !== state.clientSecret)
          answer = { status: 401, body: { error: "invalid_client" } };
        else {
          const token = randomBytes(16).toString("hex");
          tokens.add(token);
          answer = { status: 200, body: { access_token: token, token_type: "Bearer", expires_in: 3600, scope: "all" } };
        }
      } else {
        answer =
          authenticate({ method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers }, body) ??
          (() => {
            state.calls.push(`${req.method} ${url.pathname.replace(/^\/1\.0/, "")}`);
            return route(req.method ?? "GET", url, body ? (JSON.parse(body) as Record<string, unknown>) : {});
          })();
      }
      const text = answer.body === undefined || answer.body === null ? "null" : JSON.stringify(answer.body);
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}/1.0`,
    caFile: cert,
    state,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
