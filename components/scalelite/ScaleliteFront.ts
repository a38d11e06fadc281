import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { remote } from "@pulumi/command";
import type { Campus } from "../config/campus";
import type { FrontHandle, NodeHandle } from "../hosts/HostHandle";
import { creditEstimatePath, HostSteps, sleepingListPath, stepHostOf } from "../remote/HostStep";
import { base64 } from "../remote/invocation";
import { preflightInputs } from "../remote/preflight";
import { hostFirewallInputs, hostPolicyInput } from "../security/firewallPolicy";
import { sshPortOf } from "../hosts/sshPort";
import { imagePins, imageRef, POSTGRES_IMAGE, REDIS_IMAGE, scaleliteImages } from "./images";
import { nodeTransferFiles, RECORDING_DIR, SPOOL_LIMITS, STANDBY_COPY_DIR } from "./recordingLayout";
import { renderEnvFiles, type ChecksumAlgorithm, type ScaleliteContainer } from "./renderEnvFile";
import { renderCopyAuthorizedKey, renderSpoolAuthorizedKeys, renderTransferKnownHosts, renderTransferSshConfig } from "./renderRecordingTransfer";
import { renderOvhDnsIni } from "./renderOvhDnsIni";
import { renderPlanFile } from "../monitoring/renderPlanFile";
import { POSTGRES_PORT } from "../security/firewallPolicy";
import type { ReplicationLink } from "./standby";

export const SCALELITE_DATA_DIR = "/var/lib/scalelite";

export interface ScaleliteFrontArgs {
  campus: Campus;
  handle: FrontHandle;
  /** The BigBlueButton hosts with their recording transfer keys (none when the campus keeps no recordings). */
  recordingSenders: { handle: NodeHandle; transferPublicKey: pulumi.Input<string> }[];
  /** How Let's Encrypt checks the name: HTTP-01 on port 80, or DNS-01 through the OVH API with these credentials. */
  certificate: { challenge: "http-01" } | { challenge: "dns-01"; dnsCredentials: pulumi.Output<Record<string, string>> };
  /**
   * campus.standbyFront: on the front, the standby it streams its database to; on the standby, the
   * front it copies (same secrets, Scalelite installed but stopped). components/scalelite/standby.ts.
   */
  replication?: { role: "primary"; standby: FrontHandle; link: ReplicationLink } | { role: "standby"; primary: ScaleliteFront; link: ReplicationLink };
  /** The other front, whose Prometheus scrapes this one (campus.monitoring), admitted on the scrape ports only. */
  monitorAddresses?: pulumi.Input<string>[];
  /** The front while the standby front serves (campus.servingFront): nothing runs on it (StepHost.held). */
  held?: boolean;
  /** The standby front when it serves (campus.servingFront: standbyFront): its replication step is held. */
  serves?: boolean;
  /**
   * The front rebuilt on a new server while the standby front serves (campus.rebuildFront): every step runs
   * again there (StepHost.rebuilt), after its front-role is recorded fenced, so Scalelite stays stopped; its
   * DNS check expects the name on `servingIpv4` (the standby front's). Its replication and health steps are
   * held: the standby front admits it and its database is rebuilt by `ops failback`, and its Scalelite
   * does not serve until then. `after`: the standby front's scaleliteFrontServes check, made after this
   * front: nothing is fenced here unless the standby front does serve (a front that still serves, with
   * both settings written ahead of `ops failover`, would otherwise be stopped).
   */
  rebuild?: { servingIpv4: pulumi.Input<string>; after: pulumi.Input<pulumi.Resource> };
}

/** The secrets both fronts share, so that Moodle and the nodes see no difference after a failover. */
export interface FrontSecrets {
  postgresPassword: pulumi.Output<string>;
  secretKeyBase: pulumi.Output<string>;
  loadBalancerSecret: pulumi.Output<string>;
}

/**
 * Algorithms API clients may sign with (LOADBALANCER_CHECKSUM_ALGORITHM): Scalelite refuses a call
 * signed with one not listed (app/controllers/concerns/api_helper.rb verify_checksum, v1.8.5). SHA256
 * and SHA512 always; SHA1 only when Moodle is set to it: Moodle releases whose mod_bigbluebuttonbn has
 * no checksum algorithm setting sign with SHA1 only, and moodle-configure.sh stops unless the stack
 * says SHA1 for them. Listing SHA1 does not weaken the calls to the nodes: Scalelite signs those with
 * the strongest algorithm listed, whatever the caller used (api_helper.rb checksum_algorithm).
 */
export function allowedChecksumAlgorithms(campus: Campus): ChecksumAlgorithm[] {
  const moodle = campus.config.moodle?.checksumAlgorithm;
  return moodle === "SHA1" ? ["SHA1", "SHA256", "SHA512"] : ["SHA256", "SHA512"];
}

