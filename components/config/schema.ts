import { isIP } from "node:net";
import { z } from "zod";
import { DEFAULT_FAILOVER, FAILOVER_POLICIES } from "../planning/failover";
import { timetableProblems, WEEKDAYS } from "../schedule/timetable";
import { BBB_LINES, DEFAULT_SSH_PORT, OPTION_FAMILIES } from "./presets";
import { SCALELITE_NODE_STATES } from "../scalelite/renderServersYaml";
import { sshPublicKeyLine } from "./sshPublicKeyLine";
import { sshPublicKeyProblem } from "./sshPublicKey";
import { SCALING_DEFAULTS } from "../scaling/defaults";

/** OVH dedicated-server datacenters (configuration label `dedicated_datacenter`). */
export const DEDICATED_DATACENTERS = ["sbg", "rbx", "gra", "bhs", "waw", "lim", "eri", "fra", "sgp", "syd", "ynm", "vin", "hil"] as const;
/** OVH subsidiaries that can order dedicated servers. */
export const OVH_SUBSIDIARIES = [
  "FR",
  "GB",
  "DE",
  "ES",
  "IT",
  "PL",
  "PT",
  "NL",
  "IE",
  "FI",
  "CZ",
  "LT",
  "MA",
  "SN",
  "TN",
  "CA",
  "QC",
  "US",
  "WE",
  "WS",
  "ASIA",
  "AU",
  "SG",
  "IN",
] as const;

const hostLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const dnsName = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
export { sshPublicKeyLine };

/** An OpenSSH public key line of that shape that `ssh-keygen -l` also reads (components/config/sshPublicKey.ts). */
const sshPublicKey = (shape: string) =>
  z
    .string()
    .regex(sshPublicKeyLine, `expected ${shape}`)
    .superRefine((line, ctx) => {
      // Only a line of the right shape: a wrong shape has its message already.
      const problem = sshPublicKeyLine.test(line) ? sshPublicKeyProblem(line) : undefined;
      if (problem) ctx.addIssue({ code: "custom", message: `${problem}; expected ${shape}` });
    });
const hostKeyLine = sshPublicKey("the host key as an OpenSSH public key line (ssh-keyscan -t ed25519 HOST)");

/** Accepts `a.b.c.d/n` (n <= 32) and IPv6 `x::/n` (n <= 128). */
export function isCidr(value: string): boolean {
  const [addr, prefix, ...rest] = value.split("/");
  if (rest.length > 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  const family = isIP(addr);
  return family !== 0 && Number(prefix) <= (family === 4 ? 32 : 128);
}

const hhmm = /^([01]\d|2[0-3]):[0-5]\d$/;
const isoDate = z.iso.date("expected a date YYYY-MM-DD");

const name = z.string().regex(hostLabel, "expected a lowercase host label: letters, digits and '-', at most 63 characters");
const fqdn = z.string().regex(dnsName, "expected a lowercase fully-qualified domain name such as bbb1.example.org");
/** The DNS zone as OVH names it (example.org): a final dot, as zone files write names, gets its own message. */
const dnsZone = z
  .string()
  .refine((v) => !v.endsWith("."), "ends with a dot: write the zone without its final '.', as OVH names zones (example.org)")
  .pipe(fqdn);
const unixUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "expected a Unix user name");

const dedicated = z.strictObject({
  kind: z.literal("dedicated"),
  model: z.string().optional(),
  planCode: z.string().min(1).optional(),
  serviceName: z.string().min(1).optional(),
  /** Reinstall the OS. Always on for ordered servers; off by default when adopting one (it wipes it). */
  installOs: z.boolean().optional(),
  /** Adopted without installOs: the user the operator key (bbb-ovh:sshPrivateKey) logs in as. */
  sshUser: unixUser.optional(),
  /** Adopted without installOs: the server's SSH host key; without it the key is recorded on first contact and pinned. */
  hostKey: hostKeyLine.optional(),
  subsidiary: z.enum(OVH_SUBSIDIARIES).default("FR"),
  datacenter: z.enum(DEDICATED_DATACENTERS),
});

const publicCloud = z.strictObject({
  kind: z.literal("publicCloud"),
  region: z.string().regex(/^[A-Z]{2,4}[0-9]{0,2}(-[A-Z0-9-]+)?$/, "expected an OpenStack region such as SBG5 or GRA11"),
  flavor: z.string().default("c2-60"),
  image: z.string().min(1).optional(),
});

