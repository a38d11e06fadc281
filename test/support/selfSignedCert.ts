import { execFileSync } from "node:child_process";

/**
 * A self-signed certificate for a test peer, valid one day, made by openssl: an EC P-256 key by default
 * (RSA 2048 where the peer's software wants one), subject CN=`name`, and an IP subjectAltName when
 * `name` is an address (TLS clients check the SAN, not the CN).
 */
export function selfSignedCert({ key, cert, name = "127.0.0.1", rsa = false }: { key: string; cert: string; name?: string; rsa?: boolean }): void {
  const keyArgs = rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  const san = /^[0-9.]+$/.test(name) ? ["-addext", `subjectAltName=IP:${name}`] : [];
  execFileSync("openssl", ["req", "-x509", ...keyArgs, "-nodes", "-days", "1", "-subj", `/CN=${name}`, ...san, "-keyout", key, "-out", cert], {
    stdio: "ignore",
  });
}
