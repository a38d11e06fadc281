import * as pulumi from "@pulumi/pulumi";
import type { remote, types } from "@pulumi/command";
import type { CampusConfig } from "../config/schema";
import { HostSteps } from "../remote/HostStep";
import type { ScaleliteFront } from "../scalelite/ScaleliteFront";
import { renderMoodleSettings } from "./renderMoodleSettings";

export interface MoodleIntegrationArgs {
  moodle: NonNullable<CampusConfig["moodle"]>;
  /** campus.moodle.ssh.user, whom the steps log in as. */
  sshUser: string;
  /** SSH to the Moodle host (campus.moodle.ssh with bbb-ovh:moodleSshPrivateKey). */
  connection: pulumi.Input<types.input.remote.ConnectionArgs>;
  front: ScaleliteFront;
  /** What must be in place before Moodle sends classes to Scalelite (the node registration). */
  dependsOn: pulumi.Resource[];
}

/**
 * Points the school's Moodle at Scalelite: mod_bigbluebuttonbn's server URL, checksum algorithm and
 * the LOADBALANCER_SECRET (on stdin only), and enables the module, running Moodle's PHP as
 * campus.moodle.phpUser. Only for stacks that give campus.moodle.ssh (logged in with
 * bbb-ovh:moodleSshPrivateKey); otherwise the stack outputs say what to enter by hand.
 */
export class MoodleIntegration extends pulumi.ComponentResource {
  readonly configure: remote.Command;

  constructor(name: string, args: MoodleIntegrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:moodle:MoodleIntegration", name, {}, opts);
    const { moodle } = args;
    const settings = renderMoodleSettings({ frontFqdn: args.front.fqdn, checksumAlgorithm: moodle.checksumAlgorithm, acceptDpa: moodle.acceptDpa });

    const steps = new HostSteps(this, { name, connection: args.connection, sshUser: args.sshUser, ready: [] });
    this.configure = steps.run(
      "moodleConfigure",
      {
        MOODLE_DIR: moodle.dir,
        SERVER_URL: settings.bigbluebuttonbn_server_url,
        SHARED_SECRET: args.front.loadBalancerSecret,
        CHECKSUM_ALGORITHM: settings.bigbluebuttonbn_checksum_algorithm,
        ACCEPT_DPA: settings.bigbluebuttonbn_default_dpa_accepted ?? "0",
        PHP_USER: moodle.phpUser,
      },
      { dependsOn: [args.front.health, ...args.dependsOn] },
    );
    this.registerOutputs({ serverUrl: settings.bigbluebuttonbn_server_url });
  }
}