const existing = z.strictObject({
  kind: z.literal("existing"),
  ipv4: z.string().refine((v) => isIP(v) === 4, "expected an IPv4 address"),
  ipv6: z
    .string()
    .refine((v) => isIP(v) === 6, "expected an IPv6 address")
    .optional(),
  sshUser: unixUser.default("root"),
  sshPort: z.number().int().min(1).max(65535).default(DEFAULT_SSH_PORT),
  location: z.string().regex(hostLabel, "expected a short label such as campus-dc").default("onsite"),
  /** The host's SSH public host key; without it the key is recorded on first contact and pinned. */
  hostKey: hostKeyLine.optional(),
  cores: z.number().int().positive().optional(),
  ramGb: z.number().positive().optional(),
});

const hostBase = { name, fqdn };
const nodeExtra = {
  loadMultiplier: z.number().positive("expected a load multiplier greater than 0").max(100).default(1),
  // Scalelite server tag. Unset (the default) for a node that takes every meeting: a create without
  // meta_server-tag, as Moodle and Greenlight send, only goes to untagged servers (docs/scalelite.md).
  tag: z
    .string()
    .regex(/^[a-zA-Z0-9_.-]+$/, "expected a Scalelite tag: letters, digits, '_', '.', '-'")
    .optional(),
  // Unset (the default): `pulumi up` keeps what an operator set in Scalelite (ops drain / undrain) and
  // enables a new node; set, the stack owns the node's state (docs/ops.md, maintenance).
  state: z.enum(SCALELITE_NODE_STATES).optional(),
};
const kindError = { error: "expected kind to be one of dedicated, publicCloud, existing" };

const frontHost = z.discriminatedUnion("kind", [dedicated.extend(hostBase), publicCloud.extend(hostBase), existing.extend(hostBase)], kindError);
const nodeHost = z.discriminatedUnion(
  "kind",
  [dedicated.extend({ ...hostBase, ...nodeExtra }), publicCloud.extend({ ...hostBase, ...nodeExtra }), existing.extend({ ...hostBase, ...nodeExtra })],
  kindError,
);

const presetOverride = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("dedicated"),
    planCode: z.string().min(1),
    range: z.enum(["standard", "eco"]).default("standard"),
    cores: z.number().int().positive(),
    threads: z.number().int().positive(),
    ramGb: z.number().positive(),
    bandwidthMbps: z.number().positive(),
    planOptions: z.array(z.string().min(1)).default([]),
    /** The option families the catalogue marks mandatory for the plan (getCartProductOptions). */
    mandatoryFamilies: z.array(z.enum(OPTION_FAMILIES)).default([...OPTION_FAMILIES]),
    source: z.string().min(1),
    checked: z.string().min(1),
  }),
  z.strictObject({
    kind: z.literal("publicCloud"),
    flavor: z.string().min(1),
    /** Physical cores: half the vCores OVH sells (a vCore is a hyperthread). */
    cores: z.number().int().positive(),
    threads: z.number().int().positive(),
    ramGb: z.number().positive(),
    diskGb: z.number().positive(),
    bandwidthMbps: z.number().positive(),
    source: z.string().min(1),
    checked: z.string().min(1),
  }),
]);

/** C0 controls (newline, tab, ...), DEL and C1 controls. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;
const shown = (c: string) => JSON.stringify(c).slice(1, -1);

/**
 * Every string of the stack must be one line without control characters: host steps read their
 * inputs as one KEY=VALUE line each, so a newline (say in moodle.dir) must be refused here, naming the
 * field, rather than when a step's stdin is written during `pulumi up`.
 */
function controlCharacterIssues(value: unknown, path: PropertyKey[], ctx: z.RefinementCtx): void {
  if (typeof value === "string") {
    const found = [...new Set(value.match(CONTROL_CHARACTERS) ?? [])];
    if (found.length > 0)
      ctx.addIssue({ code: "custom", path, message: `must be a single line without control characters (found ${found.map(shown).join(", ")})` });
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) controlCharacterIssues(v, [...path, Array.isArray(value) ? Number(k) : k], ctx);
  }
}
/**
 * Backups of the front's recordings and Scalelite database (docs/backups.md): to an OVH Object Storage
 * bucket the program creates (needs campus.publicCloud) or to any S3 endpoint (keys in the secret
 * bbb-ovh:backupS3Credentials). Redis is not backed up: the pool comes back from servers.yaml.
 */
