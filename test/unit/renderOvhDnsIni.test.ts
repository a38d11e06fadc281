import { describe, expect, it } from "vitest";
import { renderOvhDnsIni } from "../../components/scalelite/renderOvhDnsIni";

const credentials = { endpoint: "ovh-eu", applicationKey: "AppKey123", applicationSecret: "AppSecret456", consumerKey: "Consumer789" };

describe("renderOvhDnsIni", () => {
  it("writes the four keys certbot-dns-ovh reads", () => {
    const lines = renderOvhDnsIni(credentials).trimEnd().split("\n");
    expect(Object.fromEntries(lines.map((l) => l.split(" = ")))).toEqual({
      dns_ovh_endpoint: "ovh-eu",
      dns_ovh_application_key: "AppKey123",
      dns_ovh_application_secret: "AppSecret456",
      dns_ovh_consumer_key: "Consumer789",
    });
  });

  it("names what is wrong without repeating any secret value", () => {
    const bad = { ...credentials, applicationSecret: "Secret With Space\n", consumerKey: undefined, extra: "x" };
    let message = "";
    try {
      renderOvhDnsIni(bad);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/applicationSecret is missing or not a plain token/);
    expect(message).toMatch(/consumerKey is missing/);
    expect(message).toMatch(/unknown key extra/);
    expect(message).not.toContain("Secret With Space");
  });
});
