import { z } from "zod";
import { backupProblems } from "../backup/backupConfig";
import { installerPinProblems, lineOsProblems, resolveInstallerPin, type ResolvedInstallerPin } from "../bbb/installerPin";
import {
  BBB_LINES,
  missingFamilies,
  OPTION_FAMILIES,
  SERVER_PRESETS,
  type CloudFlavorPreset,
  type DedicatedPreset,
  type HostPreset,
  type OptionFamily,
} from "./presets";
import { placementOf, placementProblems, siteOf } from "../planning/sites";
import { issueMessage, knownKeysAt, unknownKeysMessage, valueAt } from "./messages";
import { backupSchema, campusSchema, type CampusConfig, type HostConfig } from "./schema";
import type { ScaleliteNodeState } from "../scalelite/renderServersYaml";

/** One problem in a stack's configuration: where it is and what was expected. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Thrown before any resource is registered; carries every problem found, not just the first. */
export class CampusConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `invalid campus configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n")}`,
    );
    this.name = "CampusConfigError";
  }
}

/** Which secret config keys are set (their values are never needed to validate). */
export interface SecretPresence {
  sshPrivateKey: boolean;
  turnSecret: boolean;
  dnsCredentials: boolean;
  /** bbb-ovh:moodleSshPrivateKey, the key the Moodle host trusts (needed with campus.moodle.ssh). */
  moodleSshPrivateKey?: boolean;
  /** bbb-ovh:backupS3Credentials (campus.backup.target s3); unknown when not given. */
  backupS3Credentials?: boolean;
  /** bbb-ovh:smtpPassword, the alert mail login's password (campus.monitoring.smtp.username). */
  smtpPassword?: boolean;
}

export interface HostSpec {
  cores: number;
  ramGb: number;
  bandwidthMbps?: number;
}

/** What every resolved host has, whatever its kind. */
interface ResolvedHostBase {
  /** The standby front is a front too (same firewall, same preflight); campus.standbyFront says which. */
  role: "front" | "node";
  name: string;
  fqdn: string;
  /** The FQDN relative to the DNS zone, as OVH zone records want it. */
  subdomain: string;
  /** Where the host runs: OVH datacenter, Public Cloud region (lowercase) or a school's own label. */
  datacenter: string;
  /** The physical site (gra and GRA11 are both gravelines); undefined for an unknown cloud region. */
  site?: string;
  spec?: HostSpec;
  /** Scalelite fields, nodes only. */
  loadMultiplier: number;
  /**
   * Scalelite server tag, only when the stack sets one: Scalelite places a create without
   * `meta_server-tag` (what Moodle and Greenlight send) on untagged servers only (docs/scalelite.md).
   */
  tag?: string;
  /** The Scalelite state the stack declares for a node; unset: the operator's (campus.nodes[].state). */
  scaleliteState?: ScaleliteNodeState;
}

type HostConfigOf<K extends HostConfig["kind"]> = Extract<HostConfig, { kind: K }>;

/**
 * A validated host, by kind: `kind` narrows its config and its preset together (a dedicated host's
 * preset is a DedicatedPreset, an existing host has none), so components need no re-check or cast.
 */
export type ResolvedHost = ResolvedHostBase &
  (
    | { kind: "dedicated"; config: HostConfigOf<"dedicated">; preset?: DedicatedPreset }
    | { kind: "publicCloud"; config: HostConfigOf<"publicCloud">; preset?: CloudFlavorPreset }
    | { kind: "existing"; config: HostConfigOf<"existing">; preset?: undefined }
  );

export type HostRole = ResolvedHost["role"];

/** A resolved host of one kind, and of one role where the caller knows it (a front of any kind). */
export type ResolvedHostOf<K extends ResolvedHost["kind"], R extends HostRole = HostRole> = Extract<ResolvedHost, { kind: K }> & { role: R };

/** A BigBlueButton node: campus.nodes resolved. */
export type ResolvedNode = ResolvedHost & { role: "node" };
/** A Scalelite front: campus.front or campus.standbyFront resolved. */
export type ResolvedFront = ResolvedHost & { role: "front" };

export interface Campus {
  config: CampusConfig;
  front: ResolvedFront;
  /** The standby front (campus.standbyFront), in another physical site than the front. */
  standbyFront?: ResolvedFront;
  nodes: ResolvedNode[];
  presets: Record<string, HostPreset>;
  installerBranch: string;
  /** The bbb-install.sh every node runs: the stack's pin or the line's default. */
  installer: ResolvedInstallerPin;
  ubuntuRelease: string;
}