export const backupSchema = z.strictObject({
  enabled: z.boolean().default(true),
  target: z.enum(["ovh", "s3"]).default("ovh"),
  /** OVH Object Storage region of the bucket; default: GRA, or SBG when the front is in Gravelines. */
  region: z
    .string()
    .regex(/^[A-Z]{2,4}(-[A-Z0-9]+)*$/, "expected an OVH Object Storage region such as GRA, SBG or DE")
    .optional(),
  s3: z
    .strictObject({
      endpoint: z.url().refine((u) => /^https?:\/\//.test(u), "expected an http(s) URL such as https://s3.example.org"),
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected an S3 bucket name: 3 to 63 lowercase letters, digits, '.', '-'"),
      region: z
        .string()
        .regex(/^[a-z0-9-]+$/, "expected an S3 region name such as us-east-1")
        .default("us-east-1"),
    })
    .optional(),
  /** A systemd OnCalendar expression, in the front's time zone (UTC on our servers). */
  schedule: z
    .string()
    .regex(/^[A-Za-z0-9:*,./~ -]+$/, "expected a systemd OnCalendar expression such as '*-*-* 03:15:00' or daily")
    .default("*-*-* 03:15:00"),
  retention: z
    .strictObject({
      daily: z.number().int().min(0).max(366).default(7),
      weekly: z.number().int().min(0).max(520).default(5),
      monthly: z.number().int().min(0).max(120).default(12),
    })
    .refine((r) => r.daily + r.weekly + r.monthly > 0, "the retention must keep at least one snapshot")
    .default({ daily: 7, weekly: 5, monthly: 12 }),
  /** `ops status` fails when the last successful backup is older than this. */
  maxAgeHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 62)
    .default(26),
});

/** host:port of an SMTP server, as Alertmanager's smtp_smarthost takes it. */
const smarthost = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected host:port of an SMTP server such as smtp.example.org:587");

/**
 * Prometheus and Alertmanager on the front (and the standby front), node_exporter on every host
 * (docs/monitoring.md). Alerts go by mail to campus.adminEmail through `smtp`; its password is the
 * secret bbb-ovh:smtpPassword.
 */
export const monitoringSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** How long Prometheus keeps samples (--storage.tsdb.retention.time). */
  retentionDays: z.number().int().min(1).max(3650).default(30),
  /** The most disk Prometheus's samples may take, in GB (--storage.tsdb.retention.size): the oldest go first. */
  diskBudgetGb: z.number().int().min(1).max(10000).default(10),
  /** Where Alertmanager sends mail; without it alerts are only seen in `ops status` and the webhook. */
  smtp: z
    .strictObject({
      smarthost,
      from: z.email("expected the sender address of the alert mails"),
      /** The login; its password is the secret bbb-ovh:smtpPassword. Unset: the server takes mail without login. */
      username: z.string().min(1).optional(),
      /** STARTTLS required (Alertmanager's smtp_require_tls); only a server on a trusted network should go without. */
      requireTls: z.boolean().default(true),
    })
    .optional(),
  /** Also POSTs every alert here (Alertmanager's webhook_config), e.g. a chat bridge. */
  webhookUrl: z
    .url()
    .refine((u) => /^https?:\/\//.test(u), "expected an http(s) URL")
    .optional(),
  /**
   * A dead man's switch: each front's Alertmanager POSTs its always-firing Watchdog alert here every 5 minutes
   * (an outside check such as a healthchecks.io ping URL), and that service alerts when the posts stop: the
   * front, its Prometheus or its Alertmanager is down, which no alert of the front itself can say.
   */
  heartbeatUrl: z
    .url()
    .refine((u) => /^https?:\/\//.test(u), "expected an http(s) URL")
    .optional(),
  /**
   * Grafana with the four dashboards on the front and the standby front, https://<front>:3000/ for
   * campus.adminCidrs only (off by default); its admin password is the secret bbb-ovh:grafanaAdminPassword,
   * generated when not given.
   */
  grafana: z.boolean().default(false),
});