/**
 * The Scalelite front: SSH answers, the host fits, Docker with PostgreSQL and Redis, a Let's Encrypt
 * certificate, the recording spool the nodes send to, the Scalelite containers, then /health_check.
 */
export class ScaleliteFront extends pulumi.ComponentResource {
  readonly fqdn: string;
  /** The host's name in the stack (campus.front.name or campus.standbyFront.name). */
  readonly hostName: string;
  readonly ipv4: pulumi.Output<string>;
  /** The port its sshd listens on (components/hosts/sshPort.ts): nodes and the standby front dial it. */
  readonly sshPort: number;
  /** The SSH host key its connections pin (the standby's recordings copy pins it too). */
  readonly hostKey: pulumi.Output<string>;
  readonly url: string;
  /** What API clients (Moodle) sign with; a secret. */
  readonly loadBalancerSecret: pulumi.Output<string>;
  readonly secrets: FrontSecrets;
  /** The primary's replication step, which the standby's waits for. */
  readonly replication?: remote.Command;
  /** Steps on the front, for the node registration that also runs there. */
  readonly steps: HostSteps;
  /** The recording spool and its transfer user, when the campus keeps recordings. */
  readonly spool?: remote.Command;
  readonly health: remote.Command;
  /** Where `ops schedule` / `ops scale` list the nodes they shelved (components/schedule/sleepingList.ts). */
  readonly sleepingList: string;
  /** The host firewall step: an exporter listens once its port is admitted. */
  readonly firewall: remote.Command;
  /**
   * On the standby front: its front-role agrees with campus.servingFront (scaleliteFrontServes). The front's
   * DNS records wait for it, so a stack edited before `ops failover` (or back before `ops failback`) moves nothing.
   */
  readonly servesCheck?: remote.Command;

