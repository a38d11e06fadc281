/**
 * campus.nodeImage under Pulumi's mock runtime: nodes boot from the most recent matching image of their
 * own region (the mock answers the image look-up from its request, cli/plan/mockCloud.ts), the front keeps
 * the line's Ubuntu image, and a newer image never replaces a running node (ignoreChanges: imageId).
 * A node from the image takes the first-boot step where the others run bbb-install, and the plan says which.
 */
import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it } from "vitest";
import { parseCampus, type CampusInput } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { campusProgram } from "../../components/program";
import { ROLLING_ENV } from "../../components/hosts/rollingNode";
import { planStack } from "../../cli/plan/planStack";
import { hostSummary } from "../../cli/plan/render";
import { byType, evaluateStack, stackConfig } from "../support/evaluateStack";

const INSTANCE = "openstack:compute/instance:Instance";
const COMMAND = "command:remote:Command";
/** The training campus with a node image, and a third node that names its own (Ubuntu) image. */
const withImage = (campus: Record<string, any>) => {
  campus.nodeImage = { nameRegex: "^bbb-ovh-jammy-300-" };
  campus.nodes.push({ ...campus.nodes[1], name: "bbb-training-own", fqdn: "bbb3.training.isen-ouest.fr", image: "Ubuntu 22.04" });
};
const noSecrets = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false };

