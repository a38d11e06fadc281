import { randomBytes, randomUUID } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { algorithmOfChecksum, checksum, signedUrl, type ChecksumAlgorithm } from "../../cli/ops/bbbApi";

/**
 * A local HTTP(S) server that speaks the BigBlueButton API the way BBB and Scalelite answer it:
 * XML bodies with HTTP 200, `FAILED` + `checksumError` for a bad checksum, join as a redirect.
 *
 * - mode "bbb": a BigBlueButton node (accepts sha1/sha256/sha384/sha512 by checksum length).
 * - mode "scalelite": a balancer in front of `servers` (other instances in "bbb" mode): it places a
 *   meeting on the least-loaded enabled server, forwards create/getMeetingInfo/isMeetingRunning/end
 *   signed with that server's secret, and answers join with a redirect to the server's signed join URL,
 *   as Scalelite's BigBlueButtonApiController does. Scalelite infers the algorithm from the checksum's
 *   length and rejects sha384.
 *
 * Knobs (mutable while running): `secret`, `delayMs` (every answer waits), `healthBody`.
 */
export interface BalancedServer {
  id: string;
  apiUrl: string;
  secret: string;
  state: "enabled" | "cordoned" | "disabled";
}

export interface BbbApiServerOptions {
  mode?: "bbb" | "scalelite";
  secret: string;
  delayMs?: number;
  servers?: BalancedServer[];
  /** Announced by the unsigned index call (allowRevealOfBBBVersion=true). */
  bbbVersion?: string;
  tls?: { key: string; cert: string };
  /**
   * "scalelite" mode: where a create goes, decided by Scalelite's own code instead of least-loaded (e.g.
   * the harness's Server.find_available(meta_server-tag), as BigBlueButtonApiController#create asks it):
   * the id of the server, or the error Scalelite answers with.
   */
  place?: (tag: string | undefined) => Promise<{ id?: string; error?: string }>;
}

interface Meeting {
  meetingID: string;
  name: string;
  internalMeetingID: string;
  moderatorPW: string;
  attendeePW: string;
  createTime: number;
  participants: number;
  /** Scalelite only: where the meeting lives. */
  server?: BalancedServer;
}

export interface RecordedCall {
  call: string;
  query: string;
  accepted: boolean;
}

export interface BbbApiServer {
  url: string;
  /** `${url}/bigbluebutton/api` */
  apiUrl: string;
  port: number;
  host: string;
  mode: "bbb" | "scalelite";
  secret: string;
  delayMs: number;
  healthBody: string;
  servers: BalancedServer[];
  meetings: Map<string, Meeting>;
  calls: RecordedCall[];
  /** Adds a running meeting with this many participants (for getMeetings/status). */
  seedMeeting(meetingID: string, participants: number): void;
  /** Recording ids getRecordings lists (any state), in "bbb" mode. */
  recordings: string[];
  close(): Promise<void>;
}

