/**
 * Reads the flat XML that the BBB API and Scalelite answer with. The responses are small and shallow
 * (response > fields, response > meetings > meeting > fields), so a tag reader is enough; attribute
 * values, CDATA and the five XML entities are handled.
 */
export interface BbbResponse {
  returncode: string;
  messageKey?: string;
  message?: string;
  /** Top-level scalar fields of <response>. */
  fields: Record<string, string>;
  meetings: Array<Record<string, string>>;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(text: string): string {
  const cdata = /^\s*<!\[CDATA\[([\s\S]*)\]\]>\s*$/.exec(text);
  if (cdata) return cdata[1];
  return text.trim().replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    if (e[0] === "#") return String.fromCodePoint(e[1].toLowerCase() === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e.toLowerCase()];
  });
}

/** Direct scalar children of an element body (children that themselves hold elements are skipped). */
function scalarChildren(body: string): Record<string, string> {
  const fields: Record<string, string> = {};
  const child = /<([A-Za-z_][\w.-]*)(?:\s[^>]*)?(?:\/>|>([\s\S]*?)<\/\1>)/g;
  for (let m = child.exec(body); m; m = child.exec(body)) {
    const inner = m[2] ?? "";
    if (/<[A-Za-z_]/.test(inner.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, ""))) continue;
    if (!(m[1] in fields)) fields[m[1]] = decode(inner);
  }
  return fields;
}

/** Throws when the text is not a BBB <response> (an HTML error page, a proxy's answer ...). */
export function parseBbbResponse(xml: string): BbbResponse {
  const response = /<response>([\s\S]*)<\/response>/.exec(xml);
  if (!response) throw new Error(`not a BigBlueButton API response: ${JSON.stringify(xml.slice(0, 80))}`);
  const body = response[1];
  const meetingsBlock = /<meetings>([\s\S]*?)<\/meetings>/.exec(body)?.[1] ?? "";
  const meetings = [...meetingsBlock.matchAll(/<meeting>([\s\S]*?)<\/meeting>/g)].map((m) => scalarChildren(m[1]));
  const fields = scalarChildren(body.replace(/<meetings>[\s\S]*?<\/meetings>/, "").replace(/<(attendees|metadata|breakoutRooms|recordings)>[\s\S]*?<\/\1>/g, ""));
  const returncode = fields.returncode;
  if (returncode === undefined) throw new Error("BigBlueButton API response without <returncode>");
  return { returncode, messageKey: fields.messageKey, message: fields.message, fields, meetings };
}
