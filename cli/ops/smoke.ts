import { randomBytes } from "node:crypto";
import Table from "cli-table3";
import { signedUrl, type ChecksumAlgorithm } from "./bbbApi";
import { parseBbbResponse, type BbbResponse } from "./bbbXml";
import { classifyError, OpsError } from "./errors";
import { httpGet, type HttpOptions } from "./http";
import type { Progress } from "./progress";
import type { OpsTarget } from "./stackSource";

export interface SmokeStep {
  step: string;
  ok: boolean;
  ms?: number;
  detail: string;
}

export interface SmokeReport {
  endpoint: string;
  algorithm: ChecksumAlgorithm;
  meetingID: string;
  /** The node the meeting landed on (from the join redirect), with its stack name and datacenter when known. */
  landedOn?: { host: string; name?: string; datacenter?: string };
  steps: SmokeStep[];
  ok: boolean;
  /** The first failure, which sets the exit code. */
  failure?: { host: string; kind: string; message: string };
}

interface Call {
  response: BbbResponse;
  ms: number;
}

/**
 * Creates a meeting through the balancer with a signed API call, checks that moderator and attendee
 * join URLs are accepted (by the balancer, then by the node it redirects to), reads getMeetingInfo
 * and ends the meeting; every step is timed. The meeting is ended even when a middle step fails.
 */
