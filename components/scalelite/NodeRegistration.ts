import * as pulumi from "@pulumi/pulumi";
import type { remote } from "@pulumi/command";
import type { BbbNode } from "../bbb/BbbNode";
import { base64 } from "../remote/invocation";
import type { ScaleliteFront } from "./ScaleliteFront";
import { renderServersYaml } from "./renderServersYaml";

export interface NodeRegistrationArgs {
  front: ScaleliteFront;
  nodes: Array<{ node: BbbNode; loadMultiplier: number; tag?: string }>;
}

/**
 * Tells Scalelite which nodes to use, declaratively: `servers:sync` with the whole desired set, so a
 * re-run adds nothing twice, and a node dropped from the stack is cordoned (its meetings end
 * naturally) rather than cut off. It runs once every node answers signed calls and the front is up,
 * and again only when the set, a secret, a multiplier or a tag changes.
 */
export class NodeRegistration extends pulumi.ComponentResource {
  readonly sync: remote.Command;

  constructor(name: string, args: NodeRegistrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:scalelite:NodeRegistration", name, {}, opts);
    const entries = args.nodes.map(({ node, loadMultiplier, tag }) =>
      node.sharedSecret.apply((secret) => ({ id: node.fqdn, url: node.apiUrl, secret, loadMultiplier, tag })),
    );
    const serversYaml = pulumi.all(entries).apply((servers) => base64(renderServersYaml(servers)));
    const expectedIds = args.nodes.map(({ node }) => node.fqdn).sort();

    this.sync = args.front.steps.run(
      "scaleliteRegister",
      { SERVERS_YAML_B64: pulumi.secret(serversYaml), SYNC_MODE: "cordon", EXPECTED_IDS: expectedIds.join(",") },
      { parent: this, dependsOn: [args.front.health, ...args.nodes.map(({ node }) => node.health)] },
    );
    this.registerOutputs({ expectedIds });
  }
}
