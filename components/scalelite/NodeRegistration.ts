import * as pulumi from "@pulumi/pulumi";
import type { remote } from "@pulumi/command";
import type { BbbNode } from "../bbb/BbbNode";
import { base64 } from "../remote/invocation";
import type { ScaleliteFront } from "./ScaleliteFront";
import { registrationStateInputs, renderServersYaml, type ScaleliteNodeState } from "./renderServersYaml";

export interface NodeRegistrationArgs {
  /** The front that serves (campus.servingFront). */
  front: ScaleliteFront;
  /** The stack's front: the step carries its name whichever front serves (HostSteps.run). */
  namedAfter: string;
  /** `state`: what the stack declares; unset, the state an operator set in Scalelite is kept. */
  nodes: Array<{ node: BbbNode; loadMultiplier: number; tag?: string; state?: ScaleliteNodeState }>;
}

/**
 * Tells Scalelite which nodes to use, declaratively: `servers:sync` with the whole desired set, so a
 * re-run adds nothing twice, and a node dropped from the stack is cordoned (its meetings end
 * naturally) rather than cut off. A node an operator drained stays drained unless the stack declares
 * its state (the step says which nodes it left drained). It runs once every node answers signed calls
 * and the front is up, and again only when the set, a secret, a multiplier, a tag or a state changes.
 */
export class NodeRegistration extends pulumi.ComponentResource {
  readonly sync: remote.Command;

  constructor(name: string, args: NodeRegistrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:scalelite:NodeRegistration", name, {}, opts);
    const entries = args.nodes.map(({ node, loadMultiplier, tag, state }) =>
      node.sharedSecret.apply((secret) => ({ id: node.fqdn, url: node.apiUrl, secret, loadMultiplier, tag, state })),
    );
    const serversYaml = pulumi.all(entries).apply((servers) => base64(renderServersYaml(servers)));
    const expectedIds = args.nodes.map(({ node }) => node.fqdn).sort();
    const states = registrationStateInputs(args.nodes.map(({ node, state }) => ({ id: node.fqdn, state })));

    this.sync = args.front.steps.run(
      "scaleliteRegister",
      { SERVERS_YAML_B64: pulumi.secret(serversYaml), SYNC_MODE: "cordon", EXPECTED_IDS: expectedIds.join(","), ...states },
      { parent: this, dependsOn: [args.front.health, ...args.nodes.map(({ node }) => node.health)], namedAfter: args.namedAfter },
    );
    this.registerOutputs({ expectedIds });
  }
}
