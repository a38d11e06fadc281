import { describe, expect, it } from "vitest";
import { createTokenUrl, dnsKeyRules, rulesBeyondZone } from "../../components/scalelite/dnsKeyRules";
import { parseOvhDnsIni, renderOvhDnsIni } from "../../components/scalelite/renderOvhDnsIni";

describe("the DNS-01 key's OVH access rules", () => {
  it("name the campus zone in every record path, with the calls lexicon's OVH provider makes for certbot", () => {
    const rules = dnsKeyRules("isen-ouest.fr");
    expect(rules.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /domain/zone/",
      "GET /domain/zone/isen-ouest.fr/status",
      "GET /domain/zone/isen-ouest.fr/record",
      "GET /domain/zone/isen-ouest.fr/record/*",
      "POST /domain/zone/isen-ouest.fr/record",
      "DELETE /domain/zone/isen-ouest.fr/record/*",
      "POST /domain/zone/isen-ouest.fr/refresh",
      "GET /auth/currentCredential",
    ]);
    // No wildcard before the zone name: none of them reaches another zone.
    expect(rulesBeyondZone(rules, "isen-ouest.fr")).toEqual([]);
    expect(rulesBeyondZone(rules, "other.example.org").map((r) => r.path)).toContain("/domain/zone/isen-ouest.fr/record/*");
  });

  it("pre-fill OVH's createToken page for the stack's endpoint", () => {
    const url = createTokenUrl("ovh-eu", dnsKeyRules("school.example.org"));
    expect(url).toMatch(/^https:\/\/eu\.api\.ovh\.com\/createToken\/\?GET=\/domain\/zone\/&GET=\/domain\/zone\/school\.example\.org\/status&/);
    expect(url).toContain("DELETE=/domain/zone/school.example.org/record/*");
    expect(createTokenUrl("kimsufi-eu", [])).toBeUndefined();
  });

  it("flag rules that reach other zones or other APIs", () => {
    const zone = "school.example.org";
    const beyond = rulesBeyondZone(
      [
        { method: "GET", path: "/domain/zone/*" },
        { method: "PUT", path: "/domain/*" },
        { method: "POST", path: "/domain/zone/school.example.org*" },
        { method: "DELETE", path: "/cloud/project/*" },
        { method: "POST", path: "/domain/zone/school.example.org/record" },
        { method: "GET", path: "/domain/zone/school.example.org" },
      ],
      zone,
    );
    expect(beyond.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /domain/zone/*",
      "PUT /domain/*",
      "POST /domain/zone/school.example.org*",
      "DELETE /cloud/project/*",
    ]);
  });

  it("reads back the certbot-dns-ovh file the front gets, naming missing keys and never a value", () => {
    const creds = { endpoint: "ovh-eu", applicationKey: "ak1", applicationSecret: "as2", consumerKey: "ck3" };
    expect(parseOvhDnsIni(renderOvhDnsIni(creds))).toEqual(creds);
    expect(() => parseOvhDnsIni("dns_ovh_endpoint = ovh-eu\ndns_ovh_application_key = secretvalue\n")).toThrow(
      /lacks dns_ovh_application_secret, dns_ovh_consumer_key$/,
    );
  });
});