export const campusSchema = z
  .strictObject({
    id: name,
    label: z.string().min(1).max(120),
    dns: z.strictObject({
      zone: dnsZone,
      ttl: z.number().int().min(60).max(86400).default(300),
    }),
    adminEmail: z.email("expected an email address for Let's Encrypt"),
    sshPublicKeys: z.array(sshPublicKey("an OpenSSH public key line such as 'ssh-ed25519 AAAA... comment'")).min(1, "expected at least one SSH public key"),
    adminCidrs: z
      .array(z.string().refine(isCidr, "expected a CIDR such as 203.0.113.0/24 or 2001:db8::/32"))
      .min(1, "expected at least one admin CIDR allowed to SSH"),
    bbbVersion: z.enum(Object.keys(BBB_LINES) as [keyof typeof BBB_LINES]).default("jammy-300"),
    bbb: z
      .strictObject({
        /**
         * The bbb-install.sh the nodes run, instead of the project's default pin of the line (docs/nodes.md,
         * "The installer"): `tools/bbb-installer-pin.sh <checkout> <branch>` prints these fields. A changed
         * pin re-runs the install step on every node: roll it out with `ops upgrade`.
         */
        installer: z
          .strictObject({
            /** The line the pin was made for: must be bbbVersion. */
            line: z.enum(Object.keys(BBB_LINES) as [keyof typeof BBB_LINES]),
            commit: z.string().regex(/^[0-9a-f]{40}$/, "expected the full 40-character commit id of bbb-install (tools/bbb-installer-pin.sh prints it)"),
            sha256: z
              .string()
              .regex(/^[0-9a-f]{64}$/, "expected the sha256 of bbb-install.sh at that commit, 64 hex characters (tools/bbb-installer-pin.sh prints it)"),
            /** The commit's date; without it the plan cannot tell how old the pin is. */
            date: z
              .string()
              .regex(/^\d{4}-\d{2}-\d{2}$/, "expected the commit's date as YYYY-MM-DD")
              .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), "expected a real date")
              .optional(),
          })
          .optional(),
      })
      .optional(),
    turn: z
      .discriminatedUnion("mode", [z.strictObject({ mode: z.literal("builtin") }), z.strictObject({ mode: z.literal("external"), host: fqdn })])
      .default({ mode: "builtin" }),
    recordings: z.boolean().default(true),
    certificates: z.strictObject({ challenge: z.enum(["http-01", "dns-01"]).default("http-01") }).default({ challenge: "http-01" }),
    scalelite: z
      .strictObject({
        tag: z
          .string()
          .regex(/^v\d+\.\d+\.\d+$/, "expected a pinned Scalelite release such as v1.8.5 (never latest)")
          .default("v1.8.5"),
        pollIntervalSeconds: z.number().int().min(10).max(600).default(60),
        /** Scalelite's protected recordings: one-time playback links, so links cannot be shared (docs/front.md). */
        protectedRecordings: z.boolean().default(false),
      })
      .default({ tag: "v1.8.5", pollIntervalSeconds: 60, protectedRecordings: false }),
    /** What the nodes must survive at peak (components/planning/sizing.ts FAILOVER_POLICIES). */
    failover: z.enum(FAILOVER_POLICIES).default(DEFAULT_FAILOVER),
    expected: z.strictObject({
      concurrentUsers: z.number().int().positive().max(100000),
      classrooms: z.number().int().positive().max(10000),
    }),
    front: frontHost,
    /**
     * A second front in another physical site, kept ready to take over (docs/front.md "Standby front"):
     * its database streams from the front's, recordings are copied to it, `ops failover` promotes it.
     */
    standbyFront: frontHost.optional(),
    /**
     * Which front serves the front's name (docs/front.md, "A failover that lasts"): `standbyFront` after an
     * `ops failover` that will last, so that `pulumi up` keeps the name there, registers nodes there and
     * leaves the front as it is; `front` again after `ops failback`.
     */
    servingFront: z.enum(["front", "standbyFront"]).default("front"),
    /**
     * With servingFront: standbyFront, the server campus.front names is a new one (its datacenter burned, or
     * its disk is gone): its steps run again there, it records itself fenced so that Scalelite stays stopped,
     * and `ops failback` makes it the standby, then the front (docs/front.md, "Rebuilding the front").
     */
    rebuildFront: z.boolean().default(false),
    nodes: z.array(nodeHost).min(1, "expected at least one BigBlueButton node"),
    moodle: z
      .strictObject({
        ssh: z
          .strictObject({
            host: z.union([fqdn, z.string().refine((v) => isIP(v) !== 0, "expected a host name or IP address")]),
            user: z
              .string()
              .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "expected a Unix user name")
              .default("root"),
            port: z.number().int().min(1).max(65535).default(22),
            /** The Moodle host's SSH host key; without it the key is recorded on first contact and pinned. */
            hostKey: hostKeyLine.optional(),
          })
          .optional(),
        /** The web server user Moodle's PHP runs as (Moodle's CLI scripts must run as that user). */
        phpUser: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "expected a Unix user name such as www-data")
          .default("www-data"),
        dir: z
          .string()
          .regex(/^\/[^\0]*$/, "expected an absolute path to the Moodle directory")
          .default("/var/www/moodle"),
        checksumAlgorithm: z.enum(["SHA1", "SHA256", "SHA512"]).default("SHA256"),
        acceptDpa: z.boolean().default(false),
      })
      .optional(),
    publicCloud: z
      .strictObject({
        projectId: z.string().regex(/^[0-9a-f]{32}$/, "expected the 32-character Public Cloud project id"),
        authUrl: z.url().default("https://auth.cloud.ovh.net/v3/"),
        userDomain: z.string().default("Default"),
      })
      .optional(),
    presets: z.record(z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, "expected a preset name"), presetOverride).default({}),
    /** Price overrides for `npm run ops -- estimate`, by preset, flavor or plan code; each with its source. */
    prices: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, "expected a preset, flavor or plan code"),
        z
          .strictObject({
            monthlyEur: z.number().nonnegative().optional(),
            hourlyEur: z.number().nonnegative().optional(),
            source: z.string().min(1),
            date: z.string().min(1),
          })
          .refine((p) => p.monthlyEur !== undefined || p.hourlyEur !== undefined, "give monthlyEur or hourlyEur"),
      )
      .default({}),
    /** When the campus teaches: hourly-billed Public Cloud nodes sleep outside it (npm run ops -- schedule apply). */
    timetable: z
      .strictObject({
        timezone: z.string().min(1),
        slots: z
          .array(
            z.strictObject({
              days: z.array(z.enum(WEEKDAYS)).min(1, "expected at least one day such as mon"),
              from: z.string().regex(hhmm, "expected a local time HH:MM such as 08:00"),
              to: z.string().regex(hhmm, "expected a local time HH:MM such as 18:30"),
            }),
          )
          .min(1, "expected at least one teaching slot"),
        closed: z.array(z.union([isoDate, z.strictObject({ from: isoDate, to: isoDate })])).default([]),
        wakeBeforeMinutes: z.number().int().min(0).max(240).default(45),
        sleepAfterMinutes: z.number().int().min(0).max(240).default(60),
      })
      .superRefine((t, ctx) => {
        for (const p of timetableProblems(t))
          ctx.addIssue({
            code: "custom",
            path: p.path
              .split(/[.[\]]/)
              .filter(Boolean)
              .map((k) => (/^\d+$/.test(k) ? Number(k) : k)),
            message: p.message,
          });
      })
      .optional(),
    /**
     * Public Cloud nodes boot from a saved BigBlueButton image (docs/nodes.md, "A node image"): the most
     * recent image of each node's region whose name matches `nameRegex`.
     */
    nodeImage: z
      .strictObject({
        nameRegex: z
          .string()
          .min(1)
          .refine((r) => {
            try {
              new RegExp(r);
              return true;
            } catch {
              return false;
            }
          }, "expected a regular expression such as ^bbb-ovh-jammy-300-"),
      })
      .optional(),
    /** Capacity that follows the load (npm run ops -- scale): docs/scaling.md. */
    scaling: z
      .strictObject({
        /** Spare users kept on top of the current ones; default: one node's worth (the largest node). */
        marginUsers: z.number().int().min(0).max(100000).optional(),
        /** true: the margin too is carried with the failover policy's failure; false: the policy carries the users present, the margin is spare room. */
        marginUnderFailure: z.boolean().default(SCALING_DEFAULTS.marginUnderFailure),
        /** How long the pool must have more than it needs before a node is cordoned. */
        scaleDownAfterMinutes: z
          .number()
          .int()
          .min(5)
          .max(24 * 60)
          .default(SCALING_DEFAULTS.scaleDownAfterMinutes),
      })
      .optional(),
    /** The teaching term the OVH credit must last: `ops voucher status` fails when it runs out before `end`. */
    term: z.strictObject({ end: isoDate }).optional(),
    /** Default: on (target ovh) when the stack has publicCloud and keeps recordings; see parseCampus. */
    backup: backupSchema.optional(),
    monitoring: monitoringSchema.default(monitoringSchema.parse({})),
    protection: z
      .strictObject({
        /** Off by default: `pulumi destroy` then terminates paid servers. */
        allowTermination: z.boolean().default(false),
      })
      .default({ allowTermination: false }),
  })
  // `when`: also check when other fields fail, so every problem is reported at once.
  .superRefine((campus, ctx) => controlCharacterIssues(campus, [], ctx), { when: () => true });

export type CampusInput = z.input<typeof campusSchema>;
export type CampusConfig = z.output<typeof campusSchema>;
export type FrontHostConfig = CampusConfig["front"];
export type NodeHostConfig = CampusConfig["nodes"][number];
export type HostConfig = FrontHostConfig | NodeHostConfig;