describe("campus.nodeImage", () => {
  it("nodes boot from the image of their region; the front from Ubuntu; the image is ignored on a running instance", async () => {
    const { resources } = await evaluateStack("training", {}, (campus) => {
      campus.nodeImage = { nameRegex: "^bbb-ovh-jammy-300-" };
    });
    const instances = byType(resources, INSTANCE);
    const by = (name: string) => instances.find((i) => i.inputs.name === name)!;
    expect(by("bbb1.training.isen-ouest.fr").inputs).toMatchObject({ imageId: "image-SBG5-^bbb-ovh-jammy-300-", region: "SBG5" });
    expect(by("bbb2.training.isen-ouest.fr").inputs).toMatchObject({ imageId: "image-GRA11-^bbb-ovh-jammy-300-", region: "GRA11" });
    expect(by("bbb1.training.isen-ouest.fr").inputs.imageName).toBeUndefined();
    expect(by("visio-training.isen-ouest.fr").inputs).toMatchObject({ imageName: "Ubuntu 22.04" });
    for (const i of instances) expect(i.ignoreChanges).toContain("imageId");
  });

  it("nodes from the image take the first-boot step instead of bbb-install, before the configure step; the plan says which", async () => {
    const { resources } = await evaluateStack("training", {}, withImage);
    const steps = (host: string) => byType(resources, COMMAND).filter((c) => c.name.startsWith(`${host}-`));
    for (const node of ["bbb-training-sbg", "bbb-training-gra"]) {
      const names = steps(node).map((c) => c.name);
      expect(names).toContain(`${node}-bbbFirstBoot`);
      expect(names).not.toContain(`${node}-bbbInstall`);
      const firstBoot = steps(node).find((c) => c.name === `${node}-bbbFirstBoot`)!;
      expect(steps(node).find((c) => c.name === `${node}-bbbConfigure`)!.dependencies).toContain(firstBoot.urn);
    }
    expect(steps("bbb-training-own").map((c) => c.name)).toContain("bbb-training-own-bbbInstall");
    expect(steps("bbb-training-own").map((c) => c.name)).not.toContain("bbb-training-own-bbbFirstBoot");

    const file = readStackFile("training");
    withImage(file.config["bbb-ovh:campus"].value as Record<string, any>);
    const summary = hostSummary(await planStack(file, campusProgram)).join("\n");
    const paragraph = (host: string) => summary.slice(summary.indexOf(`  ${host} (`)).split(/\n {2}(?! )/)[0];
    for (const node of ["bbb-training-sbg", "bbb-training-gra"]) {
      expect(paragraph(node)).toContain("boots from the node image (the most recent matching ^bbb-ovh-jammy-300-): first-boot step, not bbb-install");
      expect(paragraph(node)).toMatch(/steps: .*bbbFirstBoot → .*bbbConfigure/);
    }
    expect(paragraph("bbb-training-own")).not.toContain("node image");
    expect(paragraph("bbb-training-own")).toMatch(/steps: .*bbbInstall/);
    expect(paragraph("lb-training")).not.toContain("node image");
  });

  const REIMAGE_ENV = ROLLING_ENV.reimage;
  const RESIZE_ENV = ROLLING_ENV.resize;
  describe(`${REIMAGE_ENV}: the one node ops upgrade replaces from the newest image`, () => {
    afterEach(() => {
      delete process.env[REIMAGE_ENV];
      delete process.env[RESIZE_ENV];
    });

    it("lifts the image, user data and protection of that node only, so a replacement boots the new image", async () => {
      process.env[REIMAGE_ENV] = "bbb-training-gra";
      const { resources } = await evaluateStack("training", {}, withImage);
      const by = (fqdn: string) => byType(resources, INSTANCE).find((i) => i.inputs.name === fqdn)!;
      const reimaged = by("bbb2.training.isen-ouest.fr");
      expect(reimaged.protect).toBe(false);
      expect(reimaged.ignoreChanges).toEqual(["powerState"]);
      for (const fqdn of ["bbb1.training.isen-ouest.fr", "bbb3.training.isen-ouest.fr", "visio-training.isen-ouest.fr"]) {
        expect(by(fqdn).protect, fqdn).toBe(true);
        expect(by(fqdn).ignoreChanges, fqdn).toEqual(expect.arrayContaining(["imageId", "userData", "powerState"]));
      }
    });

    it(`${RESIZE_ENV} lets the stack's flavor reach that node only (a resize in place, which reboots it), protection kept`, async () => {
      process.env[RESIZE_ENV] = "bbb-training-own";
      const { resources } = await evaluateStack("training", {}, (campus) => {
        withImage(campus);
        for (const n of campus.nodes) n.flavor = "c2-30";
      });
      const by = (fqdn: string) => byType(resources, INSTANCE).find((i) => i.inputs.name === fqdn)!;
      const resized = by("bbb3.training.isen-ouest.fr");
      expect([resized.inputs.flavorName, resized.protect]).toEqual(["c2-30", true]);
      expect(resized.ignoreChanges).not.toContain("flavorName");
      expect(resized.ignoreChanges).toEqual(expect.arrayContaining(["imageName", "userData", "powerState"]));
      for (const fqdn of ["bbb1.training.isen-ouest.fr", "bbb2.training.isen-ouest.fr"]) expect(by(fqdn).ignoreChanges, fqdn).toContain("flavorName");
    });

    it(`refuses, before creating anything, a ${RESIZE_ENV} that is not a Public Cloud node, with every problem at once`, () => {
      const { config, secretKeys } = stackConfig("training", {}, withImage);
      process.env[RESIZE_ENV] = "lb-training";
      process.env[REIMAGE_ENV] = "bbb-nowhere";
      pulumi.runtime.setAllConfig(config, secretKeys);
      expect(() => campusProgram()).toThrow(
        new RegExp(
          `${REIMAGE_ENV} \\(environment\\): 'bbb-nowhere' is not a node that boots from campus.nodeImage[^\\n]*\\n[^\\n]*${RESIZE_ENV} \\(environment\\): 'lb-training' is not a Public Cloud node; expected one of bbb-training-sbg, bbb-training-gra, bbb-training-own`,
        ),
      );
    });

    it("refuses, before creating anything, a name that is not a node booting from the image", () => {
      const { config, secretKeys } = stackConfig("training", {}, withImage);
      for (const name of ["lb-training", "bbb-training-own", "bbb-nowhere"]) {
        process.env[REIMAGE_ENV] = name;
        pulumi.runtime.setAllConfig(config, secretKeys);
        // The program throws while it validates, synchronously: no resource has been constructed yet.
        expect(() => campusProgram(), name).toThrow(
          `${REIMAGE_ENV} (environment): '${name}' is not a node that boots from campus.nodeImage; expected one of bbb-training-sbg, bbb-training-gra`,
        );
      }
    });
  });

  it("a name pattern that is not a regular expression is refused, naming the field", () => {
    const campus = structuredClone(readStackFile("training").config["bbb-ovh:campus"].value) as CampusInput & Record<string, unknown>;
    campus.nodeImage = { nameRegex: "bbb-ovh-(" };
    expect(() => parseCampus(campus, noSecrets)).toThrow(/campus\.nodeImage\.nameRegex: expected a regular expression/);
  });
});