const SECRET_KEYS: Record<keyof SecretPresence, string> = {
  sshPrivateKey: "bbb-ovh:sshPrivateKey",
  turnSecret: "bbb-ovh:turnSecret",
  dnsCredentials: "bbb-ovh:dnsCredentials",
  moodleSshPrivateKey: "bbb-ovh:moodleSshPrivateKey",
  backupS3Credentials: "bbb-ovh:backupS3Credentials",
  smtpPassword: "bbb-ovh:smtpPassword",
};

function pathOf(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : `${acc}.${String(part)}`), "campus");
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  if (issue.code === "unrecognized_keys") return unknownKeysMessage(issue.keys, knownKeysAt(campusSchema, raw, issue.path));
  // zod leaves the input out of its issues: what was found is read from the stack's own value.
  const found = valueAt(raw, issue.path);
  return issueMessage(issue, found);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * Rules that span several fields. They read the raw input defensively so that they still report
 * alongside structural errors: a user fixing a stack file sees everything in one pass.
 */
function crossFieldProblems(raw: unknown, secrets: SecretPresence): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!isRecord(raw)) return problems;
  // A zone that is itself wrong (say a final dot) is reported once, not again for every host name.
  const givenZone = isRecord(raw.dns) ? str(raw.dns.zone) : undefined;
  const zone = campusSchema.shape.dns.shape.zone.safeParse(givenZone).success ? givenZone : undefined;
  const stackPresets = isRecord(raw.presets) ? (raw.presets as Record<string, HostPreset>) : {};
  const presets = { ...SERVER_PRESETS, ...stackPresets };
  const hosts: Array<[string, unknown]> = [["campus.front", raw.front]];
  if (raw.standbyFront !== undefined) hosts.push(["campus.standbyFront", raw.standbyFront]);
  if (Array.isArray(raw.nodes)) raw.nodes.forEach((n, i) => hosts.push([`campus.nodes[${i}]`, n]));

  const seenNames = new Map<string, string>();
  const seenFqdns = new Map<string, string>();
  for (const [path, host] of hosts) {
    if (!isRecord(host)) continue;
    const hostName = str(host.name);
    if (hostName !== undefined) {
      const first = seenNames.get(hostName);
      if (first) problems.push({ path: `${path}.name`, message: `duplicate host name '${hostName}' (also ${first}.name); names must be unique` });
      else seenNames.set(hostName, path);
    }
    const hostFqdn = str(host.fqdn);
    if (hostFqdn !== undefined) {
      const first = seenFqdns.get(hostFqdn);
      if (first) problems.push({ path: `${path}.fqdn`, message: `duplicate FQDN '${hostFqdn}' (also ${first}.fqdn); FQDNs must be unique` });
      else seenFqdns.set(hostFqdn, path);
      if (zone && !(hostFqdn.endsWith(`.${zone}`) && hostFqdn.length > zone.length + 1)) {
        problems.push({ path: `${path}.fqdn`, message: `'${hostFqdn}' is not inside the DNS zone '${zone}'; expected a name ending in .${zone}` });
      }
    }
    problems.push(...hostModelProblems(path, host, presets, stackPresets));
    problems.push(...placementProblems(path, rawPlacement(host), str(host.subsidiary) ?? "FR"));
  }
  for (const [presetName, preset] of Object.entries(stackPresets)) problems.push(...presetOptionProblems(`campus.presets.${presetName}.planOptions`, preset));
  if (givenZone && isRecord(raw.turn) && raw.turn.mode === "external" && !secrets.turnSecret) {
    problems.push({ path: SECRET_KEYS.turnSecret, message: "is required when campus.turn.mode is external (pulumi config set --secret turnSecret ...)" });
  }
  if (isRecord(raw.certificates) && raw.certificates.challenge === "dns-01" && !secrets.dnsCredentials) {
    problems.push({
      path: SECRET_KEYS.dnsCredentials,
      message: "is required for DNS-01 certificates: a secret object {endpoint, applicationKey, applicationSecret, consumerKey}",
    });
  }
  const kinds = hosts.map(([, h]) => (isRecord(h) ? h.kind : undefined));
  const keyless = hosts.filter(([, h]) => isRecord(h) && (h.kind === "existing" || adoptedAsIs(h))).map(([p]) => p);
  if (keyless.length > 0 && !secrets.sshPrivateKey) {
    problems.push({
      path: SECRET_KEYS.sshPrivateKey,
      message: `is required when a host is of kind existing or an adopted dedicated server without installOs (${keyless.join(", ")}): the private key those hosts already trust, as nothing installs ours there (pulumi config set --secret sshPrivateKey < key)`,
    });
  }
  if (kinds.includes("publicCloud") && !isRecord(raw.publicCloud)) {
    problems.push({ path: "campus.publicCloud", message: "is required when a host is of kind publicCloud: {projectId}" });
  }
  if (isRecord(raw.moodle) && isRecord(raw.moodle.ssh) && !secrets.moodleSshPrivateKey) {
    problems.push({
      path: SECRET_KEYS.moodleSshPrivateKey,
      message:
        "is required when campus.moodle.ssh is set: the private key that moodle.ssh.user on the Moodle host already trusts (pulumi config set --secret moodleSshPrivateKey < key); the deploy key made during `pulumi up` is not in its authorized_keys",
    });
  }
  // Scalelite places a create without meta_server-tag (Moodle's) on untagged servers only (docs/scalelite.md).
  const nodes = Array.isArray(raw.nodes) ? raw.nodes : [];
  if (isRecord(raw.moodle) && nodes.length > 0 && nodes.every((n) => isRecord(n) && str(n.tag) !== undefined)) {
    problems.push({
      path: "campus.nodes",
      message:
        "every node has a Scalelite tag, but Moodle sends no meta_server-tag and Scalelite places such meetings on untagged nodes only: leave at least one node without tag",
    });
  }
  // The line as the schema reads it (its default when unset); a wrong one is reported by the schema alone.
  const line = campusSchema.shape.bbbVersion.safeParse(raw.bbbVersion);
  if (line.success) {
    const given = isRecord(raw.bbb) && isRecord(raw.bbb.installer) ? raw.bbb.installer : undefined;
    problems.push(...installerPinProblems(line.data, given));
    const withImage = hosts.filter((entry): entry is [string, Record<string, unknown>] => isRecord(entry[1]));
    problems.push(...lineOsProblems(line.data, withImage, isRecord(raw.nodeImage) ? raw.nodeImage.nameRegex : undefined));
  }
  problems.push(...backupProblems(raw, secrets.backupS3Credentials));
  const monitoring = isRecord(raw.monitoring) ? raw.monitoring : {};
  if (monitoring.enabled !== false && isRecord(monitoring.smtp) && monitoring.smtp.username !== undefined && secrets.smtpPassword === false) {
    problems.push({
      path: SECRET_KEYS.smtpPassword,
      message: "is required when campus.monitoring.smtp.username is set: the SMTP login's password (pulumi config set --secret smtpPassword VALUE)",
    });
  }
  problems.push(...standbySiteProblems(raw.front, raw.standbyFront));
  if (raw.servingFront === "standbyFront" && raw.standbyFront === undefined)
    problems.push({
      path: "campus.servingFront",
      message: "is standbyFront, but the campus has no campus.standbyFront: the front is the only one that can serve",
    });
  if (raw.rebuildFront === true && raw.servingFront !== "standbyFront")
    problems.push({
      path: "campus.rebuildFront",
      message:
        "is true, but campus.servingFront is not standbyFront: a front is rebuilt only while the standby front serves (after `ops failover`), or its new, empty Scalelite would take the front's name",
    });
  if (isRecord(raw.moodle) && raw.moodle.acceptDpa === true && !isRecord(raw.moodle.ssh)) {
    problems.push({ path: "campus.moodle.acceptDpa", message: "needs campus.moodle.ssh: the setting is applied on the Moodle host" });
  }
  return problems;
}

