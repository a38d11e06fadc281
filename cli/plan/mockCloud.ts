import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";

/**
 * The outside world as the offline plan imagines it: what OVH, OpenStack and the other providers
 * would answer, made up deterministically from resource names, so that the same stack always plans
 * the same way. Addresses come from the documentation ranges (RFC 5737 / RFC 3849).
 */
const digest = (s: string) => createHash("sha256").update(s).digest();

export function plannedIpv4(name: string): string {
  const d = digest(name);
  const nets = ["192.0.2", "198.51.100", "203.0.113"];
  return `${nets[d[0] % 3]}.${(d[1] % 250) + 2}`;
}

export function plannedIpv6(name: string): string {
  const d = digest(name);
  return `2001:db8:${d.readUInt16BE(2).toString(16)}::${d.readUInt16BE(4).toString(16)}`;
}

function plannedPublicKey(name: string): string {
  // An ed25519 public key blob: string "ssh-ed25519" + 32 key bytes, as OpenSSH encodes it.
  const type = Buffer.from("ssh-ed25519");
  const blob = Buffer.concat([Buffer.from([0, 0, 0, type.length]), type, Buffer.from([0, 0, 0, 32]), digest(`key:${name}`)]);
  return `ssh-ed25519 ${blob.toString("base64")}`;
}

/** Outputs the providers would add to a resource's inputs, by type token. */
function outputsFor(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "ovh:Dedicated/server:Server":
      return { ip: plannedIpv4(name), serviceName: inputs.serviceName ?? `ns${digest(name).readUInt32BE(0) % 100000}.ip-planned.eu`, name: name, state: "ok" };
    case "openstack:compute/instance:Instance":
      return { accessIpV4: plannedIpv4(name), accessIpV6: plannedIpv6(name) };
    case "openstack:networking/secGroup:SecGroup":
      return { id: `sg-${digest(name).toString("hex").slice(0, 8)}` };
    case "tls:index/privateKey:PrivateKey":
      return {
        publicKeyOpenssh: `${plannedPublicKey(name)}\n`,
        privateKeyOpenssh: `(planned private key ${name})`,
        privateKeyPem: `(planned private key ${name})`,
      };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { certPem: `(planned certificate ${name})` };
    case "tls:index/certRequest:CertRequest":
      return { certRequestPem: `(planned certificate request ${name})` };
    case "random:index/randomPassword:RandomPassword":
    case "random:index/randomString:RandomString":
      // Letters and digits only, like the generated secrets the program asks for; RandomPassword also
      // answers its bcryptHash, shaped as bcrypt's "$2a$10$" + 53 characters of its own base64 alphabet.
      return {
        result: `planned${digest(`secret:${name}`).toString("hex")}`.repeat(4).slice(0, Number(inputs.length ?? 32)),
        bcryptHash: `$2a$10$${Buffer.concat([digest(`bcrypt:${name}`), digest(`bcrypt2:${name}`)])
          .toString("base64")
          .replace(/[+=]/g, ".")
          .slice(0, 53)}`,
      };
    case "random:index/randomBytes:RandomBytes": {
      const bytes = Buffer.alloc(Number(inputs.length ?? 32), digest(`bytes:${name}`));
      return { hex: bytes.toString("hex"), base64: bytes.toString("base64") };
    }
    case "random:index/randomId:RandomId":
      return {
        hex: digest(`id:${name}`)
          .toString("hex")
          .padEnd(Number(inputs.byteLength ?? 32) * 2, "0")
          .slice(0, Number(inputs.byteLength ?? 32) * 2),
      };
    case "ovh:CloudProject/s3Credential:S3Credential":
      return {
        accessKeyId: `planned${digest(`s3:${name}`).toString("hex").slice(0, 24)}`,
        secretAccessKey: `planned${digest(`s3-secret:${name}`).toString("hex")}`,
      };
    case "command:remote:Command":
      return { stdout: name.endsWith("host-key-tofu") ? plannedPublicKey(name) : "", stderr: "" };
    default:
      return {};
  }
}

export const plannedCloud: pulumi.runtime.Mocks = {
  newResource(args) {
    return { id: `${args.name}-id`, state: { ...args.inputs, ...outputsFor(args.type, args.name, args.inputs) } };
  },
  call(args) {
    // An image look-up answers with an image of that region (made up from the request).
    if (args.token === "openstack:images/getImage:getImage") return { ...args.inputs, id: `image-${args.inputs.region}-${args.inputs.nameRegex}` };
    return args.inputs;
  },
};
