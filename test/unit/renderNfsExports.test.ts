import { describe, expect, it } from "vitest";
import { renderNfsExports } from "../../components/scalelite/renderNfsExports";

const dir = "/mnt/scalelite-recordings/var/bigbluebutton";
const nodes = [
  { name: "bbb2", ipv4: "198.51.100.20", ipv6: "" },
  { name: "bbb1", ipv4: "198.51.100.10", ipv6: "2001:DB8::10" },
];

/** Splits an exports line into its path and client -> options pairs. */
function parseLine(text: string) {
  expect(text.endsWith("\n")).toBe(true);
  const [path, ...clients] = text.trim().split(/\s+/);
  return { path, clients: clients.map((c) => /^([^(]+)\(([^)]*)\)$/.exec(c)?.slice(1) ?? ["?", c]) };
}

describe("renderNfsExports", () => {
  it("exports the recording directory to each node address, IPv4 and known IPv6, and nothing else", () => {
    const { path, clients } = parseLine(renderNfsExports(dir, nodes));
    expect(path).toBe(dir);
    expect(clients.map(([host]) => host).sort()).toEqual(["198.51.100.10", "198.51.100.20", "2001:db8::10"]);
    for (const [host, options] of clients) {
      expect(host).not.toMatch(/[*/]/);
      expect(options.split(",")).toEqual(expect.arrayContaining(["rw", "sync", "root_squash", "no_subtree_check"]));
      expect(options).not.toMatch(/no_root_squash|insecure/);
    }
  });

  it("gives the same bytes for the same set of nodes in any order", () => {
    expect(renderNfsExports(dir, [...nodes].reverse())).toBe(renderNfsExports(dir, nodes));
  });

  it("refuses bad addresses, an empty client list and a relative path, naming each", () => {
    expect(() => renderNfsExports(dir, [{ name: "bbb1", ipv4: "*", ipv6: "10.0.0.1" }])).toThrow(/bbb1: '\*' is not an IPv4.*bbb1: '10.0.0.1' is not an IPv6/);
    expect(() => renderNfsExports(dir, [])).toThrow(/exported to nobody/);
    expect(() => renderNfsExports("recordings", nodes)).toThrow(/must be absolute/);
  });
});
