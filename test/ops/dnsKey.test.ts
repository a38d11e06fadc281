/**
 * The DNS-01 key's rights: `ops dns-key-rules` prints the rules for the stack's zone, and
 * `ops status --dns-key-file` asks the OVH API (the loopback peer, test/support/ovhApiPeer.ts, which
 * checks the key's signature) what the key may do, and warns when that reaches beyond the zone.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dnsKeyRules } from "../../components/scalelite/dnsKeyRules";
import { renderOvhDnsIni } from "../../components/scalelite/renderOvhDnsIni";
import { startOvhApiPeer, type OvhApiPeer } from "../support/ovhApiPeer";
import { ops, opsProcess, scratch } from "./cli";

const REPO = path.resolve(__dirname, "../..");
const FAKES = path.join(__dirname, "fakes");
const ZONE = "isen-ouest.fr"; // stacks/Pulumi.training.yaml

let peer: OvhApiPeer;
let closedPort: number;
let keyFile: string;
let hostKey: string;

beforeAll(async () => {
  peer = await startOvhApiPeer("0123456789abcdef0123456789abcdef");
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  closedPort = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  const dir = scratch();
  keyFile = path.join(dir, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
  hostKey = readFileSync(`${keyFile}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
});

afterAll(() => peer?.close());

describe("ops dns-key-rules", () => {
  it("prints the rules of the stack's zone and the createToken link, offline", async () => {
    const run = await ops(["dns-key-rules", "training"], { env: {} });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`access rules for the DNS-01 key of zone ${ZONE}`);
    expect(run.stdout).toMatch(/ {2}DELETE \/domain\/zone\/isen-ouest\.fr\/record\/\*\n/);
    expect(run.stdout).not.toMatch(/\/domain\/zone\/\*/);
    expect(run.stdout).toMatch(/create it at: https:\/\/eu\.api\.ovh\.com\/createToken\/\?GET=\/domain\/zone\/&/);
  });
});

describe("ops status --dns-key-file", () => {
  /** `ops status` of the training stack with its front and node on closed loopback ports, and the DNS key file. */
  async function status(json: boolean, appSecret = peer.state.appSecret) {
    const home = scratch();
    const outputs = path.join(home, "outputs.json");
    writeFileSync(
      outputs,
      JSON.stringify({
        nodes: [{ name: "bbb-training-sbg", fqdn: "bbb1.training.isen-ouest.fr", apiUrl: `http://127.0.0.1:${closedPort}/bigbluebutton/api` }],
      }),
    );
    const ini = path.join(home, "certbot-dns-ovh.ini");
    const s = peer.state;
    writeFileSync(ini, renderOvhDnsIni({ endpoint: "ovh-eu", applicationKey: s.appKey, applicationSecret: appSecret, consumerKey: s.consumerKey }), {
      mode: 0o600,
    });
    const args = ["status", path.join(REPO, "stacks/Pulumi.training.yaml"), "--dns-key-file", ini, "--url", `http://127.0.0.1:${closedPort}/`];
    args.push("--host", "127.0.0.1", "--ssh-port", String(closedPort), "--ssh-key", keyFile, "--host-key", hostKey, ...(json ? ["--json"] : []));
    return opsProcess(args, {
      env: {
        PATH: `${FAKES}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
        HOME: home,
        FAKE_PULUMI_OUTPUTS: outputs,
        FAKE_PULUMI_LOG: path.join(home, "pulumi.log"),
        NODE_EXTRA_CA_CERTS: peer.caFile,
        OVH_API_URL: peer.url,
      },
    });
  }

  it("warns when the key may write every zone of the account, and names the rules", async () => {
    peer.state.credentialRules = [
      { method: "GET", path: "/domain/zone/*" },
      { method: "POST", path: "/domain/zone/*" },
      { method: "DELETE", path: "/domain/zone/*" },
    ];
    const before = peer.state.calls.length;
    const run = await status(false);
    expect(peer.state.calls.slice(before)).toContain("GET /auth/currentCredential");
    expect(run.stdout).toMatch(
      /dns-01 key: WARNING: its rules reach beyond the zone isen-ouest\.fr: GET \/domain\/zone\/\*, POST \/domain\/zone\/\*, DELETE \/domain\/zone\/\*/,
    );
    // The key's secrets never reach the output.
    expect(run.stdout + run.stderr).not.toContain(peer.state.appSecret);
    expect(run.stdout + run.stderr).not.toContain(peer.state.consumerKey);
  });

  it("is quiet about a key limited to the zone's records", async () => {
    peer.state.credentialRules = dnsKeyRules(ZONE);
    const run = await status(true);
    const report = JSON.parse(run.stdout);
    expect(report.dnsKey).toMatchObject({ zone: ZONE, ok: true, beyond: [] });
    expect(report.dnsKey.rules).toHaveLength(dnsKeyRules(ZONE).length);
  });

  it("says it cannot read the rules when the API refuses the key's signature", async () => {
    const report = JSON.parse((await status(true, "0".repeat(32))).stdout);
    expect(report.dnsKey).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/cannot read the key's rules \(GET \/auth\/currentCredential\): .*HTTP 400/),
    });
  });
});
