import { stringify } from "yaml";

/**
 * blackbox_exporter's modules (its CONFIGURATION.md): `https_2xx`, a GET that must answer 2xx over TLS
 * with a certificate valid for the name (fail_if_not_ssl), over IPv4 as the nodes are registered in
 * Scalelite by IPv4. The probe's probe_ssl_earliest_cert_expiry feeds CertificateExpiringSoon.
 */
export function renderBlackboxYml(): string {
  return stringify({
    modules: {
      https_2xx: {
        prober: "http",
        timeout: "10s",
        http: { method: "GET", fail_if_not_ssl: true, preferred_ip_protocol: "ip4", ip_protocol_fallback: false },
      },
    },
  });
}
