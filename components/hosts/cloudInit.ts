import { stringify } from "yaml";

export interface CloudInitInput {
  hostname: string;
  fqdn: string;
  /** Public keys allowed to log in as the default user (admins and the deploy key). */
  authorizedKeys: string[];
  /** The host key generated in Pulumi, so the first SSH connection is already pinned. */
  hostKey: { privateOpenssh: string; publicOpenssh: string };
}

/**
 * cloud-init user data for a Public Cloud instance. Installing our own host key means every SSH
 * connection can check `hostKey`; there is no trust-on-first-use moment. Contains a private key:
 * the caller keeps the result a Pulumi secret.
 */
export function renderCloudInit(input: CloudInitInput): string {
  const doc = {
    hostname: input.hostname,
    fqdn: input.fqdn,
    prefer_fqdn_over_hostname: true,
    ssh_authorized_keys: input.authorizedKeys,
    // With ssh_keys given, cloud-init's ssh module writes only these after deleting the image's keys
    // and generates none (cc_ssh.handle; ssh_genkeytypes is read only without ssh_keys, and an empty
    // list is rejected by cloud-init 22.4's schema as "too short").
    ssh_deletekeys: true,
    ssh_keys: {
      ed25519_private: input.hostKey.privateOpenssh,
      ed25519_public: input.hostKey.publicOpenssh.trim(),
    },
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
