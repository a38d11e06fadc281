/**
 * `ops image build` as a process: the OVH API peer (flavors, images, instances, snapshots, DNS records)
 * and, as the builder instance, a loopback sshd test host laid out as bbb-install leaves a node
 * (test/support/nodeImageHost.ts): the peer gives the created instance 127.0.0.1 and the test "boots" it
 * by installing the host key ops put in its user data (what cloud-init's ssh module does). The node's
 * real steps run on it (preflight, bbb-node-install.sh with the fake bbb-install.sh that test/fakes/bin
 * models, configure, the real cleaner).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { parseCampus } from "../../components/config/campus";
import { imageBuildInput, planRegion, type RegionBuild } from "../../cli/ops/imageBuildPlan";
import { builderHost } from "../support/nodeImageHost";
import { startOvhApiPeer, type OvhApiPeer } from "../support/ovhApiPeer";
import type { TestHost } from "../support/sshd";
import { opsProcessEnv, scratch } from "./cli";
import { OPS_CLI } from "../support/distCli";

const REPO = path.resolve(__dirname, "../..");
const FAKES = path.join(__dirname, "fakes");
const PROJECT = "0123456789abcdef0123456789abcdef";
const COMMIT = "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d";
/** What the fake web serves as bbb-install.sh at any commit (test/fakes/downloads): the pin's sha256 must be its. */
const FAKE_INSTALLER_SHA256 = createHash("sha256")
  .update(readFileSync(path.join(REPO, "test/fakes/downloads/bbb-install.sh")))
  .digest("hex");

let peer: OvhApiPeer;
let host: TestHost;
let build: RegionBuild;
let stackFile: string;
let env: Record<string, string>;