  constructor(name: string, args: ScaleliteFrontArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bbb-ovh:scalelite:ScaleliteFront", name, {}, opts);
    const { campus, handle } = args;
    const host = handle.host;
    this.fqdn = host.fqdn;
    this.hostName = host.name;
    this.ipv4 = handle.ipv4;
    this.sshPort = sshPortOf(host);
    this.hostKey = handle.hostKey;
    this.url = `https://${host.fqdn}/`;
    this.sleepingList = sleepingListPath(handle.sshUser);

    const replication = args.replication;
    const standby = replication?.role === "standby" ? replication : undefined;
    this.secrets = standby ? standby.primary.secrets : frontSecrets(name, this);
    this.loadBalancerSecret = this.secrets.loadBalancerSecret;
    // The standby serves the front's name once `ops failover` points it there.
    const serviceFqdn = standby ? standby.primary.fqdn : host.fqdn;

    const rebuild = args.rebuild;
    this.steps = new HostSteps(this, { ...stepHostOf(handle), held: args.held, rebuilt: rebuild !== undefined });
    const preflight = this.steps.run("hostPreflight", { ...preflightInputs(campus, handle), DNS_SERVED_BY: rebuild?.servingIpv4 });
    // Recorded before Scalelite is installed, so that it is installed stopped (scripts/scalelite-front-serves.sh).
    const fenced = rebuild && this.steps.run("scaleliteFrontServes", { SERVES: "false", RECORD: "fenced" }, { dependsOn: [preflight, rebuild.after] });
    // SSH from the nodes too when they push recordings here (rsync over SSH); IPv6 when a node has one.
    const nodeAddresses = args.recordingSenders.flatMap(({ handle: node }) => [node.ipv4, node.ipv6]);
    // The standby front streams the database and pulls recordings from the front (standby.ts); the front
    // does the same from the standby once a failback made it the standby.
    const standbyAddresses = replication?.role === "primary" ? [replication.standby.ipv4] : [];
    const copy = recordingsCopy(replication);
    const peerFronts = standby ? [standby.primary.ipv4] : [];
    const firewallInputs = pulumi
      .all([pulumi.all(nodeAddresses), pulumi.all(standbyAddresses), pulumi.all(peerFronts), pulumi.all(args.monitorAddresses ?? [])])
      .apply(([addresses, standbys, peers, monitors]) =>
        hostFirewallInputs(
          {
            ...hostPolicyInput(campus, host),
            nodeAddresses: addresses,
            standbyAddresses: standbys,
            peerFrontAddresses: peers,
            peerFrontCopiesRecordings: copy !== undefined,
            monitorAddresses: monitors,
          },
          host.fqdn,
        ),
      );
    const firewall = (this.firewall = this.steps.run(
      "hostFirewall",
      { RULESET_B64: firewallInputs.RULESET_B64, SSH_SOURCES: firewallInputs.SSH_SOURCES, SSH_PORT: firewallInputs.SSH_PORT },
      { dependsOn: [preflight] },
    ));
    const docker = this.steps.run(
      "scaleliteDocker",
      {
        POSTGRES_IMAGE: imageRef(POSTGRES_IMAGE),
        REDIS_IMAGE: imageRef(REDIS_IMAGE),
        IMAGE_PINS: imagePins([POSTGRES_IMAGE, REDIS_IMAGE]) || undefined,
        POSTGRES_PASSWORD: this.secrets.postgresPassword,
        DATA_DIR: SCALELITE_DATA_DIR,
        POSTGRES_PUBLISH: replication ? String(POSTGRES_PORT) : undefined,
      },
      { dependsOn: [preflight] },
    );
    const database =
      replication?.role === "primary"
        ? (this.replication = this.steps.run(
            "scaleliteReplicationPrimary",
            {
              DATA_DIR: SCALELITE_DATA_DIR,
              STANDBY_ADDRESSES: replication.standby.ipv4,
              REPLICATION_PASSWORD: replication.link.password,
              TLS_CERT_B64: replication.link.certificatePem.apply(base64),
              TLS_KEY_B64: pulumi.secret(replication.link.privateKeyPem.apply(base64)),
            },
            { dependsOn: [docker, firewall], held: rebuild !== undefined },
          ))
        : standby
          ? this.steps.run(
              "scaleliteReplicationStandby",
              {
                DATA_DIR: SCALELITE_DATA_DIR,
                POSTGRES_IMAGE: imageRef(POSTGRES_IMAGE),
                IMAGE_PINS: imagePins([POSTGRES_IMAGE]) || undefined,
                PRIMARY_ADDRESS: standby.primary.ipv4,
                REPLICATION_PASSWORD: standby.link.password,
                CA_CERT_B64: standby.link.caPem.apply(base64),
              },
              // Promoted by ops failover, it is no standby to rebuild: the script would refuse (front-role primary).
              { dependsOn: [docker, ...(standby.primary.replication ? [standby.primary.replication] : [])], held: args.serves },
            )
          : docker;
    if (standby) this.servesCheck = this.steps.run("scaleliteFrontServes", { SERVES: args.serves ? "true" : "false" });

    const cert = args.certificate;
    // With HTTP-01 the standby cannot prove the front's name before DNS points at it (frontFailover.ts).
    const certificate =
      standby && cert.challenge === "http-01"
        ? undefined
        : this.steps.run(
            "scaleliteCertificate",
            {
              FQDN: serviceFqdn,
              EMAIL: campus.config.adminEmail,
              CHALLENGE: cert.challenge,
              DNS_CREDENTIALS_B64: cert.challenge === "dns-01" ? pulumi.secret(cert.dnsCredentials.apply((c) => base64(renderOvhDnsIni(c)))) : undefined,
            },
            { dependsOn: [preflight, ...(fenced ? [fenced] : [])] },
          );

    const appDependsOn = [database, ...(certificate ? [certificate] : []), ...(fenced ? [fenced] : [])];
    if (campus.config.recordings) {
      const clients = args.recordingSenders.map(({ handle: node, transferPublicKey }) =>
        pulumi.all([node.ipv4, node.ipv6, transferPublicKey]).apply(([ipv4, ipv6, publicKey]) => ({ name: node.host.name, ipv4, ipv6, publicKey })),
      );
      // The other front's recordings copy reads here (read-only, from its address only) while it is the standby.
      const copyLine = copy
        ? pulumi
            .all([copy.peer.ipv4, copy.peerKey.publicKeyOpenssh])
            // IPv4 only: the copy connects to this front's IPv4, and the firewall admits the other front's IPv4 alone.
            .apply(([ipv4, publicKey]) => renderCopyAuthorizedKey({ name: copy.peer.name, ipv4, ipv6: "", publicKey }))
        : "";
      const authorizedKeys = pulumi.all([pulumi.all(clients), copyLine]).apply(([list, copy]) => base64(renderSpoolAuthorizedKeys(list) + copy));
      const senders = args.recordingSenders.map(({ handle }) => handle.host.name).join(" ");
      this.spool = this.steps.run(
        "scaleliteSpool",
        { RECORDING_DIR, AUTHORIZED_KEYS_B64: authorizedKeys, SENDERS: senders, RESERVE_BYTES: String(SPOOL_LIMITS.reserveBytes) },
        { dependsOn: [preflight] },
      );
      appDependsOn.push(this.spool);
      this.steps.run(
        "scaleliteMetrics",
        {
          RECORDING_DIR,
          SLEEPING_LIST: this.sleepingList,
          PLAN_B64: base64(renderPlanFile(campus)),
          CREDIT_ESTIMATE: creditEstimatePath(handle.sshUser),
        },
        { dependsOn: [this.spool] },
      );
      if (copy) {
        // Installed on both fronts: only the one that is the standby copies (scripts/scalelite-recordings-pull.sh).
        const files = nodeTransferFiles(STANDBY_COPY_DIR);
        this.steps.run(
          "scaleliteRecordingsCopy",
          {
            RECORDING_DIR,
            SSH_CONFIG_B64: copy.peer.ipv4.apply((address) => base64(renderTransferSshConfig({ address, port: copy.peer.sshPort, files }))),
            KNOWN_HOSTS_B64: copy.peer.hostKey.apply((key) => base64(renderTransferKnownHosts(key))),
            COPY_KEY_B64: pulumi.secret(copy.ownKey.privateKeyOpenssh.apply(base64)),
          },
          { dependsOn: [this.spool, ...(standby?.primary.spool ? [standby.primary.spool] : [])] },
        );
      }
    }

    const recordings = campus.config.recordings;
    const envFiles = pulumi.all([this.secrets.secretKeyBase, this.secrets.loadBalancerSecret, this.secrets.postgresPassword]).apply(([keyBase, lb, pg]) =>
      renderEnvFiles({
        fqdn: serviceFqdn,
        secretKeyBase: keyBase,
        loadBalancerSecret: lb,
        checksumAlgorithms: allowedChecksumAlgorithms(campus),
        postgresPassword: pg,
        pollIntervalSeconds: campus.config.scalelite.pollIntervalSeconds,
        recordings,
        protectedRecordings: campus.config.scalelite.protectedRecordings,
      }),
    );
    const envInput = (container: ScaleliteContainer) => pulumi.secret(envFiles.apply((files) => base64(files[container] ?? "")));
    const app = this.steps.run(
      "scaleliteApp",
      {
        SCALELITE_TAG: campus.config.scalelite.tag,
        IMAGE_PINS: imagePins(scaleliteImages(campus.config.scalelite.tag)) || undefined,
        RECORDING_DIR,
        RECORDINGS: String(recordings),
        START: standby ? "false" : undefined,
        ENV_FILE_B64: envInput("api"),
        ENV_NGINX_B64: envInput("nginx"),
        ENV_POLLER_B64: envInput("poller"),
        ENV_RECORDING_IMPORTER_B64: recordings ? envInput("recording-importer") : undefined,
      },
      { dependsOn: appDependsOn },
    );
    // A standby's Scalelite is stopped: its health is the database stream its replication step waited for.
    // Held on a rebuilt front: its name answers from the standby front until `ops failback`.
    this.health = standby ? app : this.steps.run("scaleliteHealth", { FQDN: host.fqdn }, { dependsOn: [app, firewall], held: rebuild !== undefined });

    this.registerOutputs({ fqdn: this.fqdn, ipv4: this.ipv4, url: this.url, loadBalancerSecret: this.loadBalancerSecret });
  }
}

