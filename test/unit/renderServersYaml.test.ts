import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { nodeApiUrl, registrationStateInputs, renderServersYaml, type ScaleliteServer } from "../../components/scalelite/renderServersYaml";

const node = (fqdn: string, extra: Partial<ScaleliteServer> = {}): ScaleliteServer => ({
  id: fqdn,
  url: nodeApiUrl(fqdn),
  secret: `secret-of-${fqdn.split(".")[0]}`,
  loadMultiplier: 1,
  tag: "sbg",
  ...extra,
});

/** Scalelite's servers:sync rules (REFERENCE.md), checked independently of the renderer. */
function syncViolations(doc: unknown): string[] {
  const out: string[] = [];
  const root = doc as { servers?: Record<string, Record<string, unknown>> };
  if (Object.keys(root).join() !== "servers") out.push("top level must be exactly servers");
  for (const [id, s] of Object.entries(root.servers ?? {})) {
    if (!/^[a-zA-Z0-9_.-]+$/.test(id)) out.push(`${id}: id`);
    const extra = Object.keys(s).filter((k) => !["url", "secret", "enabled", "load_multiplier", "tag"].includes(k));
    if (extra.length) out.push(`${id}: extra keys ${extra}`);
    if (typeof s.secret !== "string" || s.secret === "") out.push(`${id}: secret`);
    if (typeof s.load_multiplier !== "number" || !(s.load_multiplier > 0)) out.push(`${id}: load_multiplier`);
    const url = new URL(String(s.url));
    if (!["http:", "https:"].includes(url.protocol) || url.hostname === "") out.push(`${id}: url`);
    if (typeof s.enabled !== "boolean") out.push(`${id}: enabled`);
  }
  return out;
}

describe("renderServersYaml", () => {
  const servers = [node("bbb2.example.org", { tag: "rbx", loadMultiplier: 2.5 }), node("bbb1.example.org")];

  it("renders every node enabled, under its FQDN, in a form servers:sync accepts", () => {
    const doc = parse(renderServersYaml(servers));
    expect(syncViolations(doc)).toEqual([]);
    expect(doc.servers["bbb2.example.org"]).toEqual({
      url: "https://bbb2.example.org/bigbluebutton/api",
      secret: "secret-of-bbb2",
      enabled: true,
      load_multiplier: 2.5,
      tag: "rbx",
    });
  });

  it("renders a node the stack declares cordoned with enabled: false, the others enabled for the front to merge", () => {
    const list = [node("bbb1.example.org", { state: "cordoned" }), node("bbb2.example.org", { state: "enabled" }), node("bbb3.example.org")];
    const doc = parse(renderServersYaml(list));
    expect(syncViolations(doc)).toEqual([]);
    expect(Object.fromEntries(Object.entries(doc.servers as Record<string, { enabled: boolean }>).map(([id, s]) => [id, s.enabled]))).toEqual({
      "bbb1.example.org": false,
      "bbb2.example.org": true,
      "bbb3.example.org": true,
    });
    // scalelite-register.sh edits `enabled: true` of a kept node in place: ids at two spaces, fields at four.
    expect(renderServersYaml(list)).toMatch(/^ {2}bbb3\.example\.org:\n(?: {4}\S.*\n)* {4}enabled: true\n/m);
    expect(registrationStateInputs(list)).toEqual({ KEEP_STATE_IDS: "bbb3.example.org", CORDONED_IDS: "bbb1.example.org" });
  });

  it("leaves tag out for an untagged node, so that Scalelite places untagged creates on it", () => {
    const doc = parse(renderServersYaml([node("bbb1.example.org", { tag: undefined })]));
    expect(doc.servers["bbb1.example.org"]).not.toHaveProperty("tag");
  });

  it("sorts servers so that the same set gives the same bytes", () => {
    const text = renderServersYaml(servers);
    expect(renderServersYaml([...servers].reverse())).toBe(text);
    expect(Object.keys(parse(text).servers)).toEqual(["bbb1.example.org", "bbb2.example.org"]);
  });

  it("keeps a secret that YAML would otherwise misread as a string", () => {
    const doc = parse(renderServersYaml([node("bbb1.example.org", { secret: "0123456789" }), node("bbb2.example.org", { secret: "true" })]));
    expect(doc.servers["bbb1.example.org"].secret).toBe("0123456789");
    expect(doc.servers["bbb2.example.org"].secret).toBe("true");
  });

  it("rejects every violation of the sync rules in one error", () => {
    const bad = [
      node("bbb1.example.org", { id: "bad id!", secret: "" }),
      node("bbb2.example.org", { loadMultiplier: 0, url: "ftp://bbb2.example.org/bigbluebutton/api" }),
      node("bbb3.example.org", { url: "https://bbb3.example.org/" }),
      node("bbb3.example.org", { loadMultiplier: Number.NaN }),
    ];
    let message = "";
    try {
      renderServersYaml(bad);
    } catch (e) {
      message = (e as Error).message;
    }
    for (const expected of [
      "id must match",
      "secret is required",
      "load_multiplier must be a number greater than 0",
      "must be http(s)",
      "must end in /bigbluebutton/api",
      "duplicate id",
    ]) {
      expect(message).toContain(expected);
    }
    expect(message.match(/load_multiplier/g)).toHaveLength(2);
  });

  it("refuses an empty list, which would cordon every node", () => {
    expect(() => renderServersYaml([])).toThrow(/no server/);
  });
});
