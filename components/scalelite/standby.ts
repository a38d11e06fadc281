import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import type { FrontHandle } from "../hosts/HostHandle";

/**
 * What ties the front and its standby front (campus.standbyFront) together, made by Pulumi and kept as
 * secrets in state:
 * - the replication role's own password (not the database superuser's);
 * - each front's own SSH key for the recordings copy, which the other front accepts read-only: whichever
 *   is the standby pulls the serving one's recordings (scripts/scalelite-recordings-pull.sh), so a failback
 *   brings back what the standby front published while it served;
 * - a CA of their own and one server certificate it signs for BOTH fronts' addresses: the database is
 *   streamed over TLS checked with verify-full, and since pg_basebackup copies the certificate with the
 *   data, whichever front is primary (after `ops failover`) serves a certificate its standby accepts.
 */
export interface ReplicationLink {
  /** Each front's key for the recordings copy (read-only on the other front); none when the campus keeps no recordings. */
  recordingsCopyKeys?: { front: tls.PrivateKey; standby: tls.PrivateKey };
  password: pulumi.Output<string>;
  caPem: pulumi.Output<string>;
  certificatePem: pulumi.Output<string>;
  privateKeyPem: pulumi.Output<string>;
}

/** Ten years: the CA and certificate never leave the two fronts, and renewing them means a new base backup. */
const VALIDITY_HOURS = 10 * 365 * 24;

export function replicationLink(name: string, front: FrontHandle, standby: FrontHandle, recordings: boolean, parent: pulumi.Resource): ReplicationLink {
  const opts = { parent };
  const copyKey = (resource: string) =>
    new tls.PrivateKey(resource, { algorithm: "ED25519" }, { parent, additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"] });
  // The standby's keeps the name it had when only the standby copied, so existing stacks keep their key.
  const recordingsCopyKeys = recordings ? { standby: copyKey(`${name}-recordings-copy-key`), front: copyKey(`${name}-front-recordings-copy-key`) } : undefined;
  const password = new random.RandomPassword(`${name}-replication-password`, { length: 32, special: false }, opts);
  const caKey = new tls.PrivateKey(`${name}-replication-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
  const ca = new tls.SelfSignedCert(
    `${name}-replication-ca`,
    {
      privateKeyPem: caKey.privateKeyPem,
      isCaCertificate: true,
      validityPeriodHours: VALIDITY_HOURS,
      allowedUses: ["cert_signing", "crl_signing"],
      subject: { commonName: `${name} replication CA` },
    },
    opts,
  );
  const serverKey = new tls.PrivateKey(`${name}-replication-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
  const request = new tls.CertRequest(
    `${name}-replication-csr`,
    { privateKeyPem: serverKey.privateKeyPem, subject: { commonName: "scalelite-postgres" }, ipAddresses: [front.ipv4, standby.ipv4] },
    opts,
  );
  const certificate = new tls.LocallySignedCert(
    `${name}-replication-cert`,
    {
      certRequestPem: request.certRequestPem,
      caPrivateKeyPem: caKey.privateKeyPem,
      caCertPem: ca.certPem,
      validityPeriodHours: VALIDITY_HOURS,
      allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
    },
    opts,
  );
  return {
    recordingsCopyKeys,
    password: pulumi.secret(password.result),
    caPem: ca.certPem,
    certificatePem: certificate.certPem,
    privateKeyPem: pulumi.secret(serverKey.privateKeyPem),
  };
}
