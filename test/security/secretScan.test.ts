/**
 * Secret scanning: every stack is evaluated with known values for its configured secrets and for
 * every secret the program generates (passwords, bytes, private keys), then everything that is not
 * marked secret is searched for them, plain or encoded: resource inputs (Command create, stdin,
 * environment, triggers...), stack outputs, the plan's text and JSON, and the plan CLI's output.
 * test/program/hosts.test.ts checks host-level secrets in inputs; this covers the whole platform.
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import * as path from "node:path";
import pLimit from "p-limit";
import { promisify } from "node:util";
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS, parseCampus } from "../../components/config/campus";
import { throwawayPrivateKey } from "../../components/hosts/deployKey";
import { readStackFile, secretPresence } from "../../components/config/stackFile";
import { capacityWarnings } from "../../components/planning/sizing";
import { campusProgram } from "../../components/program";
import { plannedCloud } from "../../cli/plan/mockCloud";
import { configOfStackFile, type Plan } from "../../cli/plan/planStack";
import { evaluateProgram, isSecretValue, type RecordedResource } from "../../cli/plan/recorder";
import { planDocument, renderPlanText } from "../../cli/plan/render";
import { evaluateStack, plainStrings } from "../support/evaluateStack";
import { encodedForms, findLeaks } from "./leaks";
import { PLAN_CLI } from "../support/distCli";

const ROOT = path.resolve(__dirname, "../..");
const hex = (s: string, n: number) => createHash("sha512").update(s).digest("hex").repeat(4).slice(0, n);

/** Configured secrets, with values distinctive enough to search for. */
const CONFIGURED = {
  // A real key (its public half is derived from it): random, so distinctive too.
  [CONFIG_KEYS.sshPrivateKey]: throwawayPrivateKey("KNOWNSSHKEY"),
  [CONFIG_KEYS.turnSecret]: `KNOWN-TURN-${hex("turn", 24)}`,
  [CONFIG_KEYS.moodleSshPrivateKey]: `-----BEGIN OPENSSH PRIVATE KEY-----\nKNOWNMOODLEKEY${hex("moodle", 48)}\n-----END OPENSSH PRIVATE KEY-----\n`,
  [CONFIG_KEYS.dnsCredentials]: JSON.stringify({
    endpoint: "ovh-eu",
    applicationKey: `KNOWNAK${hex("ak", 12)}`,
    applicationSecret: `KNOWNAS${hex("as", 24)}`,
    consumerKey: `KNOWNCK${hex("ck", 24)}`,
  }),
};

/** What the generators answer, by resource: known, distinctive values (plannedCloud leaves some out). */
function generatedOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, string> | undefined {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
    case "random:index/randomString:RandomString":
      return { result: `GEN${hex(`pw:${name}`, Number(inputs.length ?? 32) - 3)}` };
    case "random:index/randomBytes:RandomBytes": {
      const bytes = Buffer.from(hex(`bytes:${name}`, Number(inputs.length ?? 32) * 2), "hex");
      return { hex: bytes.toString("hex"), base64: bytes.toString("base64") };
    }
    case "tls:index/privateKey:PrivateKey": {
      const body = `GENKEY${hex(`key:${name}`, 64)}`;
      return {
        privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\n`,
        privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${body}PEM\n-----END PRIVATE KEY-----\n`,
      };
    }
    default:
      return undefined;
  }
}

const knownCloud: pulumi.runtime.Mocks = {
  async newResource(args) {
    const planned = await plannedCloud.newResource(args);
    return { ...planned, state: { ...planned.state, ...generatedOutputs(args.type, args.name, args.inputs) } };
  },
  call: plannedCloud.call,
};

interface Case {
  label: string;
  stack: string;
  mutate?: (campus: Record<string, any>) => void;
}

const CASES: Case[] = [
  ...["brest", "nantes", "rennes", "training", "lab"].map((stack) => ({ label: stack, stack })),
  {
    label: "brest with external TURN and DNS-01 certificates",
    stack: "brest",
    mutate: (c) => {
      c.turn = { mode: "external", host: "turn.isen-ouest.fr" };
      c.certificates = { challenge: "dns-01" };
    },
  },
  { label: "lab with allowTermination and recordings off", stack: "lab", mutate: (c) => ((c.protection = { allowTermination: true }), (c.recordings = false)) },
];

