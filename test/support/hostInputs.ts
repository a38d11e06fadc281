/**
 * What the program hands to the providers about hosts, read back from a mock evaluation: cloud-init
 * user data, the public keys OVH and OpenStack receive, the decoded post-installation script. For the
 * conformance tests that feed them to the real programs (cloud-init, ssh-keygen).
 */
import { parse } from "yaml";
import { isSecretValue, type RecordedResource } from "../../cli/plan/recorder";
import { byType } from "./evaluateStack";

export const SERVER = "ovh:Dedicated/server:Server";
export const INSTANCE = "openstack:compute/instance:Instance";
export const KEYPAIR = "openstack:compute/keypair:Keypair";

export const unwrap = (v: unknown): unknown => (isSecretValue(v) ? v.value : v);

/** Turns every host of a campus into a Public Cloud instance (so that every stack renders user data). */
export function asPublicCloud(c: Record<string, any>): void {
  const regions = ["SBG5", "GRA11"];
  for (const [i, host] of [c.front, ...c.nodes].entries()) {
    for (const key of Object.keys(host)) if (!["name", "fqdn", "loadMultiplier", "tag"].includes(key)) delete host[key];
    Object.assign(host, { kind: "publicCloud", region: regions[i % 2], flavor: "c2-60" });
  }
  c.publicCloud = { projectId: "0123456789abcdef0123456789abcdef" };
}

export function userDataOf(resources: RecordedResource[]): Array<{ host: string; userData: string }> {
  return byType(resources, INSTANCE).map((i) => ({ host: i.name, userData: unwrap(i.inputs.userData) as string }));
}

export function postInstallScriptsOf(resources: RecordedResource[]): Array<{ host: string; script: string }> {
  return byType(resources, SERVER)
    .map((s) => ({ host: s.name, customizations: unwrap(s.inputs.customizations) as Record<string, unknown> | undefined }))
    .filter((s) => s.customizations?.postInstallationScript !== undefined)
    .map((s) => ({ host: s.host, script: Buffer.from(unwrap(s.customizations!.postInstallationScript) as string, "base64").toString("utf8") }));
}

/** Every public key line handed to a provider or written onto a host by our first-boot configuration. */
export function handedPublicKeys(resources: RecordedResource[], outputs: Record<string, unknown>): Array<{ where: string; key: string }> {
  const found: Array<{ where: string; key: string }> = [];
  for (const s of byType(resources, SERVER)) {
    const customizations = unwrap(s.inputs.customizations) as Record<string, unknown> | undefined;
    if (customizations?.sshKey !== undefined) found.push({ where: `${s.name} customizations.sshKey`, key: unwrap(customizations.sshKey) as string });
  }
  for (const k of byType(resources, KEYPAIR)) found.push({ where: `${k.name} OpenStack keypair publicKey`, key: unwrap(k.inputs.publicKey) as string });
  for (const { host, userData } of userDataOf(resources)) {
    const doc = parse(userData) as { ssh_authorized_keys?: string[]; ssh_keys?: { ed25519_public?: string } };
    for (const key of doc.ssh_authorized_keys ?? []) found.push({ where: `${host} cloud-init ssh_authorized_keys`, key });
    if (doc.ssh_keys?.ed25519_public) found.push({ where: `${host} cloud-init ssh_keys.ed25519_public`, key: doc.ssh_keys.ed25519_public });
  }
  for (const { host, script } of postInstallScriptsOf(resources)) {
    const value = (name: string) => Buffer.from(script.match(new RegExp(`^${name}='([^']*)'$`, "m"))?.[1] ?? "", "base64").toString("utf8");
    for (const key of value("ADMIN_KEYS_B64").split("\n").filter(Boolean)) found.push({ where: `${host} post-install admin keys`, key });
    found.push({ where: `${host} post-install host key`, key: value("HOST_PUB_B64").trim() });
  }
  if (outputs.deployPublicKey !== undefined) found.push({ where: "output deployPublicKey", key: unwrap(outputs.deployPublicKey) as string });
  return found;
}
