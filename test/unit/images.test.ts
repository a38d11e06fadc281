import { describe, expect, it } from "vitest";
import { IMAGE_DIGESTS, imagePins, imageRef, scaleliteImages } from "../../components/scalelite/images";

// Test values only: the shape of a digest, not a published one.
const DIGESTS = { "postgres:16": `sha256:${"a".repeat(64)}` };

describe("image pins", () => {
  it("adds the table's digest to an image, and leaves an unpinned image as name:tag", () => {
    expect(imageRef("postgres:16", DIGESTS)).toBe(`postgres:16@sha256:${"a".repeat(64)}`);
    expect(imageRef("redis:7", DIGESTS)).toBe("redis:7");
    expect(imagePins(["postgres:16", "redis:7"], DIGESTS)).toBe(`postgres:16@sha256:${"a".repeat(64)}`);
    expect(imagePins(["redis:7"], DIGESTS)).toBe("");
  });

  it("rejects a digest that is not sha256 and 64 lowercase hex digits", () => {
    expect(() => imageRef("redis:7", { "redis:7": "sha256:ABC" })).toThrow(/'redis:7' has 'sha256:ABC'/);
  });

  it("holds only well-formed digests, of tags not of latest", () => {
    for (const [image, digest] of Object.entries(IMAGE_DIGESTS)) {
      expect(image).toMatch(/^[a-z0-9./_-]+:(?!latest$)[A-Za-z0-9._-]+$/);
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  });

  it("names Scalelite's four images as its units do", () => {
    expect(scaleliteImages("v1.8.5")).toEqual(["api", "nginx", "poller", "recording-importer"].map((p) => `blindsidenetwks/scalelite:v1.8.5-${p}`));
  });
});