async function evaluateCase({ stack, mutate }: Case) {
  const file = readStackFile(stack);
  const raw = structuredClone(file.config[CONFIG_KEYS.campus].value) as Record<string, any>;
  mutate?.(raw);
  file.config[CONFIG_KEYS.campus] = { value: raw, encrypted: false };
  const needs = { ...secretPresence(file), turnSecret: raw.turn?.mode === "external", dnsCredentials: raw.certificates?.challenge === "dns-01" };
  const { config, secretKeys } = configOfStackFile(file);
  for (const [key, wanted] of [
    [CONFIG_KEYS.sshPrivateKey, needs.sshPrivateKey],
    [CONFIG_KEYS.turnSecret, needs.turnSecret],
    [CONFIG_KEYS.dnsCredentials, needs.dnsCredentials],
    [CONFIG_KEYS.moodleSshPrivateKey, needs.moodleSshPrivateKey],
  ] as const) {
    if (!wanted) continue;
    config[key] = CONFIGURED[key];
    if (!secretKeys.includes(key)) secretKeys.push(key);
  }
  const evaluation = await evaluateProgram({ project: "bbb-ovh", stack, config, secretKeys, mocks: knownCloud }, campusProgram);
  const campus = parseCampus(raw, needs);
  const plan: Plan = {
    stack,
    stackFile: file.path,
    campus,
    resources: evaluation.resources,
    outputs: evaluation.outputs as Record<string, unknown>,
    warnings: capacityWarnings(campus),
    notes: [],
  };
  const secrets = [
    ...Object.entries(needs)
      .filter(([, wanted]) => wanted)
      .flatMap(([key]) => {
        const value = CONFIGURED[CONFIG_KEYS[key as keyof typeof needs]];
        return key === "dnsCredentials"
          ? Object.entries(JSON.parse(value))
              .filter(([k]) => k !== "endpoint")
              .map(([k, v]) => ({ name: `dnsCredentials.${k}`, value: v as string }))
          : [{ name: key, value }];
      }),
    ...evaluation.resources.flatMap((r) =>
      Object.entries(generatedOutputs(r.type, r.name, r.inputs) ?? {}).map(([k, value]) => ({ name: `${r.name}.${k}`, value })),
    ),
  ];
  return { plan, secrets };
}

const describeResource = (r: RecordedResource) => `${r.type} ${r.name}`;

