import { stringify } from "yaml";
import { EXPORTER_FILES, SCRAPE_USER } from "./monitoringLayout";

/**
 * The web-config file of an exporter (node_exporter, and Prometheus itself when the other front scrapes
 * it): TLS with the host's certificate and one basic-auth user, so a scrape across datacenters is
 * encrypted and authenticated. Format of prometheus/exporter-toolkit's docs/web-configuration.md
 * (tls_server_config cert_file/key_file, basic_auth_users: user -> bcrypt hash), read by node_exporter
 * 1.5 (--web.config.file; --web.config before 1.5) and Prometheus 2.24+ (--web.config.file).
 */
export function renderWebConfig(bcryptHash: string, files: { cert: string; key: string } = EXPORTER_FILES): string {
  assertBcrypt(bcryptHash, "web-config");
  return stringify({
    tls_server_config: { cert_file: files.cert, key_file: files.key, min_version: "TLS12" },
    basic_auth_users: { [SCRAPE_USER]: bcryptHash },
  });
}

/** Throws, naming `where`, unless `hash` is a bcrypt hash (what @pulumi/random's bcryptHash gives). */
export function assertBcrypt(hash: string, where: string): void {
  if (!/^\$2[aby]?\$\d{2}\$[./A-Za-z0-9]{53}$/.test(hash)) throw new Error(`${where}: the scrape password's hash is not a bcrypt hash`);
}
