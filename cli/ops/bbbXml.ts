import { XMLParser } from "fast-xml-parser";

/** What a BBB API or Scalelite answer says: the return code, its message, scalar fields, meetings and recordings. */
export interface BbbResponse {
  returncode: string;
  messageKey?: string;
  message?: string;
  /** Top-level scalar fields of <response>. */
  fields: Record<string, string>;
  meetings: Array<Record<string, string>>;
  /** getRecordings: one entry per <recording>. */
  recordings: Array<Record<string, string>>;
}

// Values stay strings (meeting ids like "007" must not become numbers); <meeting> and <recording> are always lists.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (_name, path) => path === "response.meetings.meeting" || path === "response.recordings.recording",
});

/** Keeps the scalar children of an element (nested elements such as <attendees> are left out). */
function scalars(element: unknown): Record<string, string> {
  if (typeof element !== "object" || element === null) return {};
  return Object.fromEntries(Object.entries(element).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

/** Throws when the text is not a BBB <response> (an HTML error page, a proxy's answer ...). */
export function parseBbbResponse(xml: string): BbbResponse {
  let doc: { response?: unknown };
  try {
    doc = parser.parse(xml) as { response?: unknown };
  } catch {
    doc = {};
  }
  if (typeof doc.response !== "object" || doc.response === null) throw new Error(`not a BigBlueButton API response: ${JSON.stringify(xml.slice(0, 80))}`);
  const response = doc.response as Record<string, unknown>;
  const fields = scalars(response);
  const returncode = fields.returncode;
  if (returncode === undefined) throw new Error("BigBlueButton API response without <returncode>");
  const meetings = ((response.meetings as { meeting?: unknown[] } | undefined)?.meeting ?? []).map(scalars);
  const recordings = ((response.recordings as { recording?: unknown[] } | undefined)?.recording ?? []).map(scalars);
  return { returncode, messageKey: fields.messageKey, message: fields.message, fields, meetings, recordings };
}
