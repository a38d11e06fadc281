import { execFileSync } from "node:child_process";

/**
 * A self-signed certificate for a test peer, valid `days` (one by default), made by openssl: an EC P-256 key
 * by default (RSA 2048 where the peer's software wants one), subject CN=`name`, and an IP subjectAltName when
 * `name` is an address, a DNS one with `dns` (TLS clients and `openssl x509 -checkhost` read the SAN).
 */
export function selfSignedCert({
  key,
  cert,
  name = "127.0.0.1",
  rsa = false,
  days = 1,
  dns = false,
}: {
  key: string;
  cert: string;
  name?: string;
  rsa?: boolean;
  days?: number;
  dns?: boolean;
}): void {
  const keyArgs = rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  const san = /^[0-9.]+$/.test(name) ? ["-addext", `subjectAltName=IP:${name}`] : dns ? ["-addext", `subjectAltName=DNS:${name}`] : [];
  execFileSync("openssl", ["req", "-x509", ...keyArgs, "-nodes", "-days", String(days), "-subj", `/CN=${name}`, ...san, "-keyout", key, "-out", cert], {
    stdio: "ignore",
  });
}
