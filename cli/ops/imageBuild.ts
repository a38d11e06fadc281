import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Campus } from "../../components/config/campus";
import { renderCloudInit } from "../../components/hosts/cloudInit";
import { ed25519KeyPair } from "../../components/hosts/deployKey";
import { renderStepCommand, renderStepStdin } from "../../components/remote/invocation";
import { SCRIPTS_DIR } from "../../components/remote/scriptBundle";
import { OpsError } from "./errors";
import { builderStepInputs, HOST_STEPS, planRegion, type ImageBuildInput, type ImageStepId, type RegionBuild, type RegionFound } from "./imageBuildPlan";
import { publicIpv4, type Instance } from "./nodePower";
import type { OvhApi } from "./ovhApi";
import { runRemote, type SshTarget } from "./ssh";

/**
 * `ops image build`: the node image of docs/nodes.md ("A node image") made through the OVH API and over
 * SSH, one region at a time, from the steps cli/ops/imageBuildPlan.ts leaves to run. The builder is an
 * instance this command creates and names `bbb-ovh-builder-...`; its record (instance id, the host key
 * we gave it, the steps done) is kept in a local file so a re-run after a cut resumes it, and so an
 * instance of that name that this command did not create is never used nor deleted.
 */

/** Where the builder's scripts go: under the login user's home, as the Pulumi program puts a host's. */
const SCRIPT_DIR = "$HOME/.bbb-ovh/scripts";

export interface ImageBuildOptions {
  /** How the builder is logged into (the operator's key, among campus.sshPublicKeys). */
  ssh: Pick<SshTarget, "port" | "username" | "privateKey" | "agent" | "connectTimeoutMs">;
  /** Where builder records are kept. */
  stateDir: string;
  commandTimeoutMs: number;
  installTimeoutMs: number;
  /** Deadline of each wait (ACTIVE, SSH, the image), and the pause between two looks. */
  waitMs: number;
  pollMs: number;
  deleteOnFailure: boolean;
  onStep?: (line: string) => void;
}

export interface ImageStepRecord {
  id: ImageStepId;
  on: string;
  ok: boolean;
  ms: number;
  detail: string;
}

export interface RegionReport {
  region: string;
  builder: string;
  image: string;
  steps: ImageStepRecord[];
  ok: boolean;
  imageId?: string;
  /** Set when the builder is left behind: where it is and how to resume or remove it. */
  kept?: string;
  failure?: { step: ImageStepId; kind: string; message: string };
}

export interface ImageBuildReport {
  image: string;
  regions: RegionReport[];
  ok: boolean;
}

/** What this command knows of a builder it created; no secret (the host key's private half went into the user data only). */
interface BuilderRecord {
  /** Empty until OVH's create operation (`operationId`) has completed and named it. */
  instanceId: string;
  operationId?: string;
  region: string;
  hostKey: string;
  done: ImageStepId[];
  dnsRecordId?: number;
}

/** cloud.image.Image / cloud.instance.Instance fields read here (GET .../snapshot, .../flavor, .../image). */
interface NamedItem {
  id: string;
  name: string;
  region: string;
  status?: string;
}

/** cloud.Operation, as ovh/ovhcloud-cli and OVH's Terraform provider read it (GET /cloud/project/{serviceName}/operation/{id}). */
interface Operation {
  id: string;
  status: string;
  resourceId?: string | null;
  subOperations?: Array<{ action: string; resourceId?: string | null }>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function stateDirOf(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_STATE_HOME || path.join(env.HOME ?? "/", ".local/state"), "bbb-ovh/image-builders");
}

function recordStore(dir: string, builder: string) {
  const file = path.join(dir, `${builder}.json`);
  return {
    file,
    read: (): BuilderRecord | undefined => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as BuilderRecord) : undefined),
    write: (r: BuilderRecord) => {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(`${file}.new`, JSON.stringify(r, null, 2), { mode: 0o600 });
      execFileSync("mv", [`${file}.new`, file]);
    },
    remove: () => rmSync(file, { force: true }),
  };
}

