/**
 * How the program logs in to the school's Moodle host (campus.moodle.ssh): with the key that host
 * already trusts (bbb-ovh:moodleSshPrivateKey), never with the deploy key generated during `pulumi up`
 * (the Moodle host has never seen it), and with its pinned host key when the stack gives one, since
 * that connection carries LOADBALANCER_SECRET.
 */
import { describe, expect, it } from "vitest";
import { isSecretValue, type RecordedResource } from "../../cli/plan/recorder";
import { evaluateStack } from "../support/evaluateStack";

const MOODLE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nmoodle-host-trusts-this\n-----END OPENSSH PRIVATE KEY-----";
// A real ed25519 key line (ssh-keygen, private half thrown away): the schema refuses one ssh-keygen cannot read.
const MOODLE_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK9LPtpAOaCruyHVGegSSbfi/+Heci9vnEl0coOMEMzc moodle";

const unwrap = (v: unknown) => (isSecretValue(v) ? v.value : v);
const connectionOf = (r: RecordedResource) => unwrap(r.inputs.connection) as Record<string, unknown>;
const keyIsSecret = (r: RecordedResource) => isSecretValue(r.inputs.connection) || isSecretValue(connectionOf(r).privateKey);
/** Everything that logs in to the Moodle host: its readiness check, the script copy, the steps. */
const moodleSteps = (resources: RecordedResource[]) =>
  resources.filter((r) => r.type.startsWith("command:remote:") && r.name.startsWith("brest-moodle-") && !r.name.endsWith("host-key-tofu"));

describe("the Moodle host login", () => {
  it("uses bbb-ovh:moodleSshPrivateKey, as a secret, for every step on the Moodle host", async () => {
    const { resources } = await evaluateStack("brest", { "bbb-ovh:moodleSshPrivateKey": MOODLE_KEY });
    const steps = moodleSteps(resources);
    expect(steps.map((r) => r.name)).toEqual(expect.arrayContaining(["brest-moodle-ssh", "brest-moodle-scripts", "brest-moodle-moodleConfigure"]));
    for (const step of steps) {
      expect(keyIsSecret(step), step.name).toBe(true);
      expect(unwrap(connectionOf(step).privateKey), step.name).toBe(MOODLE_KEY);
    }
  });

  it("pins the host key the stack gives (no trust on first use), and records it on first contact otherwise", async () => {
    const pinned = await evaluateStack("brest", { "bbb-ovh:moodleSshPrivateKey": MOODLE_KEY }, (c) => {
      c.moodle.ssh.hostKey = MOODLE_HOST_KEY;
    });
    expect(pinned.resources.filter((r) => r.name === "brest-moodle-host-key-tofu")).toEqual([]);
    for (const step of moodleSteps(pinned.resources)) expect(connectionOf(step).hostKey, step.name).toBe(MOODLE_HOST_KEY);

    const tofu = await evaluateStack("brest", { "bbb-ovh:moodleSshPrivateKey": MOODLE_KEY });
    const record = tofu.resources.find((r) => r.name === "brest-moodle-host-key-tofu");
    expect(record).toBeDefined();
    expect(unwrap(connectionOf(record!).privateKey)).toBe(MOODLE_KEY);
  });
});
