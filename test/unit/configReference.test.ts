import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CONFIG_KEYS } from "../../components/config/campus";
import { renderConfigReference } from "../../tools/configReference";

const ROOT = path.resolve(__dirname, "../..");

describe("docs/config.md, the reference of every stack setting", () => {
  it("is what the schema generates today (run `npm run docs:config` after changing components/config/schema.ts)", () => {
    expect(readFileSync(path.join(ROOT, "docs/config.md"), "utf8")).toBe(renderConfigReference());
  });

  it("lists the settings of each host kind, with defaults and allowed values", () => {
    const doc = renderConfigReference();
    expect(doc).toMatch(/\| `campus\.nodes\[\] \(kind publicCloud\)\.flavor` \| string \| default `c2-60` \|/);
    expect(doc).toMatch(/\| `campus\.failover` \| string \| default `datacenter` \| one of `datacenter`, `node`, `none` \|/);
    expect(doc).toMatch(/\| `campus\.front \(kind existing\)\.ipv4` \|/);
  });
});

describe("Pulumi.yaml", () => {
  it("declares the campus key as the project's config, an object, as Pulumi's project file reference describes", () => {
    const project = parse(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config?: Record<string, { type?: string; description?: string }> };
    expect(project.config?.[CONFIG_KEYS.campus]?.type).toBe("object");
    expect(project.config?.[CONFIG_KEYS.campus]?.description).toContain("docs/config.md");
  });
});