/** Where a raw host says it is, read defensively (see crossFieldProblems). */
function rawPlacement(host: Record<string, unknown>) {
  return placementOf({ kind: str(host.kind) ?? "", datacenter: str(host.datacenter), region: str(host.region), location: str(host.location) });
}

/** A standby in the front's own site burns with it: it must be in another physical site. */
function standbySiteProblems(front: unknown, standby: unknown): ConfigProblem[] {
  if (!isRecord(front) || !isRecord(standby)) return [];
  const [frontPlace, standbyPlace] = [rawPlacement(front), rawPlacement(standby)];
  const [frontSite, standbySite] = [siteOf(frontPlace), siteOf(standbyPlace)];
  const label = (p: typeof frontPlace) => (p.kind === "dedicated" ? p.datacenter : p.kind === "publicCloud" ? p.region : p.location);
  if (frontSite === undefined || frontSite !== standbySite) return [];
  return [
    {
      path: "campus.standbyFront",
      message: `is in ${frontSite} (${label(standbyPlace)}), the front's own site (${label(frontPlace)}): a fire or a network cut there takes both; put the standby in another physical site (for example ${frontSite === "strasbourg" ? "GRA11 or rbx" : "SBG5 or sbg"})`,
    },
  ];
}

function hostModelProblems(
  path: string,
  host: Record<string, unknown>,
  presets: Record<string, HostPreset>,
  stackPresets: Record<string, unknown>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const known = (kind: HostPreset["kind"]) =>
    Object.keys(presets)
      .filter((k) => presets[k]?.kind === kind)
      .join(", ");
  if (host.kind === "dedicated") {
    const chosen = ["model", "planCode", "serviceName"].filter((k) => host[k] !== undefined);
    if (chosen.length === 0)
      problems.push({
        path,
        message: "a dedicated host needs model (a preset, built-in or under campus.presets, to order) or serviceName (to adopt a server you own)",
      });
    if (host.installOs === false && host.serviceName === undefined)
      problems.push({ path: `${path}.installOs`, message: "an ordered server always gets its OS installed; installOs: false only applies with serviceName" });
    if (adoptedAsIs(host) && host.sshUser === undefined) {
      problems.push({
        path: `${path}.sshUser`,
        message: "is required when adopting a server without installOs (serviceName without installOs: true): the user bbb-ovh:sshPrivateKey logs in as",
      });
    }
    if (!adoptedAsIs(host) && host.sshUser !== undefined) {
      problems.push({
        path: `${path}.sshUser`,
        message: "only applies to a server adopted without installOs; an installed server is reached as ubuntu with the deploy key",
      });
    }
    if (!adoptedAsIs(host) && host.hostKey !== undefined) {
      problems.push({
        path: `${path}.hostKey`,
        message: "only applies to a server adopted without installOs; an installed server gets a host key generated by bbb-ovh, pinned from the start",
      });
    }
    const orders = host.serviceName === undefined;
    if (orders && host.planCode !== undefined && host.model === undefined) {
      problems.push({
        path: `${path}.planCode`,
        message: `a bare planCode orders without the mandatory options (${OPTION_FAMILIES.join(", ")}); define the plan under campus.presets with its planOptions and name it in model`,
      });
    }
    if (host.model !== undefined && host.planCode !== undefined) problems.push({ path: `${path}.planCode`, message: "give model or planCode, not both" });
    const model = str(host.model);
    if (model !== undefined && presets[model]?.kind !== "dedicated") {
      problems.push({
        path: `${path}.model`,
        message: `unknown dedicated model '${model}'; expected one of ${known("dedicated")} or an entry under campus.presets`,
      });
    } else if (model !== undefined && orders && !Object.hasOwn(stackPresets, model)) {
      // Stack-defined presets are checked where they are defined (presetOptionProblems).
      problems.push(...presetOptionProblems(`${path}.model`, presets[model]));
    }
  }
  if (host.kind === "publicCloud") {
    const flavor = str(host.flavor) ?? "c2-60";
    if (!Object.values(presets).some((p) => p.kind === "publicCloud" && p.flavor === flavor)) {
      problems.push({
        path: `${path}.flavor`,
        message: `unknown flavor '${flavor}'; expected one of ${known("publicCloud")} or an entry under campus.presets`,
      });
    }
  }
  return problems;
}

