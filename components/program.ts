import * as pulumi from "@pulumi/pulumi";
import { CampusConfigError, CONFIG_KEYS, parseCampus, type Campus as CampusModel, type ConfigProblem, type SecretPresence } from "./config/campus";
import { Campus } from "./Campus";
import { publicKeyOfPrivateKey } from "./hosts/deployKey";
import { hasIpv6 } from "./hosts/ipv6";
import { rollingNodes, rollingProblems } from "./hosts/rollingNode";

const key = (full: string) => full.slice("bbb-ovh:".length);

/** A config error is the user's to fix: as a RunError, `pulumi up` shows the problems without a stack trace. */
function validated(raw: unknown, secrets: SecretPresence, secretProblems: ConfigProblem[]): CampusModel {
  let problems = secretProblems;
  let campus: CampusModel | undefined;
  try {
    // The real clock: a term already over is refused before anything is created.
    campus = parseCampus(raw, secrets, new Date());
  } catch (e) {
    if (!(e instanceof CampusConfigError)) throw e;
    problems = [...e.problems, ...secretProblems];
  }
  if (!campus || problems.length > 0) throw new pulumi.RunError(new CampusConfigError(problems).message);
  return campus;
}

/**
 * The whole program: validate the stack's campus config (every problem at once, nothing registered
 * when there is one), then build the campus. `index.ts` runs it under `pulumi up`; the offline plan
 * runs the same function under the mock runtime.
 */
export function campusProgram() {
  const config = new pulumi.Config("bbb-ovh");
  const secrets = {
    sshPrivateKey: config.getSecret(key(CONFIG_KEYS.sshPrivateKey)),
    turnSecret: config.getSecret(key(CONFIG_KEYS.turnSecret)),
    dnsCredentials: config.getSecretObject<Record<string, string>>(key(CONFIG_KEYS.dnsCredentials)),
    moodleSshPrivateKey: config.getSecret(key(CONFIG_KEYS.moodleSshPrivateKey)),
    smtpPassword: config.getSecret(key(CONFIG_KEYS.smtpPassword)),
    grafanaAdminPassword: config.getSecret(key(CONFIG_KEYS.grafanaAdminPassword)),
  };
  // The operator key's public half goes to OVH and OpenStack: derive it now, so a key that does not
  // parse is a config error before anything is created (the value itself is never printed).
  // Read from the runtime's config store: Config.get of a secret key warns on every run that it is read
  // in plain; the value only feeds the parse and the derived public half, never an output.
  const operatorKey = pulumi.runtime.getConfig(CONFIG_KEYS.sshPrivateKey);
  const derived = operatorKey === undefined ? undefined : publicKeyOfPrivateKey(operatorKey);
  const campus = validated(
    config.getObject("campus"),
    {
      sshPrivateKey: secrets.sshPrivateKey !== undefined,
      turnSecret: secrets.turnSecret !== undefined,
      dnsCredentials: secrets.dnsCredentials !== undefined,
      moodleSshPrivateKey: secrets.moodleSshPrivateKey !== undefined,
      backupS3Credentials: config.getSecret(key(CONFIG_KEYS.backupS3Credentials)) !== undefined,
      smtpPassword: secrets.smtpPassword !== undefined,
    },
    derived && "problem" in derived ? [{ path: CONFIG_KEYS.sshPrivateKey, message: derived.problem }] : [],
  );
  // Validated: a key that is set parses (derived holds its public half).
  const { sshPrivateKey, ...others } = secrets;
  const operatorPair = sshPrivateKey && derived && "publicKey" in derived ? { privateKey: sshPrivateKey, publicKey: derived.publicKey } : undefined;
  const rolling = rollingNodes();
  const rollingProblem = rollingProblems(campus, rolling);
  if (rollingProblem.length > 0) throw new pulumi.RunError(new CampusConfigError(rollingProblem).message);
  const site = new Campus(campus.config.id, { campus, secrets: { ...others, operatorKey: operatorPair }, rolling });
  const { frontUrl, moodleServerUrl, moodleSharedSecret, nodes, nodeSecrets, statusCommands, grafanaAdminPassword } = site.platform;
  return {
    campus: campus.config.id,
    frontFqdn: campus.front.fqdn,
    frontUrl,
    frontIpv4: site.front.ipv4,
    frontHostKey: site.front.hostKey,
    // ops reaches the standby front (campus.standbyFront) by these, as it reaches the front.
    ...(site.standbyFront ? { standbyIpv4: site.standbyFront.ipv4, standbyHostKey: site.standbyFront.hostKey } : {}),
    // Only for hosts with an IPv6 (their AAAA records): ops failover points the front's AAAA there, or parks it.
    ...(hasIpv6(campus.front.config) ? { frontIpv6: site.front.ipv6 } : {}),
    ...(site.standbyFront && campus.standbyFront && hasIpv6(campus.standbyFront.config) ? { standbyIpv6: site.standbyFront.ipv6 } : {}),
    nodes,
    moodleServerUrl,
    moodleSharedSecret,
    nodeSecrets,
    statusCommands,
    deployPublicKey: site.deployPublicKey,
    // campus.monitoring.grafana: `pulumi stack output --show-secrets grafanaAdminPassword` when it was generated.
    ...(grafanaAdminPassword ? { grafanaAdminPassword } : {}),
  };
}