const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const xml = (fields: Record<string, string | number | boolean>, inner = "") =>
  `<response>${Object.entries(fields)
    .map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`)
    .join("")}${inner}</response>`;
const failed = (messageKey: string, message: string) => xml({ returncode: "FAILED", messageKey, message });

function meetingXml(m: Meeting): string {
  return `<meetingName>${xmlEscape(m.name)}</meetingName><meetingID>${xmlEscape(m.meetingID)}</meetingID><internalMeetingID>${m.internalMeetingID}</internalMeetingID><createTime>${m.createTime}</createTime><attendeePW>${xmlEscape(m.attendeePW)}</attendeePW><moderatorPW>${xmlEscape(m.moderatorPW)}</moderatorPW><running>${m.participants > 0}</running><participantCount>${m.participants}</participantCount><listenerCount>0</listenerCount><voiceParticipantCount>0</voiceParticipantCount><videoCount>0</videoCount><maxUsers>0</maxUsers><moderatorCount>0</moderatorCount><isBreakout>false</isBreakout><attendees></attendees><metadata></metadata>`;
}

export async function startBbbApiServer(options: BbbApiServerOptions): Promise<BbbApiServer> {
  const mode = options.mode ?? "bbb";
  const accepted: ChecksumAlgorithm[] = mode === "scalelite" ? ["sha1", "sha256", "sha512"] : ["sha1", "sha256", "sha384", "sha512"];
  const meetings = new Map<string, Meeting>();
  const calls: RecordedCall[] = [];
  const recordings: string[] = [];
  let origin = "";

  const state = {
    secret: options.secret,
    delayMs: options.delayMs ?? 0,
    healthBody: "success",
    servers: options.servers ?? [],
  };

  function verify(call: string, rawQuery: string): boolean {
    const given = new URLSearchParams(rawQuery).get("checksum") ?? "";
    const algorithm = algorithmOfChecksum(given);
    if (!algorithm || !accepted.includes(algorithm)) return false;
    // As both servers do: the checksum parameter is cut out of the raw query string, not re-encoded.
    const escaped = given.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const query = rawQuery.replace(new RegExp(`&checksum=${escaped}|checksum=${escaped}&|checksum=${escaped}`), "");
    return checksum(call, query, state.secret, algorithm) === given;
  }

  async function forward(server: BalancedServer, call: string, params: Record<string, string>): Promise<string> {
    const response = await fetch(signedUrl(server.apiUrl, call, params, server.secret, "sha256"), { signal: AbortSignal.timeout(5000) });
    return response.text();
  }

  async function bbbCall(call: string, q: URLSearchParams): Promise<{ status: number; body: string; location?: string }> {
    const id = q.get("meetingID") ?? "";
    const ok = (body: string) => ({ status: 200, body });
    switch (call) {
      case "create": {
        if (!id) return ok(failed("missingParamMeetingID", "You must specify a meeting ID for the meeting."));
        const existing = meetings.get(id);
        if (existing)
          return ok(
            xml({
              returncode: "SUCCESS",
              meetingID: id,
              internalMeetingID: existing.internalMeetingID,
              attendeePW: existing.attendeePW,
              moderatorPW: existing.moderatorPW,
              createTime: existing.createTime,
              hasUserJoined: false,
              messageKey: "duplicateWarning",
              message: "This conference was already in existence and may currently be in progress.",
            }),
          );
        const m: Meeting = {
          meetingID: id,
          name: q.get("name") ?? id,
          internalMeetingID: `${randomBytes(20).toString("hex")}-${Date.now()}`,
          moderatorPW: q.get("moderatorPW") ?? randomBytes(4).toString("hex"),
          attendeePW: q.get("attendeePW") ?? randomBytes(4).toString("hex"),
          createTime: Date.now(),
          participants: 0,
        };
        meetings.set(id, m);
        return ok(
          xml({
            returncode: "SUCCESS",
            meetingID: id,
            internalMeetingID: m.internalMeetingID,
            attendeePW: m.attendeePW,
            moderatorPW: m.moderatorPW,
            createTime: m.createTime,
            hasUserJoined: false,
            duration: 0,
            hasBeenForciblyEnded: false,
          }),
        );
      }
      case "join": {
        const m = meetings.get(id);
        if (!m) return ok(failed("invalidMeetingIdentifier", "The meeting ID that you supplied did not match any existing meetings"));
        const password = q.get("password");
        if (password !== m.moderatorPW && password !== m.attendeePW)
          return ok(
            failed(
              "invalidPassword",
              "You either did not supply a password or the password supplied is neither the attendee or moderator password for this conference.",
            ),
          );
        return { status: 302, body: "", location: `${origin}/html5client/join?sessionToken=${randomBytes(8).toString("hex")}` };
      }
      case "getMeetingInfo": {
        const m = meetings.get(id);
        if (!m) return ok(failed("notFound", "We could not find a meeting with that meeting ID"));
        return ok(`<response><returncode>SUCCESS</returncode>${meetingXml(m)}</response>`);
      }
      case "isMeetingRunning":
        return ok(xml({ returncode: "SUCCESS", running: (meetings.get(id)?.participants ?? 0) > 0 }));
      case "end": {
        if (!meetings.delete(id)) return ok(failed("notFound", "We could not find a meeting with that meeting ID - perhaps the meeting is not yet running?"));
        return ok(xml({ returncode: "SUCCESS", messageKey: "sentEndMeetingRequest", message: "A request to end the meeting was sent." }));
      }
      case "getRecordings": {
        // BBB API docs, getRecordings: <recordings><recording>... or messageKey noRecordings when empty.
        if (recordings.length === 0)
          return ok(xml({ returncode: "SUCCESS", messageKey: "noRecordings", message: "There are no recordings for the meeting(s)." }, "<recordings/>"));
        return ok(
          `<response><returncode>SUCCESS</returncode><recordings>${recordings.map((r) => `<recording><recordID>${xmlEscape(r)}</recordID><state>processing</state></recording>`).join("")}</recordings></response>`,
        );
      }
      case "getMeetings": {
        if (meetings.size === 0)
          return ok(xml({ returncode: "SUCCESS", messageKey: "noMeetings", message: "no meetings were found on this server" }, "<meetings/>"));
        return ok(
          `<response><returncode>SUCCESS</returncode><meetings>${[...meetings.values()].map((m) => `<meeting>${meetingXml(m)}</meeting>`).join("")}</meetings></response>`,
        );
      }
      default:
        return ok(failed("unsupportedRequest", "This request is not supported."));
    }
  }

  async function scaleliteCall(call: string, q: URLSearchParams): Promise<{ status: number; body: string; location?: string }> {
    const id = q.get("meetingID") ?? "";
    const params = Object.fromEntries([...q.entries()].filter(([k]) => k !== "checksum"));
    const ok = (body: string) => ({ status: 200, body });
    const notFound = () => ok(failed("notFound", "We could not find a meeting with that meeting ID - perhaps the meeting is not yet running?"));
    if (call !== "getMeetings" && call !== "create" && !id) return ok(failed("missingParamMeetingID", "You must specify a meeting ID for the meeting."));
    switch (call) {
      case "create": {
        let m = meetings.get(id);
        if (!m) {
          let server: BalancedServer | undefined;
          if (options.place) {
            const placed = await options.place(q.get("meta_server-tag") ?? undefined);
            if (!placed.id) return ok(failed("internalError", placed.error ?? "Could not find any available servers."));
            server = state.servers.find((s) => s.id === placed.id);
          } else {
            const load = (s: BalancedServer) => [...meetings.values()].filter((x) => x.server === s).length;
            server = state.servers.filter((s) => s.state === "enabled").sort((a, b) => load(a) - load(b))[0];
          }
          if (!server) return ok(failed("internalError", "Could not find any available servers."));
          m = {
            meetingID: id,
            name: q.get("name") ?? id,
            internalMeetingID: "",
            moderatorPW: q.get("moderatorPW") ?? randomBytes(4).toString("hex"),
            attendeePW: q.get("attendeePW") ?? "",
            createTime: Date.now(),
            participants: 0,
            server,
          };
          meetings.set(id, m);
        }
        return ok(await forward(m.server as BalancedServer, "create", { ...params, moderatorPW: m.moderatorPW }));
      }
      case "join": {
        const m = meetings.get(id);
        if (!m?.server) return notFound();
        if (m.server.state === "disabled") return ok(failed("serverUnavailable", "The server that the meeting is on is unavailable."));
        return { status: 302, body: "", location: signedUrl(m.server.apiUrl, "join", params, m.server.secret, "sha256") };
      }
      case "getMeetingInfo":
      case "isMeetingRunning": {
        const m = meetings.get(id);
        if (!m?.server) return call === "isMeetingRunning" ? ok(xml({ returncode: "SUCCESS", running: false })) : notFound();
        return ok(await forward(m.server, call, { meetingID: id }));
      }
      case "end": {
        const m = meetings.get(id);
        if (!m?.server) return notFound();
        meetings.delete(id);
        return ok(await forward(m.server, "end", { meetingID: id, ...(q.get("password") ? { password: q.get("password") as string } : {}) }));
      }
      case "getMeetings": {
        const bodies = await Promise.all(state.servers.filter((s) => s.state !== "disabled").map((s) => forward(s, "getMeetings", {})));
        const all = bodies.flatMap((b) => [...b.matchAll(/<meeting>[\s\S]*?<\/meeting>/g)].map((m) => m[0]));
        if (all.length === 0)
          return ok(xml({ returncode: "SUCCESS", messageKey: "noMeetings", message: "no meetings were found on this server" }, "<meetings/>"));
        return ok(`<response><returncode>SUCCESS</returncode><meetings>${all.join("")}</meetings></response>`);
      }
      default:
        return ok(failed("unsupportedRequest", "This request is not supported."));
    }
  }

  const handler: http.RequestListener = (req, res) => {
    const [pathname, rawQuery = ""] = (req.url ?? "/").split("?", 2);
    const respond = async () => {
      if (pathname === "/health_check") return { status: 200, body: state.healthBody, type: "text/plain" };
      const api = /^\/bigbluebutton\/api\/?([A-Za-z]*)$/.exec(pathname);
      if (!api) return { status: 404, body: "<html><body>Not Found</body></html>", type: "text/html" };
      const call = api[1];
      if (call === "") {
        const fields: Record<string, string> = { returncode: "SUCCESS", version: "2.0" };
        if (mode === "bbb" && options.bbbVersion) Object.assign(fields, { apiVersion: "2.0", bbbVersion: options.bbbVersion });
        return { status: 200, body: xml(fields), type: "text/xml" };
      }
      const good = verify(call, rawQuery);
      calls.push({ call, query: rawQuery, accepted: good });
      if (!good) return { status: 200, body: failed("checksumError", "You did not pass the checksum security check"), type: "text/xml" };
      const q = new URLSearchParams(rawQuery);
      const answer = await (mode === "scalelite" ? scaleliteCall(call, q) : bbbCall(call, q));
      return { ...answer, type: "text/xml" };
    };
    setTimeout(() => {
      respond().then(
        (a) => {
          const headers: Record<string, string> = { "content-type": `${a.type}; charset=utf-8` };
          if ("location" in a && a.location) headers.location = a.location;
          res.writeHead(a.status, headers).end(a.body);
        },
        (e: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(e.message),
      );
    }, state.delayMs);
  };

  const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  origin = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;

  // The knobs a test turns (secret, delay, health body, servers) are the very state the handlers read.
  const api: BbbApiServer = Object.assign(state, {
    url: origin,
    apiUrl: `${origin}/bigbluebutton/api`,
    port,
    host: `127.0.0.1:${port}`,
    mode,
    meetings,
    calls,
    recordings,
    seedMeeting(meetingID: string, participants: number) {
      meetings.set(meetingID, {
        meetingID,
        name: meetingID,
        internalMeetingID: randomUUID(),
        moderatorPW: "mp",
        attendeePW: "ap",
        createTime: Date.now(),
        participants,
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return api;
}
