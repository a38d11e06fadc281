/**
 * The decisions of `ops image build` without any connection (cli/ops/imageBuildPlan.ts): regions and
 * names from the stack, every problem at once, and the steps left after a cut run.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseCampus } from "../../components/config/campus";
import { STEPS } from "../../components/remote/catalogue";
import { renderStepStdin } from "../../components/remote/invocation";
import { builderStepInputs, imageBuildInput, planRegion, type ImageStepId } from "../../cli/ops/imageBuildPlan";

const noSecrets = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false };
const training = (change: (campus: Record<string, any>) => void = () => undefined) => {
  const doc = parse(readFileSync(path.join(__dirname, "../../stacks/Pulumi.training.yaml"), "utf8"));
  const campus = doc.config["bbb-ovh:campus"];
  change(campus);
  return parseCampus(campus, noSecrets);
};
const ids = (steps: Array<{ id: ImageStepId }>) => steps.map((s) => s.id);
const FULL: ImageStepId[] = [
  "create-builder",
  "wait-active",
  "dns-record",
  "wait-ssh",
  "upload-scripts",
  "preflight",
  "install",
  "configure",
  "clean",
  "stop-builder",
  "snapshot",
  "wait-image",
  "delete-builder",
  "delete-dns-record",
];

describe("ops image build: what to build where", () => {
  it("one build per region of the Public Cloud nodes, the first node's region first, under names nameRegex finds", () => {
    const input = imageBuildInput(training(), []);
    const commit = input.commit;
    expect(input.serviceName).toBe("5f3c1e0a9b8d4c7e8f6a2b1c0d9e8f7a");
    expect(input.builds.map((b) => [b.region, b.flavor, b.ubuntuImage])).toEqual([
      ["SBG5", "c2-60", "Ubuntu 22.04"],
      ["GRA11", "c2-60", "Ubuntu 22.04"],
    ]);
    for (const b of input.builds) {
      expect(b.image).toBe(`bbb-ovh-jammy-300-${commit}`);
      expect(b.image).toMatch(new RegExp("^bbb-ovh-jammy-300-"));
      expect(b.builder).toBe(`bbb-ovh-builder-training-jammy-300-${commit.slice(0, 8)}-${b.region.toLowerCase()}`);
      expect(b.builderFqdn).toBe(`${b.builder}.isen-ouest.fr`);
    }
    expect(imageBuildInput(training(), ["GRA11"]).builds.map((b) => b.region)).toEqual(["GRA11"]);
  });

  it("a stack pin gives another image name; bad input is refused with every problem at once", () => {
    const pinned = training((c) => (c.bbb = { installer: { line: "jammy-300", commit: "a".repeat(40), sha256: "b".repeat(64) } }));
    expect(imageBuildInput(pinned, []).builds[0].image).toBe(`bbb-ovh-jammy-300-${"a".repeat(40)}`);
    const longId = training((c) => (c.id = "a-campus-whose-identifier-is-rather-long"));
    expect(() => imageBuildInput(longId, ["BHS5", "WAW1"])).toThrow(
      /--region BHS5: not a region.*expected one of SBG5, GRA11; --region WAW1: .*campus\.id: 'a-campus-whose-identifier-is-rather-long' makes builder names of \d+ characters; a DNS label holds 63/,
    );
  });

  it("the builder's steps take a node's inputs for the builder's name, without TURN, and the installer's pin", () => {
    const campus = training();
    const b = imageBuildInput(campus, [])[`builds`][0];
    const steps = builderStepInputs(campus, b, "198.51.100.9", "throwaway");
    expect(Object.values(steps).map((s) => s.step)).toEqual(["hostPreflight", "bbbInstall", "bbbConfigure", "bbbImageClean"]);
    expect(steps.preflight.inputs).toMatchObject({
      ROLE: "node",
      FQDN: b.builderFqdn,
      PUBLIC_IPV4: "198.51.100.9",
      UBUNTU_RELEASE: "22.04",
      REQUIRE_IPV6: "1",
    });
    expect(steps.install.inputs.INSTALLER_FLAGS).toContain(`-s ${b.builderFqdn}`);
    expect(steps.install.inputs.INSTALLER_URL).toContain(campus.installer.commit);
    expect(steps.install.inputs.INSTALLER_SHA256).toBe(campus.installer.sha256);
    expect(steps.install.inputs.TURN_HOST).toBeUndefined();
    expect(steps.install.timeout).toBe("install");
    // Each is a valid stdin for its script (every required input, none unknown).
    for (const s of Object.values(steps)) expect(() => renderStepStdin(s.step, s.inputs)).not.toThrow();
    expect(STEPS.bbbImageClean.required).toEqual(Object.keys(steps.clean.inputs));
  });
});

describe("ops image build: the steps left", () => {
  const b = imageBuildInput(training(), []).builds[0];
  const zone = "isen-ouest.fr";

  it("from nothing: every step, the builder deleted last of all with its DNS record", () => {
    expect(ids(planRegion(b, { done: [] }, zone))).toEqual(FULL);
  });

  it("after a cut: no second builder; the host steps again (the cleaner last); a cleaned builder goes straight to its stop and snapshot", () => {
    const builder = { id: "i-1", status: "ACTIVE" };
    expect(ids(planRegion(b, { builder, done: ["create-builder", "wait-active", "dns-record", "wait-ssh", "upload-scripts", "preflight"] }, zone))).toEqual(
      FULL.slice(1),
    );
    expect(ids(planRegion(b, { builder, done: ["create-builder", "install", "clean"] }, zone))).toEqual([
      "stop-builder",
      "snapshot",
      "wait-image",
      "delete-builder",
      "delete-dns-record",
    ]);
    expect(ids(planRegion(b, { builder, image: { id: "img", status: "saving" }, done: ["clean"] }, zone))).toEqual([
      "wait-image",
      "delete-builder",
      "delete-dns-record",
    ]);
  });

  it("an active image: nothing to build; our builder, if one is left, is deleted; none left: nothing at all", () => {
    const image = { id: "img", status: "active" };
    expect(ids(planRegion(b, { image, builder: { id: "i-1", status: "ACTIVE" }, done: ["snapshot"] }, zone))).toEqual(["delete-builder", "delete-dns-record"]);
    expect(planRegion(b, { image, done: [] }, zone)).toEqual([]);
  });
});