/** A server adopted by serviceName whose OS is not reinstalled: nothing installs our keys on it. */
function adoptedAsIs(host: Record<string, unknown>): boolean {
  return host.kind === "dedicated" && host.serviceName !== undefined && host.installOs !== true;
}

/** A dedicated preset must order every option family the catalogue marks mandatory for its plan. */
function presetOptionProblems(path: string, preset: unknown): ConfigProblem[] {
  if (!isRecord(preset) || preset.kind !== "dedicated") return [];
  const options = Array.isArray(preset.planOptions) ? preset.planOptions.filter((o): o is string => typeof o === "string") : [];
  const mandatory = Array.isArray(preset.mandatoryFamilies) ? (preset.mandatoryFamilies as OptionFamily[]) : [...OPTION_FAMILIES];
  const missing = missingFamilies(options, mandatory);
  if (missing.length === 0) return [];
  const plan = str(preset.planCode) ?? "its plan";
  return [
    {
      path,
      message: `orders ${plan} without the mandatory option famil${missing.length === 1 ? "y" : "ies"} ${missing.join(", ")}: add their plan codes to planOptions (ovh.order.getCartProductOptions lists the families marked mandatory, see docs/hosts.md)`,
    },
  ];
}

function resolveHost<R extends HostRole>(role: R, host: HostConfig, campus: CampusConfig, presets: Record<string, HostPreset>): ResolvedHost & { role: R } {
  const nodeFields = "loadMultiplier" in host ? host : undefined;
  const base = {
    role,
    name: host.name,
    fqdn: host.fqdn,
    subdomain: host.fqdn.slice(0, -(campus.dns.zone.length + 1)),
    site: siteOf(placementOf(host)),
    loadMultiplier: nodeFields?.loadMultiplier ?? 1,
    tag: nodeFields?.tag,
    scaleliteState: nodeFields?.state,
  };
  const specOf = (preset: HostPreset | undefined): HostSpec | undefined =>
    preset && { cores: preset.cores, ramGb: preset.ramGb, bandwidthMbps: preset.bandwidthMbps };
  switch (host.kind) {
    case "dedicated": {
      const found = host.model ? presets[host.model] : undefined;
      const preset = found?.kind === "dedicated" ? found : undefined;
      return { ...base, kind: "dedicated", config: host, preset, datacenter: host.datacenter, spec: specOf(preset) };
    }
    case "publicCloud": {
      const preset = Object.values(presets).find((p): p is CloudFlavorPreset => p.kind === "publicCloud" && p.flavor === host.flavor);
      return { ...base, kind: "publicCloud", config: host, preset, datacenter: host.region.toLowerCase(), spec: specOf(preset) };
    }
    case "existing":
      return {
        ...base,
        kind: "existing",
        config: host,
        datacenter: host.location,
        spec: host.cores && host.ramGb ? { cores: host.cores, ramGb: host.ramGb } : undefined,
      };
  }
}

