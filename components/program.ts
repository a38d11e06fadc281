import * as pulumi from "@pulumi/pulumi";
import { CampusConfigError, CONFIG_KEYS, parseCampus, type Campus as CampusModel, type SecretPresence } from "./config/campus";
import { Campus } from "./Campus";

const key = (full: string) => full.slice("bbb-ovh:".length);

/** A config error is the user's to fix: as a RunError, `pulumi up` shows the problems without a stack trace. */
function validated(raw: unknown, secrets: SecretPresence): CampusModel {
  try {
    return parseCampus(raw, secrets);
  } catch (e) {
    if (e instanceof CampusConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
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
  };
  const campus = validated(config.getObject("campus"), {
    sshPrivateKey: secrets.sshPrivateKey !== undefined,
    turnSecret: secrets.turnSecret !== undefined,
    dnsCredentials: secrets.dnsCredentials !== undefined,
    backupS3Credentials: config.getSecret(key(CONFIG_KEYS.backupS3Credentials)) !== undefined,
  });
  const site = new Campus(campus.config.id, { campus, secrets });
  const { frontUrl, moodleServerUrl, moodleSharedSecret, nodes, nodeSecrets, statusCommands } = site.platform;
  return {
    campus: campus.config.id,
    frontFqdn: campus.front.fqdn,
    frontUrl,
    frontIpv4: site.front.ipv4,
    frontHostKey: site.front.hostKey,
    nodes,
    moodleServerUrl,
    moodleSharedSecret,
    nodeSecrets,
    statusCommands,
    deployPublicKey: site.deployPublicKey,
  };
}