export async function smoke(
  target: OpsTarget,
  opts: { algorithm: ChecksumAlgorithm; http: HttpOptions; createParams?: Record<string, string> },
  progress: Progress,
): Promise<SmokeReport> {
  const apiUrl = target.frontApiUrl;
  const secret = target.lbSecret;
  if (!apiUrl) throw new OpsError("config", "-", "no API endpoint: give --url or a stack");
  if (!secret)
    throw new OpsError(
      "config",
      new URL(apiUrl).host,
      "no shared secret: give --secret-file (or BBB_OVH_SECRET), or install the Pulumi CLI to read the stack's outputs",
    );
  const host = new URL(apiUrl).host;
  const meetingID = `bbb-ovh-smoke-${Date.now()}-${randomBytes(3).toString("hex")}`;
  const moderatorPW = randomBytes(8).toString("hex");
  const attendeePW = randomBytes(8).toString("hex");
  const report: SmokeReport = { endpoint: apiUrl, algorithm: opts.algorithm, meetingID, steps: [], ok: false };

  const record = (step: string, ok: boolean, detail: string, ms?: number) => report.steps.push({ step, ok, ms, detail });

  async function call(name: string, params: Record<string, string>): Promise<Call> {
    const response = await httpGet(signedUrl(apiUrl as string, name, params, secret as string, opts.algorithm), opts.http);
    if (response.status !== 200) throw new OpsError("http", host, `${name} answered HTTP ${response.status}`);
    let parsed: BbbResponse;
    try {
      parsed = parseBbbResponse(response.body);
    } catch (e) {
      throw new OpsError("api", host, `${name}: ${(e as Error).message}`);
    }
    if (parsed.returncode !== "SUCCESS") {
      const kind = parsed.messageKey === "checksumError" ? "checksum" : "api";
      throw new OpsError(kind, host, `${name}: ${parsed.messageKey ?? "FAILED"}: ${parsed.message ?? ""}`.trim());
    }
    return { response: parsed, ms: response.elapsedMs };
  }

  /** join answers with a redirect; through Scalelite it points at the node's own signed join, which is tried too. */
  async function join(role: string, password: string): Promise<void> {
    const first = await httpGet(
      signedUrl(apiUrl as string, "join", { fullName: `bbb-ovh smoke ${role}`, meetingID, password, redirect: "true" }, secret as string, opts.algorithm),
      opts.http,
    );
    if (first.status < 300 || first.status >= 400 || !first.location) {
      let why = `HTTP ${first.status}`;
      let kind: "checksum" | "api" = "api";
      try {
        const parsed = parseBbbResponse(first.body);
        why = `${parsed.messageKey ?? parsed.returncode}: ${parsed.message ?? ""}`.trim();
        if (parsed.messageKey === "checksumError") kind = "checksum";
      } catch {
        // not XML: keep the status
      }
      throw new OpsError(kind, host, `join (${role}) was not accepted: ${why}`);
    }
    const location = new URL(first.location, apiUrl);
    let detail = `redirected to ${location.host}`;
    let ms = first.elapsedMs;
    if (/\/bigbluebutton\/api\/join$/.test(location.pathname)) {
      const nodeHost = location.host;
      const second = await httpGet(location.toString(), opts.http);
      ms += second.elapsedMs;
      if (second.status < 300 || second.status >= 400) {
        let why = `HTTP ${second.status}`;
        let kind: "checksum" | "api" = "api";
        try {
          const parsed = parseBbbResponse(second.body);
          why = `${parsed.messageKey ?? parsed.returncode}: ${parsed.message ?? ""}`.trim();
          if (parsed.messageKey === "checksumError") kind = "checksum";
        } catch {
          // not XML
        }
        throw new OpsError(
          kind,
          nodeHost,
          `the node refused the balancer's join (${role}): ${why}${kind === "checksum" ? " (the secret Scalelite holds for this node is wrong)" : ""}`,
        );
      }
      detail = `accepted by ${nodeHost}`;
    }
    if (!report.landedOn) {
      const node = target.nodes.find((n) => n.fqdn === location.hostname || new URL(n.apiUrl).host === location.host);
      report.landedOn = { host: location.host, name: node?.name, datacenter: node?.datacenter };
    }
    record(`join ${role}`, true, detail, ms);
  }

  let created = false;
  const step = async (name: string, run: () => Promise<void>) => {
    progress.start(host, name);
    try {
      await run();
      progress.done(host, name);
    } catch (e) {
      const error = classifyError(e, host);
      progress.fail(host, name, error);
      record(name, false, error.message);
      throw error;
    }
  };
  try {
    await step("create", async () => {
      const r = await call("create", { name: "bbb-ovh smoke test", meetingID, moderatorPW, attendeePW, record: "false", ...opts.createParams });
      created = true;
      record("create", true, `meeting ${meetingID}`, r.ms);
    });
    await step("join moderator", () => join("moderator", moderatorPW));
    await step("join attendee", () => join("attendee", attendeePW));
    await step("getMeetingInfo", async () => {
      const r = await call("getMeetingInfo", { meetingID });
      if (r.response.fields.meetingID !== meetingID)
        throw new OpsError("api", host, `getMeetingInfo answered for meeting ${r.response.fields.meetingID ?? "?"}`);
      record("getMeetingInfo", true, `${r.response.fields.participantCount ?? "?"} participant(s), created ${r.response.fields.createTime ?? "?"}`, r.ms);
    });
  } catch (e) {
    report.failure = (e as OpsError).toJSON();
  }
  if (created) {
    try {
      await step("end", async () => {
        const r = await call("end", { meetingID, password: moderatorPW });
        record("end", true, r.response.messageKey ?? "ended", r.ms);
      });
    } catch (e) {
      report.failure ??= (e as OpsError).toJSON();
    }
  }
  report.ok = report.failure === undefined;
  return report;
}

export function renderSmoke(report: SmokeReport): string {
  const table = new Table({ head: ["step", "result", "time", "detail"], style: { head: [], border: [] } });
  for (const s of report.steps) table.push([s.step, s.ok ? "ok" : "FAILED", s.ms === undefined ? "-" : `${s.ms} ms`, s.detail]);
  const landed = report.landedOn
    ? `${report.landedOn.name ? `${report.landedOn.name} (${report.landedOn.host})` : report.landedOn.host}${report.landedOn.datacenter ? ` in ${report.landedOn.datacenter}` : ""}`
    : "unknown";
  return `smoke test of ${report.endpoint} (${report.algorithm}), meeting ${report.meetingID}\n${table.toString()}\nlanded on: ${landed}\n${report.ok ? "PASSED" : `FAILED: ${report.failure?.host}: ${report.failure?.kind}: ${report.failure?.message}`}\n`;
}