/**
 * A term that has already ended: the voucher check and the estimate would count months that are over.
 * Compared with the UTC date of `now`, which the caller gives (the program and the plan: the real clock).
 */
function termProblems(raw: unknown, now: Date): ConfigProblem[] {
  const end = isRecord(raw) && isRecord(raw.term) ? str(raw.term.end) : undefined;
  if (end === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(end)) return [];
  const today = now.toISOString().slice(0, 10);
  if (end >= today) return [];
  return [
    {
      path: "campus.term.end",
      message: `${end} is in the past (today is ${today}, UTC): set the last day of the coming term (YYYY-MM-DD), or remove campus.term`,
    },
  ];
}

/**
 * Validates a raw `bbb-ovh:campus` object and resolves presets and derived names.
 * Pure: the Pulumi program and the offline plan both go through here before anything is created.
 * `now` is the clock the date rules read (campus.term.end must not be past); without it they are
 * not checked (tests of other rules, `ops`, which must still run on a stack after its term).
 */
export function parseCampus(raw: unknown, secrets: SecretPresence, now?: Date): Campus {
  const parsed = campusSchema.safeParse(raw);
  const problems: ConfigProblem[] = parsed.success ? [] : parsed.error.issues.map((i) => ({ path: pathOf(i.path), message: describeIssue(i, raw) }));
  problems.push(...crossFieldProblems(raw, secrets));
  if (now) problems.push(...termProblems(raw, now));
  if (raw === undefined) problems.splice(0, problems.length, { path: "bbb-ovh:campus", message: "is required: the campus object of the stack file" });
  if (!parsed.success || problems.length > 0) throw new CampusConfigError(dedupe(problems));

  const config = parsed.data;
  // Recordings are backed up by default where the program can create the bucket (docs/backups.md).
  if (config.backup === undefined && config.recordings && config.publicCloud) config.backup = backupSchema.parse({});
  const presets = { ...SERVER_PRESETS, ...(config.presets as Record<string, HostPreset>) };
  const line = BBB_LINES[config.bbbVersion];
  const installer = resolveInstallerPin(config.bbbVersion, config.bbb?.installer);
  // installerPinProblems refused a line without a pin above.
  if (!installer) throw new Error(`no bbb-install pin for ${config.bbbVersion}`);
  return {
    config,
    front: resolveHost("front", config.front, config, presets),
    standbyFront: config.standbyFront && resolveHost("front", config.standbyFront, config, presets),
    nodes: config.nodes.map((n) => resolveHost("node", n, config, presets)),
    presets,
    installerBranch: line.installerBranch,
    installer,
    ubuntuRelease: line.ubuntu,
  };
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\0${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** bbb-ovh:grafanaAdminPassword is optional (campus.monitoring.grafana generates one without it), so it is no SecretPresence. */
export const CONFIG_KEYS = { campus: "bbb-ovh:campus", grafanaAdminPassword: "bbb-ovh:grafanaAdminPassword", ...SECRET_KEYS } as const;
export type { CampusInput, CampusConfig } from "./schema";
