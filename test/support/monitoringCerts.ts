import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** The scrape login's password in the monitoring tests. */
export const SCRAPE_PASSWORD = "scrape-password-for-tests";

/** A bcrypt hash of SCRAPE_PASSWORD by the C library's crypt (libxcrypt's $2b$), as Pulumi's random provider makes one. */
export const SCRAPE_HASH = execFileSync(
  "python3",
  ["-W", "ignore", "-c", `import crypt; print(crypt.crypt(${JSON.stringify(SCRAPE_PASSWORD)}, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))`],
  { encoding: "utf8" },
).trim();

/** Paths (in `dir`) and contents of a campus monitoring CA and of the certificate it signs for one host. */
export interface MonitoringCerts {
  caPath: string;
  certPath: string;
  keyPath: string;
  ca: string;
  cert: string;
  key: string;
}

/**
 * A CA and a certificate it signs for FQDN (and ADDRESS, an IPv4 the host is scraped at, when given), made by
 * openssl as @pulumi/tls makes them for CampusMonitoring's CertRequest (ECDSA P-256, dnsNames and ipAddresses).
 */
export function monitoringCerts(dir: string, fqdn: string, address?: string): MonitoringCerts {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  execFileSync("openssl", ["req", "-x509", ...ec, "-days", "1", "-subj", "/CN=test monitoring CA", "-keyout", f("ca.key"), "-out", f("ca.pem")], {
    stdio: "ignore",
  });
  execFileSync("openssl", ["req", ...ec, "-subj", `/CN=${fqdn}`, "-keyout", f("host.key"), "-out", f("host.csr")], { stdio: "ignore" });
  writeFileSync(f("ext"), `subjectAltName=DNS:${fqdn}${address ? `,IP:${address}` : ""}\nextendedKeyUsage=serverAuth\n`);
  const sign = ["x509", "-req", "-in", f("host.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "1"];
  execFileSync("openssl", [...sign, "-extfile", f("ext"), "-out", f("host.pem")], { stdio: "ignore" });
  const r = (n: string) => readFileSync(f(n), "utf8");
  return { caPath: f("ca.pem"), certPath: f("host.pem"), keyPath: f("host.key"), ca: r("ca.pem"), cert: r("host.pem"), key: r("host.key") };
}