/**
 * The recordings copy between the two fronts, seen from one of them: its own key, the other front (where it
 * pulls from while it is the standby) and the other front's key (which it admits read-only).
 */
function recordingsCopy(replication: ScaleliteFrontArgs["replication"]) {
  const keys = replication?.link.recordingsCopyKeys;
  if (!replication || !keys) return undefined;
  if (replication.role === "primary") {
    const other = replication.standby;
    const peer = { name: other.host.name, ipv4: other.ipv4, hostKey: other.hostKey, sshPort: sshPortOf(other.host) };
    return { peer, ownKey: keys.front, peerKey: keys.standby };
  }
  const other = replication.primary;
  const peer = { name: other.hostName, ipv4: other.ipv4, hostKey: other.hostKey, sshPort: other.sshPort };
  return { peer, ownKey: keys.standby, peerKey: keys.front };
}

/** Scalelite's secrets for a new front: the database password, SECRET_KEY_BASE and LOADBALANCER_SECRET. */
function frontSecrets(name: string, parent: pulumi.Resource): FrontSecrets {
  const postgresPassword = new random.RandomPassword(`${name}-postgres-password`, { length: 32, special: false }, { parent });
  // openssl rand -hex 64, as Scalelite's docs say; RandomBytes keeps its hex output secret in state.
  const secretKeyBase = new random.RandomBytes(`${name}-secret-key-base`, { length: 64 }, { parent });
  const lbSecret = new random.RandomPassword(`${name}-loadbalancer-secret`, { length: 64, special: false }, { parent });
  return { postgresPassword: pulumi.secret(postgresPassword.result), secretKeyBase: secretKeyBase.hex, loadBalancerSecret: pulumi.secret(lbSecret.result) };
}
