/**
 * campus.nodeImage under Pulumi's mock runtime: nodes boot from the most recent matching image of their
 * own region (the mock answers the image look-up from its request, cli/plan/mockCloud.ts), the front keeps
 * the line's Ubuntu image, and a newer image never replaces a running node (ignoreChanges: imageId).
 */
import { describe, expect, it } from "vitest";
import { parseCampus, type CampusInput } from "../../components/config/campus";
import { readStackFile } from "../../components/config/stackFile";
import { byType, evaluateStack } from "../support/evaluateStack";

const INSTANCE = "openstack:compute/instance:Instance";
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

  it("a name pattern that is not a regular expression is refused, naming the field", () => {
    const campus = structuredClone(readStackFile("training").config["bbb-ovh:campus"].value) as CampusInput & Record<string, unknown>;
    campus.nodeImage = { nameRegex: "bbb-ovh-(" };
    expect(() => parseCampus(campus, noSecrets)).toThrow(/campus\.nodeImage\.nameRegex: expected a regular expression/);
  });
});