describe("secret scanning", () => {
  it.each(CASES)("$label: no secret, plain or encoded, in any non-secret input, output or plan rendering", async (c) => {
    const { plan, secrets } = await evaluateCase(c);
    // The generators really ran: otherwise the scan proves nothing.
    expect(secrets.filter((s) => s.name.endsWith(".result")).length).toBeGreaterThan(2);
    const texts = [
      ...plan.resources.flatMap((r) =>
        Object.entries(r.inputs).flatMap(([field, v]) => plainStrings(v).map((text) => ({ where: `${describeResource(r)} input ${field}`, text }))),
      ),
      ...plainStrings(plan.outputs).map((text) => ({ where: "stack outputs", text })),
      { where: "plan text", text: renderPlanText(plan) },
      { where: "plan --json", text: JSON.stringify(planDocument(plan)) },
    ];
    expect(findLeaks(texts, secrets)).toEqual([]);
  });

  it.each(CASES)("$label: each secret does reach the resources that need it, wrapped as a secret", async (c) => {
    // The counterpart of the scan: a secret that vanished altogether would also pass it.
    const { plan, secrets } = await evaluateCase(c);
    const wrapped = plan.resources.flatMap((r) =>
      Object.values(r.inputs).flatMap(function inside(v: unknown): string[] {
        if (isSecretValue(v)) return [JSON.stringify(v.value)];
        if (Array.isArray(v)) return v.flatMap(inside);
        if (v && typeof v === "object") return Object.values(v).flatMap(inside);
        return [];
      }),
    );
    const consumed = ["shared-secret.result", "loadbalancer-secret.result", "postgres-password.result", "secret-key-base.hex"];
    for (const s of secrets.filter(
      (x) => consumed.some((suffix) => x.name.endsWith(suffix)) || x.name.startsWith("dnsCredentials") || x.name === "turnSecret",
    )) {
      expect(
        findLeaks(
          wrapped.map((text) => ({ where: "secret inputs", text })),
          [s],
        ),
        s.name,
      ).not.toEqual([]);
    }
  });

  it.each(CASES)("$label: a step that carries a secret keeps its output out of logs and state", async (c) => {
    const { plan } = await evaluateCase(c);
    const steps = plan.resources.filter((r) => r.type === "command:remote:Command" && isSecretValue(r.inputs.stdin));
    expect(steps.length).toBeGreaterThan(0);
    for (const r of steps) {
      expect(r.inputs.logging, r.name).toBe("none");
      expect(r.additionalSecretOutputs, r.name).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    }
    for (const r of plan.resources.filter((x) => x.type === "command:remote:Command")) {
      // Values travel on stdin: the command line and environment hold none.
      expect(r.inputs.environment, r.name).toBeUndefined();
      // A guard (components/remote/HostStep.ts) has only a delete command; a step, only a create one.
      const command = r.inputs.create ?? r.inputs.delete;
      expect(typeof command === "string" && !isSecretValue(command), r.name).toBe(true);
    }
  });

  it("the plan CLI's text, JSON and stderr carry none of the secrets the planned stack generates", async () => {
    const run = promisify(execFile);
    const jobs = ["brest", "lab"].flatMap((stack) => [[stack], [stack, "--json"]]);
    // Two at a time: four plan processes at once only add to the load of a 2-core machine.
    const limit = pLimit(2);
    const outputs = await Promise.all(jobs.map((args) => limit(() => run(process.execPath, [PLAN_CLI, ...args], { cwd: ROOT, maxBuffer: 16 << 20 }))));
    for (const [i, args] of jobs.entries()) {
      const { resources } = await evaluateStack(args[0]);
      // What plannedCloud (the CLI's mocks) answers for the generators of this stack.
      const secrets = (
        await Promise.all(
          resources.map(async (r) => {
            const keys = Object.keys(generatedOutputs(r.type, r.name, r.inputs) ?? {});
            const { state } = await plannedCloud.newResource({ type: r.type, name: r.name, inputs: r.inputs, custom: true });
            return keys.filter((k) => typeof state[k] === "string" && state[k].length >= 8).map((k) => ({ name: `${r.name}.${k}`, value: state[k] as string }));
          }),
        )
      ).flat();
      expect(secrets.length).toBeGreaterThan(3);
      const { stdout, stderr } = outputs[i];
      expect(stdout.length).toBeGreaterThan(100);
      expect(
        findLeaks(
          [
            { where: `plan ${args.join(" ")} stdout`, text: stdout },
            { where: `plan ${args.join(" ")} stderr`, text: stderr },
          ],
          secrets,
        ),
      ).toEqual([]);
    }
    // Four plans and two evaluations: over 180 s with the load average at 30 (measured; the 180-s default ran out).
  }, 480_000);

  it("the scanner finds a secret in each form it claims to", () => {
    const secret = "s3cr3t-Value/with+chars=";
    const file = `SECRET=${secret}\nOTHER=1\n`;
    const cases = [
      secret,
      Buffer.from(secret).toString("base64"),
      Buffer.from(secret).toString("base64url"),
      encodeURIComponent(secret),
      `ENV_B64=${Buffer.from(file).toString("base64")}`,
      `x=${Buffer.from(`a ${Buffer.from(file).toString("base64")}`).toString("base64")}`,
    ];
    for (const text of cases) expect(findLeaks([{ where: "t", text }], [{ name: "s", value: secret }]), text).toHaveLength(1);
    expect(findLeaks([{ where: "t", text: "nothing here, only SECRET=***" }], [{ name: "s", value: secret }])).toEqual([]);
    expect(encodedForms(secret)).toContain(encodeURIComponent(secret));
  });
});
