/**
 * bbb-node-exporter.sh over SSH on a loopback sshd host (test/support/sshd.ts). GitHub's codeload is the
 * fake web (test/fakes/lib/fake-web.sh) serving a tarball the test builds from the pinned upstream tree
 * (tools/upstream/prepare.sh), laid out like codeload's: one top directory `<repo>-<commit>/`.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BBB_EXPORTER, bbbExporterUrl, renderBbbExporterManifest, renderBbbExporterSettings } from "../../components/bbb/bbbExporter";
import { base64, type StepInputs } from "../../components/remote/invocation";
import { calls, mode, output, read } from "../support/hostState";
import { runStep, startTestHost, type TestHost } from "../support/sshd";
import { upstreamTree } from "../support/upstream";

const tree = upstreamTree("bigbluebutton-exporter");
const SECRET = randomBytes(24).toString("hex");
const UNIT = "bigbluebutton-exporter.service";
const hosts: TestHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

/** A codeload-shaped tarball of `dir` (optionally with one file altered), served for the pinned commit on host h. */
function serveTarball(h: TestHost, tamper?: string): void {
  const work = mkdtempSync(path.join(tmpdir(), "exporter-tarball-"));
  const top = `bigbluebutton-exporter-${BBB_EXPORTER.commit}`;
  expect(spawnSync("cp", ["-a", tree!, path.join(work, top)]).status).toBe(0);
  if (tamper) appendFileSync(path.join(work, top, tamper), "\n# changed\n");
  const dest = path.join(h.root, "fake-state/downloads/codeload/greenstatic/bigbluebutton-exporter");
  mkdirSync(dest, { recursive: true });
  expect(spawnSync("tar", ["-czf", path.join(dest, `${BBB_EXPORTER.commit}.tar.gz`), "-C", work, top]).status).toBe(0);
}

async function nodeWithBbb(): Promise<TestHost> {
  const h = await startTestHost();
  hosts.push(h);
  // What bbb-install leaves that the step relies on: BigBlueButton's data directory.
  mkdirSync(path.join(h.root, "var/bigbluebutton"), { recursive: true });
  return h;
}

const inputs = (h: TestHost): StepInputs => ({
  EXPORTER_URL: bbbExporterUrl(),
  MANIFEST_B64: base64(renderBbbExporterManifest()),
  SETTINGS_B64: base64(renderBbbExporterSettings(`https://${h.fqdn}/bigbluebutton/api/`, SECRET)),
});
const downloads = (h: TestHost) => calls(h).filter((c) => c.startsWith("curl ") && c.includes("codeload.github.com")).length;
const restarts = (h: TestHost) => calls(h).filter((c) => c === `systemctl restart ${UNIT}`).length;

describe.skipIf(!tree)("bbb-node-exporter", () => {
  it("installs the pinned files, a root-only settings file and the service, then changes nothing on a second run", async () => {
    const h = await nodeWithBbb();
    serveTarball(h);
    const r = await runStep(h, "bbbExporter", inputs(h));
    expect(r.code, output(r)).toBe(0);
    for (const file of Object.keys(BBB_EXPORTER.files)) {
      expect(read(h, `opt/bigbluebutton-exporter/${file}`)).toBe(readFileSync(path.join(tree!, file), "utf8"));
    }
    expect(mode(h, "etc/bigbluebutton-exporter/settings.env")).toBe("600");
    const settings = read(h, "etc/bigbluebutton-exporter/settings.env");
    expect(settings).toContain(`API_SECRET=${SECRET}\n`);
    expect(settings).toContain("RECORDINGS_METRICS_READ_FROM_DISK=true\n");
    expect(settings).toContain("PORT=9688\n");
    // Loopback only: it has neither TLS nor a login; the node's nginx serves it (monitoring-node.sh).
    expect(settings).toContain("BIND_IP=127.0.0.1\n");
    const unit = read(h, `etc/systemd/system/${UNIT}`);
    expect(unit).toContain("EnvironmentFile=/etc/bigbluebutton-exporter/settings.env\n");
    expect(unit).toContain("User=bbb-exporter\n");
    expect(read(h, `fake-state/systemd/${UNIT}.active`).trim()).toBe("active");
    expect(read(h, "fake-state/passwd")).toMatch(/^bbb-exporter:/m);
    // The secret is in the root-only file only: not in any command line, not in the step's output.
    expect(calls(h).join("\n")).not.toContain(SECRET);
    expect(output(r)).not.toContain(SECRET);
    expect([downloads(h), restarts(h)]).toEqual([1, 1]);

    const again = await runStep(h, "bbbExporter", inputs(h));
    expect(again.code, output(again)).toBe(0);
    expect([downloads(h), restarts(h)]).toEqual([1, 1]);

    // A new secret changes the settings only, and restarts the service once.
    const rotated = randomBytes(24).toString("hex");
    const third = await runStep(h, "bbbExporter", {
      ...inputs(h),
      SETTINGS_B64: base64(renderBbbExporterSettings(`https://${h.fqdn}/bigbluebutton/api/`, rotated)),
    });
    expect(third.code, output(third)).toBe(0);
    expect(read(h, "etc/bigbluebutton-exporter/settings.env")).toContain(`API_SECRET=${rotated}\n`);
    expect([downloads(h), restarts(h)]).toEqual([1, 2]);
  });

  it("refuses a tarball whose files are not the pinned ones, and installs nothing", async () => {
    const h = await nodeWithBbb();
    serveTarball(h, "bbb-exporter/collector.py");
    const r = await runStep(h, "bbbExporter", inputs(h));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bbb-exporter/collector.py: FAILED");
    expect(r.stderr).toContain("does not match the pinned sha256 of its files; not installed");
    expect(spawnSync("find", [path.join(h.root, "opt/bigbluebutton-exporter"), "-type", "f"]).stdout.toString()).toBe("");
    expect(calls(h).filter((c) => c.startsWith("systemctl restart"))).toEqual([]);
    // The refused download waits in the step's state directory (not /tmp) until the next run replaces it.
    const download = path.join(h.root, "var/lib/bbb-ovh/exporter-download");
    expect(existsSync(path.join(download, "source.tar.gz"))).toBe(true);
    serveTarball(h);
    const next = await runStep(h, "bbbExporter", inputs(h));
    expect(next.code, output(next)).toBe(0);
    expect(existsSync(download)).toBe(false);
  });

  it("refuses a node without BigBlueButton, and inputs that name no commit, before changing anything", async () => {
    const h = await startTestHost();
    hosts.push(h);
    const r = await runStep(h, "bbbExporter", inputs(h));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/var/bigbluebutton is missing");
    const tagged = await runStep(h, "bbbExporter", {
      ...inputs(h),
      EXPORTER_URL: "https://codeload.github.com/greenstatic/bigbluebutton-exporter/tar.gz/v0.7.1",
    });
    expect(tagged.code).toBe(1);
    expect(tagged.stderr).toContain("EXPORTER_URL must name a commit");
    expect(calls(h).filter((c) => c.startsWith("apt-get") || c.startsWith("curl"))).toEqual([]);
  });
});