function imageBuild(...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [OPS_CLI, "image", "build", stackFile, "--region", "GRA11", "--json", "--yes"];
  args.push("--ssh-user", "root", "--ssh-port", String(host.port), "--ssh-key", path.join(env.HOME, "key"), "--poll", "0.1", "--wait", "1", ...extra);
  return new Promise((resolve) => {
    // A bound for a hang: a run took 2 to 6 s here (the fake installer), on a machine shared by six suites.
    execFile(process.execPath, args, { cwd: REPO, env, timeout: 170_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const read = (rel: string) => readFileSync(path.join(host.root, rel), "utf8");
const knob = (name: string, value?: string) => {
  const file = path.join(host.root, "fake-state/knobs", name);
  if (value === undefined) rmSync(file, { force: true });
  else {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, value);
  }
};

beforeAll(async () => {
  const doc = parse(readFileSync(path.join(REPO, "stacks/Pulumi.training.yaml"), "utf8"));
  const campus = doc.config["bbb-ovh:campus"];
  campus.publicCloud = { projectId: PROJECT };
  campus.bbb = { installer: { line: "jammy-300", commit: COMMIT, sha256: FAKE_INSTALLER_SHA256 } };
  build = imageBuildInput(parseCampus(campus, { sshPrivateKey: false, turnSecret: false, dnsCredentials: false }), ["GRA11"]).builds[0];
  stackFile = path.join(scratch(), "Pulumi.imagebuild.yaml");
  writeFileSync(stackFile, stringify(doc));

  host = await builderHost({ fqdn: build.builderFqdn, publicIpv4: "127.0.0.1" });
  peer = await startOvhApiPeer(PROJECT, {
    flavors: ["SBG5", "GRA11"].flatMap((region) => [
      { id: `flv-b3-8-${region}`, name: "b3-8", region },
      { id: `flv-c2-60-${region}`, name: "c2-60", region },
    ]),
    images: ["SBG5", "GRA11"].flatMap((region) => [
      { id: `img-2004-${region}`, name: "Ubuntu 20.04", region, status: "active" },
      { id: `img-2204-${region}`, name: "Ubuntu 22.04", region, status: "active" },
    ]),
    newInstanceIp: "127.0.0.1",
    // An instance nobody asked this command to make, of another name: never touched.
    instances: [{ id: "inst-other", name: "bbb-ovh-builder-someone-else", status: "ACTIVE", monthlyBilling: null, ip: "198.51.100.5", region: "GRA11" }],
  });
  peer.state.onInstanceCreate = (_instance, body) => {
    const userData = parse(String(body.userData).replace(/^#cloud-config\n/, "")) as { ssh_keys: { ed25519_private: string } };
    host.installHostKey(userData.ssh_keys.ed25519_private);
  };
  env = { ...opsProcessEnv(FAKES, host, [], peer), PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` };
});

afterAll(async () => {
  await Promise.all([peer?.close(), host?.stop()]);
});

describe("ops image build", () => {
  it("refuses without --yes and no terminal, creating nothing; --dry-run asks no API", async () => {
    const args = ["--region", "GRA11"];
    const refused = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [OPS_CLI, "image", "build", stackFile, ...args], { cwd: REPO, env, timeout: 60_000 }, (error, _o, stderr) =>
        resolve({ code: Number((error as { code?: number } | null)?.code ?? 0), stderr }),
      ),
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/pass --yes/);
    expect(peer.state.calls.filter((c) => c.startsWith("POST"))).toEqual([]);
    const dry = await imageBuild("--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).plans[0].steps[0]).toMatchObject({ id: "create-builder", on: "GRA11" });
    expect(peer.state.calls).toEqual([]);
  });

  it("a failed step keeps the builder and says how to resume; the re-run resumes it, saves the image, deletes only its builder", async () => {
    knob("FAKE_BBB_INSTALL_FAIL", "1");
    const failed = await imageBuild();
    expect(failed.code, failed.stderr).toBe(6);
    const first = JSON.parse(failed.stdout);
    const region = first.regions[0];
    expect(region.failure, JSON.stringify(region)).toMatchObject({ step: "install" });
    // The plan's steps in its order, each done, up to the one that failed.
    const planned = planRegion(build, { done: [] }, "isen-ouest.fr").map((p) => p.id);
    expect(region.steps.map((s: { id: string; ok: boolean }) => `${s.id}:${s.ok}`)).toEqual(
      planned.slice(0, planned.indexOf("install") + 1).map((id) => `${id}:${id !== "install"}`),
    );
    expect(region.kept).toMatch(
      new RegExp(`builder ${build.builder} \\(inst-[0-9a-f]+, 127.0.0.1\\) kept for inspection.*run the same command again to resume from install`),
    );
    const builder = peer.state.instances.find((i) => i.name === build.builder)!;
    expect(builder).toMatchObject({ region: "GRA11", flavorId: "flv-c2-60-GRA11", imageId: "img-2204-GRA11", status: "ACTIVE" });
    const record = peer.state.records.find((r) => r.subDomain === build.builderFqdn.replace(/\.isen-ouest\.fr$/, ""));
    expect(record).toMatchObject({ fieldType: "A", target: "127.0.0.1" });
    // The builder's secrets never reach the output.
    expect(failed.stdout + failed.stderr).not.toContain("BEGIN OPENSSH PRIVATE KEY");

    knob("FAKE_BBB_INSTALL_FAIL");
    const run = await imageBuild();
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const report = JSON.parse(run.stdout);
    const steps = report.regions[0].steps.map((s: { id: string }) => s.id);
    // No second builder: the run found its own by name and its record.
    expect(steps[0]).toBe("wait-active");
    expect(steps).toEqual(
      expect.arrayContaining(["install", "configure", "clean", "stop-builder", "snapshot", "wait-image", "delete-builder", "delete-dns-record"]),
    );
    expect(peer.state.calls.filter((c) => c === `POST /cloud/project/${PROJECT}/region/GRA11/instance`)).toHaveLength(1);
    // Stopped after the cleaner, and snapshotted only once SHUTOFF (the disk at rest).
    const posts = peer.state.calls.filter((c) => c.startsWith("POST /cloud/project/") && /\/(stop|snapshot)$/.test(c));
    expect(posts.map((c) => c.split("/").pop())).toEqual(["stop", "snapshot"]);

    // The image, under the name nameRegex finds, active; the builder and its DNS record gone; the other instance kept.
    const image = peer.state.snapshots.find((s) => s.name === `bbb-ovh-jammy-300-${COMMIT}`);
    expect(image).toMatchObject({ region: "GRA11", status: "active", instanceStatus: "SHUTOFF" });
    expect(report.regions[0].imageId).toBe(image!.id);
    expect(peer.state.instances.map((i) => i.id)).toEqual(["inst-other"]);
    expect(peer.state.records.find((r) => r.subDomain.startsWith("bbb-ovh-builder-"))).toBeUndefined();
    // What was snapshotted went through the real cleaner: the image's stamp, no machine id, no SSH host keys.
    expect(read("etc/bbb-ovh/node-image")).toContain(build.builderFqdn);
    expect(read("etc/machine-id")).toBe("");
    expect(read("fake-calls.log")).toMatch(new RegExp(`bbb-install\\.sh .*-s ${build.builderFqdn.replace(/\./g, "\\.")}`));
    expect(read("etc/bigbluebutton/bbb-web.properties")).toMatch(/^securitySalt=$/m);

    // Once more: the image is there and no builder is left, so nothing is done.
    const again = JSON.parse((await imageBuild()).stdout);
    expect(again.regions[0]).toMatchObject({ ok: true, steps: [] });
  });

  it("with --delete-on-failure a failed step deletes the builder and its DNS record, and the next run starts over", async () => {
    peer.state.snapshots = [];
    knob("FAKE_BBB_INSTALL_FAIL", "1");
    const failed = await imageBuild("--delete-on-failure");
    knob("FAKE_BBB_INSTALL_FAIL");
    expect(failed.code, failed.stderr).toBe(6);
    const region = JSON.parse(failed.stdout).regions[0];
    expect(region.failure).toMatchObject({ step: "install" });
    expect(region.kept).toMatch(/and its DNS record deleted \(--delete-on-failure\); the next run starts over/);
    expect(peer.state.instances.map((i) => i.id)).toEqual(["inst-other"]);
    expect(peer.state.records.find((r) => r.subDomain.startsWith("bbb-ovh-builder-"))).toBeUndefined();
    const dry = JSON.parse((await imageBuild("--dry-run")).stdout);
    expect(dry.plans[0].steps[0].id).toBe("create-builder");
  });

  it("runs that give up while OVH creates the builder, then while it powers off, are resumed: no second builder, saved SHUTOFF", async () => {
    peer.state.snapshots = [];
    const callsBefore = peer.state.calls.length;
    const creates = () => peer.state.calls.slice(callsBefore).filter((c) => c === `POST /cloud/project/${PROJECT}/region/GRA11/instance`);
    const stepIds = (r: { stdout: string }): string[] => JSON.parse(r.stdout).regions[0].steps.map((s: { id: string }) => s.id);

    // OVH's create operation does not complete within the wait: the run stops, knowing the operation.
    peer.state.holdOperations = true;
    const creating = await imageBuild("--wait", "0.05");
    peer.state.holdOperations = false;
    expect(creating.code, creating.stderr).not.toBe(0);
    const first = JSON.parse(creating.stdout).regions[0];
    expect(first.failure, JSON.stringify(first)).toMatchObject({ step: "create-builder", kind: "timeout" });
    expect(first.kept).toMatch(/OVH was still creating the builder .* \(operation op-[0-9a-f]+\); run the same command again to resume/);

    // The next run takes the instance the operation names as its own, and gives up while it powers off.
    peer.state.holdStopping = true;
    // 6 s: the other waits of this run (ACTIVE, SSH) end at their first look on loopback, even on a loaded machine.
    const stopping = await imageBuild("--wait", "0.1");
    peer.state.holdStopping = false;
    expect(stopping.code, stopping.stderr).not.toBe(0);
    expect(stepIds(stopping)[0]).toBe("wait-active");
    const failed = JSON.parse(stopping.stdout).regions[0];
    expect(failed.failure, JSON.stringify(failed)).toMatchObject({ step: "stop-builder", kind: "timeout" });
    expect(peer.state.snapshots).toEqual([]);

    // The last run waits for SHUTOFF (its second stop is Nova's 409: already stopping) and saves the image.
    const run = await imageBuild();
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    // The builder was cleaned: no host step again, straight to the stop (already under way) and the snapshot.
    expect(stepIds(run).slice(0, 3)).toEqual(["stop-builder", "snapshot", "wait-image"]);
    expect(creates()).toHaveLength(1);
    expect(peer.state.calls.slice(callsBefore).filter((c) => c.endsWith("/stop"))).toHaveLength(2);
    expect(peer.state.snapshots).toEqual([expect.objectContaining({ name: `bbb-ovh-jammy-300-${COMMIT}`, status: "active", instanceStatus: "SHUTOFF" })]);
    expect(peer.state.instances.map((i) => i.id)).toEqual(["inst-other"]);
  });

  it("an instance of the builder's name that this command did not create is neither used nor deleted", async () => {
    peer.state.instances.push({ id: "inst-foreign", name: build.builder, status: "ACTIVE", monthlyBilling: null, ip: "198.51.100.9", region: "GRA11" });
    peer.state.snapshots = [];
    const run = await imageBuild("--delete-on-failure");
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      new RegExp(`an instance named ${build.builder} \\(inst-foreign\\) exists that this command did not create.*never used nor deleted`),
    );
    expect(peer.state.instances.map((i) => i.id)).toContain("inst-foreign");
    expect(peer.state.calls.filter((c) => c.startsWith("DELETE /cloud/project/") && c.endsWith("inst-foreign"))).toEqual([]);
  });
});
