import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import type { remote } from "@pulumi/command";
import type { Campus } from "../config/campus";
import type { NodeHandle } from "../hosts/HostHandle";
import { nodeImageOf } from "../hosts/nodeImage";
import { HostSteps, stepHostOf } from "../remote/HostStep";
import { base64 } from "../remote/invocation";
import { preflightInputs } from "../remote/preflight";
import { hostFirewallInputs, hostPolicyInput } from "../security/firewallPolicy";
import { NODE_KEEP, POST_PUBLISH } from "../scalelite/recordingLayout";
import { renderTransferKnownHosts, renderTransferSshConfig } from "../scalelite/renderRecordingTransfer";
import { renderScaleliteYml } from "../scalelite/renderScaleliteYml";
import { nodeApiUrl } from "../scalelite/renderServersYaml";
import { bbbExporterUrl, renderBbbExporterManifest, renderBbbExporterSettings } from "./bbbExporter";
import { renderInstallerFlags } from "./installerFlags";
import { installerUrl, installStepTriggers } from "./installerPin";

/**
 * A node's key for sending recordings to the front's spool, and nothing else (not the deploy key): the
 * front accepts it only from the node's addresses and only for rrsync -wo into the spool.
 */
export function recordingTransferKey(nodeName: string, parent: pulumi.Resource): tls.PrivateKey {
  return new tls.PrivateKey(
    `${nodeName}-recording-transfer-key`,
    { algorithm: "ED25519" },
    { parent, additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"] },
  );
}

/** The algorithm our health checks sign with; BBB >= 2.5 accepts it and Scalelite forwards it. */
export const HEALTH_CHECKSUM_ALGORITHM = "SHA256";

export interface BbbNodeArgs {
  campus: Campus;
  handle: NodeHandle;
  /** The front's recording spool, when the campus keeps recordings. */
  recordings?: {
    /** The front's IPv4, which the node's rsync connects to (so the node's IPv4 is the source `from=` checks). */
    frontAddress: pulumi.Input<string>;
    /** The port the front's sshd listens on (sshPortOf). */
    frontSshPort: number;
    /** The front's pinned SSH host key: the transfer refuses any other. */
    frontHostKey: pulumi.Input<string>;
    /** The transfer key the front's spool accepts from this node (transferKey below). */
    transferKey: tls.PrivateKey;
    /** The front's spool step: the transfer user must exist before the node's post_publish uses it. */
    spool: pulumi.Resource;
  };
  /** The external TURN server, when campus.turn.mode is external; its secret goes to the node on stdin only. */
  externalTurn?: { host: string; secret: pulumi.Output<string> };
  /** The fronts whose Prometheus scrapes this node (campus.monitoring), admitted on the scrape ports only. */
  monitorAddresses?: pulumi.Input<string>[];
  /** With a standby front: both fronts, admitted on SSH for the pool's timer that runs there (firewallPolicy.ts). */
  frontAddresses?: pulumi.Input<string>[];
}

/**
 * One BigBlueButton node: SSH answers, the host fits (preflight), the official installer of the
 * pinned line, our shared secret, the recording transfer to Scalelite, then a signed API check.
 * A node depends on no other node, so all nodes of a campus are built in parallel.
 */
export class BbbNode extends pulumi.ComponentResource {
  readonly fqdn: string;
  readonly ipv4: pulumi.Output<string>;
  readonly datacenter: string;
  readonly apiUrl: string;
  readonly sharedSecret: pulumi.Output<string>;
  /** bbb-install.sh arguments for this node, passed to bbb-node-install.sh (no secret in them). */
  readonly installerFlags: string[];
  /** The last step: the node answers signed API calls with its secret. */
  readonly health: remote.Command;
  readonly steps: HostSteps;
  /** The host firewall step: an exporter listens once its port is admitted. */
  readonly firewall: remote.Command;

  constructor(name: string, args: BbbNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:bbb:BbbNode", name, {}, opts);
    const { campus, handle } = args;
    const host = handle.host;
    this.fqdn = host.fqdn;
    this.ipv4 = handle.ipv4;
    this.datacenter = host.datacenter;
    this.apiUrl = nodeApiUrl(host.fqdn);

    this.installerFlags = renderInstallerFlags({ bbbVersion: campus.config.bbbVersion, fqdn: host.fqdn, email: campus.config.adminEmail });

    const secret = new random.RandomPassword(`${name}-shared-secret`, { length: 48, special: false }, { parent: this });
    this.sharedSecret = pulumi.secret(secret.result);

    const steps = (this.steps = new HostSteps(this, stepHostOf(handle)));
    const preflight = steps.run("hostPreflight", preflightInputs(campus, handle));
    // A node from the node image is made its own by the first-boot step, one from Ubuntu by bbb-install.
    const install = nodeImageOf(campus, host)
      ? steps.run(
          "bbbFirstBoot",
          {
            FQDN: host.fqdn,
            PUBLIC_IPV4: handle.ipv4,
            EMAIL: campus.config.adminEmail,
            TURN_HOST: args.externalTurn?.host,
            TURN_SECRET: args.externalTurn?.secret,
          },
          { dependsOn: [preflight] },
        )
      : steps.run(
          "bbbInstall",
          {
            FQDN: host.fqdn,
            INSTALLER_FLAGS: this.installerFlags.join(" "),
            INSTALLER_URL: installerUrl(campus.installer),
            INSTALLER_SHA256: campus.installer.sha256,
            TURN_HOST: args.externalTurn?.host,
            TURN_SECRET: args.externalTurn?.secret,
          },
          { dependsOn: [preflight], triggers: installStepTriggers(campus.installer) },
        );
    // After bbb-install, whose UFW (-w) opens SSH to everyone: our table drops it anyway (host-firewall.sh).
    const firewallInputs = pulumi
      .all([pulumi.all(args.monitorAddresses ?? []), pulumi.all(args.frontAddresses ?? [])])
      .apply(([monitorAddresses, frontAddresses]) => hostFirewallInputs({ ...hostPolicyInput(campus, host), monitorAddresses, frontAddresses }, host.fqdn));
    const firewall = (this.firewall = steps.run(
      "hostFirewall",
      { RULESET_B64: firewallInputs.RULESET_B64, SSH_SOURCES: firewallInputs.SSH_SOURCES, SSH_PORT: firewallInputs.SSH_PORT },
      { dependsOn: [install] },
    ));
    const configure = steps.run("bbbConfigure", { FQDN: host.fqdn, SHARED_SECRET: this.sharedSecret }, { dependsOn: [install] });

    // After the configure step: the exporter signs its API calls with the secret that step set.
    const exporter = steps.run(
      "bbbExporter",
      {
        EXPORTER_URL: bbbExporterUrl(),
        MANIFEST_B64: base64(renderBbbExporterManifest()),
        SETTINGS_B64: pulumi.secret(this.sharedSecret.apply((s) => base64(renderBbbExporterSettings(`${this.apiUrl}/`, s)))),
      },
      { dependsOn: [configure] },
    );

    let lastChange = configure;
    if (campus.config.recordings) {
      if (!args.recordings) throw new Error(`${host.name}: campus.recordings is on but the front's recording spool was not given`);
      const { frontAddress, frontSshPort, frontHostKey, transferKey, spool } = args.recordings;
      lastChange = steps.run(
        "bbbRecordings",
        {
          SSH_CONFIG_B64: pulumi.output(frontAddress).apply((address) => base64(renderTransferSshConfig({ address, port: frontSshPort }))),
          KNOWN_HOSTS_B64: pulumi.output(frontHostKey).apply((key) => base64(renderTransferKnownHosts(key))),
          TRANSFER_KEY_B64: pulumi.secret(transferKey.privateKeyOpenssh.apply(base64)),
          SCALELITE_YML_B64: base64(renderScaleliteYml()),
          POST_PUBLISH_URL: POST_PUBLISH.url,
          POST_PUBLISH_SHA256: POST_PUBLISH.sha256,
          KEEP_BYTES: String(NODE_KEEP.maxBytes),
          KEEP_HOURS: String(NODE_KEEP.maxHours),
        },
        { dependsOn: [configure, spool] },
      );
    }
    this.health = steps.run(
      "bbbHealth",
      { FQDN: host.fqdn, SHARED_SECRET: this.sharedSecret, CHECKSUM_ALGORITHM: HEALTH_CHECKSUM_ALGORITHM },
      { dependsOn: [lastChange, firewall, exporter] },
    );

    this.registerOutputs({ fqdn: this.fqdn, ipv4: this.ipv4, datacenter: this.datacenter, apiUrl: this.apiUrl, sharedSecret: this.sharedSecret });
  }
}
