import { OpsError } from "./errors";
import { runRemote, type SshTarget } from "./ssh";

/** Scalelite server ids (our ids are node FQDNs: SERVER_ID_IS_HOSTNAME=true). */
export const SERVER_ID = /^[a-zA-Z0-9_.-]+$/;

/** One row of `bin/rake status`. */
export interface ScaleliteServerStatus {
  hostname: string;
  state: string;
  status: string;
  meetings?: number;
  users?: number;
  largestMeeting?: number;
  videos?: number;
  load?: number;
  bbbVersion?: string;
  tag?: string;
}

const COLUMNS = ["HOSTNAME", "STATE", "STATUS", "MEETINGS", "USERS", "LARGEST MEETING", "VIDEOS", "LOAD", "BBB VERSION", "TAG"] as const;

/**
 * Parses the table `bin/rake status` prints (Tabulo, border :blank): no separators, padded columns,
 * empty cells for unknown values. Columns are the runs of text across all lines, grouped under the
 * header label they overlap.
 */
export function parseStatusTable(text: string): ScaleliteServerStatus[] {
  const lines = text.split("\n").map((l) => l.replace(/\s+$/, ""));
  const headerIndex = lines.findIndex((l) => /\bHOSTNAME\b/.test(l) && /\bSTATUS\b/.test(l));
  if (headerIndex < 0) throw new Error("no HOSTNAME/STATUS header in the output of `bin/rake status`");
  const header = lines[headerIndex];
  // Rails logger lines (RAILS_LOG_TO_STDOUT) can share stdout with the table.
  const rows = lines.slice(headerIndex + 1).filter((l) => l.trim() !== "" && !/^[DIWEFA], \[/.test(l));
  const labels = COLUMNS.map((name) => {
    const start = header.indexOf(name);
    if (start < 0) throw new Error(`column ${name} missing from the output of \`bin/rake status\``);
    return { name, start, end: start + name.length };
  });
  const width = Math.max(header.length, ...rows.map((r) => r.length));
  const used = Array.from({ length: width }, (_, i) => [header, ...rows].some((l) => (l[i] ?? " ") !== " "));
  // Each column spans from its label to the runs of text that overlap it.
  const spans = labels.map((l) => ({ ...l }));
  for (let i = 0; i < width;) {
    if (!used[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < width && used[j]) j++;
    const owner = spans.find((s) => s.start < j && i < s.end);
    if (owner) {
      owner.start = Math.min(owner.start, i);
      owner.end = Math.max(owner.end, j);
    }
    i = j;
  }
  const num = (v: string) => (v === "" || Number.isNaN(Number(v)) ? undefined : Number(v));
  return rows.map((row) => {
    const cell = (k: number) => row.slice(spans[k].start, spans[k].end).trim();
    return {
      hostname: cell(0),
      state: cell(1),
      status: cell(2),
      meetings: num(cell(3)),
      users: num(cell(4)),
      largestMeeting: num(cell(5)),
      videos: num(cell(6)),
      load: num(cell(7)),
      bbbVersion: cell(8) || undefined,
      tag: cell(9) || undefined,
    };
  });
}

/** `docker exec scalelite-api bin/rake 'task[args]'`, with sudo when not root. Ids are checked first. */
export function rakeCommand(task: string, args: string[], username: string): string {
  for (const a of args) if (!SERVER_ID.test(a)) throw new OpsError("usage", "-", `'${a}' is not a Scalelite server id (letters, digits, '_', '.', '-')`);
  const spec = args.length > 0 ? `${task}[${args.join(",")}]` : task;
  return `${username === "root" ? "" : "sudo -n "}docker exec scalelite-api bin/rake '${spec}'`;
}

/** Runs a rake task in the scalelite-api container; a non-zero exit becomes an OpsError with its message. */
export async function rake(ssh: SshTarget, task: string, args: string[], timeoutMs: number): Promise<string> {
  const result = await runRemote(ssh, rakeCommand(task, args, ssh.username), timeoutMs);
  if (result.code !== 0) {
    const message = result.stderr.trim().split("\n").filter(Boolean).slice(-2).join(" / ") || `exit status ${result.code}`;
    throw new OpsError("command", ssh.host, `bin/rake ${task}: ${message}`);
  }
  return result.stdout;
}
