/**
 * The exporter files our nodes install (components/bbb/bbbExporter.ts) are exactly those of the pinned
 * upstream commit (tools/upstream/pins.tsv `bigbluebutton-exporter`), and the settings we write are ones
 * its settings.py reads.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BBB_EXPORTER, renderBbbExporterSettings } from "../../components/bbb/bbbExporter";
import { upstreamPins, upstreamTree } from "../support/upstream";

const tree = upstreamTree("bigbluebutton-exporter");

describe.skipIf(!tree)("bigbluebutton-exporter pin", () => {
  it("pins the same commit as pins.tsv, and every runtime file of it by its sha256", () => {
    const pin = upstreamPins().find((p) => p.name === "bigbluebutton-exporter")!;
    expect([pin.ref, pin.commit]).toEqual([BBB_EXPORTER.tag, BBB_EXPORTER.commit]);
    const runtime = readdirSync(path.join(tree!, "bbb-exporter"))
      .filter((f) => f.endsWith(".py") && !f.endsWith("_test.py"))
      .map((f) => `bbb-exporter/${f}`)
      .sort();
    expect(Object.keys(BBB_EXPORTER.files).sort()).toEqual(runtime);
    for (const [file, sha256] of Object.entries(BBB_EXPORTER.files)) {
      expect(
        createHash("sha256")
          .update(readFileSync(path.join(tree!, file)))
          .digest("hex"),
        file,
      ).toBe(sha256);
    }
  });

  it("writes only settings that settings.py reads, with its default port", () => {
    const settingsPy = readFileSync(path.join(tree!, "bbb-exporter/settings.py"), "utf8");
    for (const line of renderBbbExporterSettings("https://bbb.example.org/bigbluebutton/api/", "s").trimEnd().split("\n")) {
      const key = line.slice(0, line.indexOf("="));
      expect(settingsPy, key).toMatch(new RegExp(`os\\.(getenv|environ)[\\[(]"${key}"`));
    }
    expect(settingsPy).toContain(`int(os.getenv("PORT", ${BBB_EXPORTER.port}))`);
  });
});