/** The builder's records kept on this machine, for --dry-run (which asks no API). */
export function recordedSteps(dir: string, builder: string): RegionFound {
  const r = recordStore(dir, builder).read();
  return { done: r?.done ?? [], builder: r ? { id: r.instanceId, status: "?" } : undefined };
}

/** Waits for `check` to give a value, up to `waitMs`; `what` names it in the timeout. */
async function waitFor<T>(what: string, on: string, opts: ImageBuildOptions, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new OpsError("timeout", on, `${what} within ${Math.round(opts.waitMs / 1000)} s (--wait)`);
    await pause(opts.pollMs);
  }
}

export async function buildImages(campus: Campus, api: OvhApi, input: ImageBuildInput, opts: ImageBuildOptions): Promise<ImageBuildReport> {
  const report: ImageBuildReport = { image: input.builds[0]?.image ?? "", regions: [], ok: true };
  for (const build of input.builds) {
    const r = await buildRegion(campus, api, input, build, opts);
    report.regions.push(r);
    if (!r.ok) {
      report.ok = false;
      break; // the first failure stops: the next regions would fail the same way
    }
  }
  return report;
}

async function buildRegion(campus: Campus, api: OvhApi, input: ImageBuildInput, b: RegionBuild, opts: ImageBuildOptions): Promise<RegionReport> {
  const sn = input.serviceName;
  const zone = input.zone;
  const report: RegionReport = { region: b.region, builder: b.builder, image: b.image, steps: [], ok: false };
  const store = recordStore(opts.stateDir, b.builder);
  let record = store.read();
  // OVH creates an instance through an operation; both OVH tools read the instance's id from it once it has
  // completed: its resourceId, else its sub-operation "instance#create" (ovhcloud-cli's waitForCloudOperation,
  // internal/services/cloud/utils.go; the provider's waitForCloudProjectOperation, ovh/types_cloud.go).
  const createdInstance = (operationId: string) =>
    waitFor(`the creation of ${b.builder} (operation ${operationId}) has not completed`, b.builder, opts, async () => {
      const op = await api.call<Operation>("GET", `/cloud/project/${sn}/operation/${operationId}`);
      if (op.status === "in-error") {
        store.remove(); // nothing was made: the next run starts over
        throw new OpsError("api", b.builder, `OVH's creation of ${b.builder} (operation ${operationId}) ended in error`);
      }
      if (op.status !== "completed") return undefined;
      const id = op.resourceId ?? op.subOperations?.find((x) => x.action === "instance#create")?.resourceId;
      if (!id) throw new OpsError("api", b.builder, `operation ${operationId} completed without naming the instance`);
      return id;
    });
  if (record && !record.instanceId && record.operationId) {
    // A run cut while OVH was creating the builder: the instance is ours once the operation names it.
    record.instanceId = await createdInstance(record.operationId);
    store.write(record);
  }

  const instances = (await api.call<Array<Instance & { region?: string }>>("GET", `/cloud/project/${sn}/instance`, { region: b.region })).filter(
    (i) => i.name === b.builder && (i.region === undefined || i.region === b.region),
  );
  const foreign = instances.find((i) => i.id !== record?.instanceId);
  if (foreign)
    throw new OpsError(
      "config",
      b.builder,
      `an instance named ${b.builder} (${foreign.id}) exists that this command did not create (no record of it in ${store.file}): it is never used nor deleted; rename or delete it yourself, then run again`,
    );
  const ours = instances.find((i) => i.id === record?.instanceId);
  if (record && !ours && !record.done.includes("snapshot")) {
    // Our builder is gone (deleted by hand): start over.
    store.remove();
    record = undefined;
  }
  const snapshots = async () =>
    (await api.call<NamedItem[]>("GET", `/cloud/project/${sn}/snapshot`, { region: b.region })).find((s) => s.name === b.image && s.region === b.region);
  const image = await snapshots();
  const steps = planRegion(
    b,
    { builder: ours && { id: ours.id, status: ours.status }, image: image && { id: image.id, status: image.status ?? "?" }, done: record?.done ?? [] },
    zone,
  );
  opts.onStep?.(`${b.region}: ${steps.length} step(s): ${steps.map((s) => s.id).join(", ") || "nothing to do"}`);

  let ipv4: string | undefined = ours ? publicIpv4(ours) : undefined;
  let hostKey = record?.hostKey;
  const ssh = (): SshTarget => ({ ...opts.ssh, host: ipv4!, hostKey });
  const sudo = opts.ssh.username !== "root";
  const asRoot = (command: string) => (sudo ? `sudo -n sh -c '${command.replace(/'/g, `'\\''`)}'` : command);
  const remote = async (command: string, timeoutMs: number, stdin?: string) => {
    const res = await runRemote(ssh(), command, timeoutMs, stdin);
    if (res.code !== 0)
      throw new OpsError("command", b.builder, (res.stderr.trim() || res.stdout.trim()).split("\n").slice(-3).join(" / ") || `exit status ${res.code}`);
    return res.stdout.trim();
  };
  const done = (id: ImageStepId) => {
    if (record && !record.done.includes(id)) record.done.push(id);
    if (record) store.write(record);
  };
  const sharedSecret = randomBytes(24).toString("hex");

  const act: Record<ImageStepId, () => Promise<string>> = {
    "create-builder": async () => {
      const flavors = await api.call<NamedItem[]>("GET", `/cloud/project/${sn}/flavor`, { region: b.region });
      const flavor = flavors.find((f) => f.name === b.flavor && f.region === b.region);
      const images = await api.call<NamedItem[]>("GET", `/cloud/project/${sn}/image`, { region: b.region, osType: "linux" });
      const ubuntu = images.find((i) => i.name === b.ubuntuImage && i.region === b.region);
      const missing = [!flavor && `flavor ${b.flavor}`, !ubuntu && `image '${b.ubuntuImage}'`].filter(Boolean);
      if (missing.length > 0) throw new OpsError("api", b.region, `the project offers no ${missing.join(" and no ")} in ${b.region}`);
      const key = ed25519KeyPair(`host@${b.builderFqdn}`);
      const userData = renderCloudInit({
        hostname: b.builder,
        fqdn: b.builderFqdn,
        authorizedKeys: campus.config.sshPublicKeys,
        hostKey: { privateOpenssh: key.private, publicOpenssh: key.public },
      });
      // POST /cloud/project/{serviceName}/region/{regionName}/instance -> cloud.Operation, with the fields
      // ovh/ovhcloud-cli's `cloud instance create` sends (internal/services/cloud/cloud_instance.go,
      // CreateInstance; name, flavor, bootFrom and network required) and OVH's Terraform provider's
      // ovh_cloud_project_instance (CloudProjectInstanceCreateOpts): a public network, billed hourly.
      const operation = await api.call<Operation>("POST", `/cloud/project/${sn}/region/${b.region}/instance`, {
        name: b.builder,
        flavor: { id: flavor!.id },
        bootFrom: { imageId: ubuntu!.id },
        network: { public: true },
        userData,
        billingPeriod: "hourly",
      });
      const fresh: BuilderRecord = { instanceId: "", operationId: operation.id, region: b.region, hostKey: key.public.trim(), done: [] };
      hostKey = fresh.hostKey;
      record = fresh;
      store.write(fresh);
      fresh.instanceId = await createdInstance(operation.id);
      store.write(fresh);
      return `${fresh.instanceId} (${b.flavor}, ${b.ubuntuImage}, billed hourly); record ${store.file}`;
    },
    "wait-active": async () => {
      const i = await waitFor("the builder is not ACTIVE with a public IPv4", b.builder, opts, async () => {
        const got = await api.call<Instance>("GET", `/cloud/project/${sn}/instance/${record!.instanceId}`);
        if (got.status === "ERROR") throw new OpsError("api", b.builder, "the instance is in ERROR (OVH could not build it)");
        return got.status === "ACTIVE" && publicIpv4(got) ? got : undefined;
      });
      ipv4 = publicIpv4(i);
      return `ACTIVE, ${ipv4}`;
    },
    "dns-record": async () => {
      const subDomain = b.builderFqdn.slice(0, -(zone.length + 1));
      const existing = await api.call<number[]>("GET", `/domain/zone/${zone}/record`, { fieldType: "A", subDomain });
      for (const id of existing) await api.call("PUT", `/domain/zone/${zone}/record/${id}`, { target: ipv4 });
      if (existing.length === 0) {
        const rec = await api.call<{ id: number }>("POST", `/domain/zone/${zone}/record`, { fieldType: "A", subDomain, target: ipv4, ttl: 60 });
        record!.dnsRecordId = rec.id;
      } else record!.dnsRecordId = existing[0];
      await api.call("POST", `/domain/zone/${zone}/refresh`);
      return `${b.builderFqdn} A ${ipv4}`;
    },
    "wait-ssh": async () => {
      if (!hostKey) throw new OpsError("config", b.builder, `no host key recorded for the builder in ${store.file}`);
      let last = "";
      await waitFor("SSH did not answer", b.builder, opts, async () => {
        try {
          await remote("true", opts.commandTimeoutMs);
          return true;
        } catch (e) {
          // cloud-init writes our host key before sshd starts: refused or reset connections are the boot, not a fault.
          if (e instanceof OpsError && (e.kind === "tcp" || e.kind === "timeout")) {
            last = e.message;
            return undefined;
          }
          throw e;
        }
      }).catch((e: OpsError) => {
        throw new OpsError(e.kind, b.builder, `${e.message}${last ? ` (last: ${last})` : ""}`);
      });
      return `${ipv4}:${opts.ssh.port}, host key pinned`;
    },
    "upload-scripts": async () => {
      const tar = execFileSync("tar", ["-czf", "-", "-C", SCRIPTS_DIR, "."]).toString("base64");
      await remote(`rm -rf ${SCRIPT_DIR} && mkdir -p ${SCRIPT_DIR} && base64 -d | tar -xzf - -C ${SCRIPT_DIR}`, opts.commandTimeoutMs, tar);
      return `scripts/ (${Math.round((tar.length * 3) / 4 / 1024)} KiB compressed) in ${SCRIPT_DIR}`;
    },
    preflight: () => hostStep("preflight"),
    install: () => hostStep("install"),
    configure: () => hostStep("configure"),
    clean: () => hostStep("clean"),
    // OVH's POST /cloud/project/{serviceName}/instance/{instanceId}/stop, no body (the API console's /cloud
    // section; ovh/ovhcloud-cli calls it for `cloud instance stop`, internal/services/cloud/cloud_instance.go):
    // OpenStack's os-stop, a clean shutdown, after which Nova reports the instance SHUTOFF. A run cut after
    // the call finds it SHUTOFF (or still stopping) and only waits.
    "stop-builder": async () => {
      const url = `/cloud/project/${sn}/instance/${record!.instanceId}`;
      if ((await api.call<Instance>("GET", url)).status !== "SHUTOFF")
        await api.call("POST", `${url}/stop`).catch((e: unknown) => {
          // Nova's os-stop answers 409 to an instance already powering off (a run cut just after its stop).
          if (!(e instanceof OpsError && / HTTP 409: /.test(e.message))) throw e;
        });
      await waitFor("the builder is not SHUTOFF", b.builder, opts, async () => {
        const got = await api.call<Instance>("GET", url);
        if (got.status === "ERROR") throw new OpsError("api", b.builder, "the instance is in ERROR");
        return got.status === "SHUTOFF" ? true : undefined;
      });
      return "SHUTOFF";
    },
    snapshot: async () => {
      await api.call("POST", `/cloud/project/${sn}/instance/${record!.instanceId}/snapshot`, { snapshotName: b.image });
      return `snapshot ${b.image} requested`;
    },
    "wait-image": async () => {
      const s = await waitFor(`${b.image} is not active`, b.image, opts, async () => {
        const found = await snapshots();
        if (found?.status === "error" || found?.status === "killed") throw new OpsError("api", b.image, `the image is ${found.status}`);
        return found?.status === "active" ? found : undefined;
      });
      report.imageId = s.id;
      return `${s.id} active in ${b.region}`;
    },
    "delete-builder": async () => {
      if (!record) return "no builder of ours to delete";
      await api.call("DELETE", `/cloud/project/${sn}/instance/${record.instanceId}`);
      return `${record.instanceId} deleted`;
    },
    "delete-dns-record": async () => {
      const id = record?.dnsRecordId;
      if (id !== undefined) {
        await api.call("DELETE", `/domain/zone/${zone}/record/${id}`);
        await api.call("POST", `/domain/zone/${zone}/refresh`);
      }
      // Last: until here a re-run still knows the builder's record to delete.
      store.remove();
      return id === undefined ? "no record of ours" : `${b.builderFqdn} removed`;
    },
  };

  async function hostStep(id: (typeof HOST_STEPS)[number]): Promise<string> {
    const { step, inputs, timeout } = builderStepInputs(campus, b, ipv4!, sharedSecret)[id];
    const command = renderStepCommand(step, SCRIPT_DIR, sudo);
    // The cleaner empties authorized_keys: flush the disk in the same session, the stop and snapshot follow.
    const out = await remote(
      id === "clean" ? `${command} && ${asRoot("sync")}` : command,
      timeout === "install" ? opts.installTimeoutMs : opts.commandTimeoutMs,
      renderStepStdin(step, inputs),
    );
    return out.split("\n").slice(-1)[0] || "ok";
  }

  for (const s of steps) {
    const started = Date.now();
    try {
      const detail = await act[s.id]();
      report.steps.push({ id: s.id, on: s.on, ok: true, ms: Date.now() - started, detail });
      opts.onStep?.(`${b.region} ${s.id}: ${detail}`);
      if (s.id !== "delete-dns-record" && s.id !== "delete-builder") done(s.id);
    } catch (e) {
      const error = e instanceof OpsError ? e : new OpsError("command", s.on, (e as Error).message);
      report.steps.push({ id: s.id, on: s.on, ok: false, ms: Date.now() - started, detail: error.message });
      report.failure = { step: s.id, kind: error.kind, message: error.message };
      opts.onStep?.(`${b.region} ${s.id}: FAILED: ${error.message}`);
      if (record && !record.instanceId)
        report.kept = store.read()
          ? `OVH was still creating the builder ${b.builder} (operation ${record.operationId}); run the same command again to resume`
          : `OVH made no builder; the next run starts over`;
      else if (record) {
        if (opts.deleteOnFailure) {
          try {
            await api.call("DELETE", `/cloud/project/${sn}/instance/${record.instanceId}`);
            if (record.dnsRecordId !== undefined) {
              await api.call("DELETE", `/domain/zone/${zone}/record/${record.dnsRecordId}`);
              await api.call("POST", `/domain/zone/${zone}/refresh`);
            }
            store.remove();
            report.kept = `builder ${b.builder} (${record.instanceId}) and its DNS record deleted (--delete-on-failure); the next run starts over`;
          } catch (d) {
            report.kept = `deleting builder ${b.builder} (${record.instanceId}) failed too (${(d as Error).message}); its record stays in ${store.file}: run again with --delete-on-failure, or DELETE /cloud/project/${sn}/instance/${record.instanceId}`;
          }
        } else
          report.kept = `builder ${b.builder} (${record.instanceId}${ipv4 ? `, ${ipv4}` : ""}) kept for inspection (its host key is in ${store.file}); run the same command again to resume from ${s.id}, or with --delete-on-failure to delete it on the next failure; to remove it now: DELETE /cloud/project/${sn}/instance/${record.instanceId} (or openstack server delete ${b.builder})`;
      }
      return report;
    }
  }
  report.ok = true;
  if (!report.imageId && image) report.imageId = image.id;
  return report;
}

export function renderImageBuild(r: ImageBuildReport): string {
  const lines = [`node image ${r.image}:`];
  for (const g of r.regions) {
    lines.push(`  ${g.region}: ${g.ok ? `ok${g.imageId ? ` (image ${g.imageId})` : ""}` : `FAILED at ${g.failure?.step}: ${g.failure?.message}`}`);
    for (const s of g.steps) lines.push(`    ${s.ok ? "ok  " : "FAIL"} ${s.id} (${s.on}, ${(s.ms / 1000).toFixed(1)} s): ${s.detail}`);
    if (g.kept) lines.push(`    ${g.kept}`);
  }
  return `${lines.join("\n")}\n`;
}
