import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { sshPublicKeyLine } from "../../components/config/sshPublicKeyLine";
import { sshPublicKeyProblem } from "../../components/config/sshPublicKey";
import { createTokenUrl, dnsKeyRules } from "../../components/scalelite/dnsKeyRules";
import { addBackupCommands } from "./backupCommands";
import { CHECKSUM_ALGORITHMS, DEFAULT_ALGORITHM, type ChecksumAlgorithm } from "./bbbApi";
import { changeNode, type NodeAction } from "./drain";
import { EXIT_CODES, EXIT_HELP, OpsError } from "./errors";
import { checkDnsKey, currentCredential, renderDnsKeyRules, type DnsKeyCheck } from "./dnsKey";
import { estimate, renderEstimate } from "./estimate";
import { confirm } from "./confirm";
import { ovhApiFromEnv } from "./ovhApi";
import { checkIfServing, notServingHere, poolFronts, statusFronts } from "./frontRole";
import { renderRepoint, repointPending } from "./pendingResend";
import { applyScaling, renderScale } from "./scale";
import { applySchedule, renderSchedule, renderSchedulePreview, schedulePreview } from "./schedule";
import { renderUpgrade, rollingUpgrade } from "./upgrade";
import { parseVoucherCode, redeemVoucher, renderVoucherStatus, voucherStatus } from "./voucher";
import { writeCreditEstimate } from "./creditEstimate";
import type { HttpOptions } from "./http";
import type { OpsIO } from "./io";
import { Progress } from "./progress";
import { withSshSessions } from "./ssh";
import { parseFailover, parseShare, renderSize, size } from "./size";
import { smoke, renderSmoke } from "./smoke";
import { loadTarget, loginKey, stackCampus, type ConnectionOptions } from "./stackSource";
import { collectStatus, renderStatus } from "./status";

/** Loaded on use: the image builder reads scripts/ and the cloud-init renderer (yaml). */
const imageCommands = () => import("./imageBuild.js");

/** Loaded on use: failover builds servers.yaml with yaml, which `ops --help` must not load (test/cli/start.test.ts). */
const failoverCommands = () => import("./failover.js");

/** Hosts queried at once by default: one round for any campus (a few nodes), still a bound for big ones. */
export const DEFAULT_CONCURRENCY = 32;

interface CommonOptions extends ConnectionOptions {
  json?: boolean;
  timeout: number;
  commandTimeout: number;
  concurrency: number;
  ca?: string;
  insecure?: boolean;
}

const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const positiveNumber = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number >= 0`);
  return n;
};

/** An endpoint the tool can call: http(s) only, checked before anything runs. */
const httpUrl = (value: string) => {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== "https:" && url?.protocol !== "http:")
    throw new InvalidArgumentError("expected an http:// or https:// URL, such as https://visio.example.org");
  return value;
};

/** A host key as `ssh-keyscan` and the stack output print it; a malformed or damaged one could never match. */
const hostKeyLine = (value: string) => {
  const line = value.trim();
  const problem = sshPublicKeyLine.test(line) ? sshPublicKeyProblem(line) : "";
  if (problem !== undefined)
    throw new InvalidArgumentError(`${problem ? `${problem}; ` : ""}expected an OpenSSH public key line such as 'ssh-ed25519 AAAA...'`);
  return line;
};

/** The front's connection options, and the standby front's (campus.standbyFront). */
function withStandby(cmd: Command): Command {
  return withConnection(cmd)
    .option("--standby-host <host>", "SSH host of the standby front (default: the stack's standbyIpv4)")
    .option("--standby-ssh-port <port>", "SSH port of the standby front", positiveInt("--standby-ssh-port"))
    .option("--standby-ssh-user <user>", "SSH user on the standby front (default: ubuntu, or its sshUser when it is an existing host)")
    .option("--standby-host-key <line>", "the standby front's SSH host key (default: the stack's standbyHostKey)", hostKeyLine);
}

function withConnection(cmd: Command): Command {
  return cmd
    .option("--url <url>", "API endpoint of the balancer or of any BBB server (default: the stack's front)", httpUrl)
    .option("--secret-file <file>", "file holding the API shared secret, '-' for stdin (or set BBB_OVH_SECRET); never on the command line")
    .option("--host <host>", "SSH host of the front (default: the front of the stack / URL)")
    .option(
      "--ssh-user <user>",
      "SSH user on the front (default: ubuntu on servers bbb-ovh installs, the stack's sshUser for existing hosts, root with --url alone; non-root users run sudo -n)",
    )
    .option("--ssh-port <port>", "SSH port", positiveInt("--ssh-port"))
    .option("--ssh-key <file>", "SSH private key (default: the SSH agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
    .option(
      "--host-key <line>",
      "the front's SSH host key, 'ssh-ed25519 AAAA...' (default: the stack's frontHostKey); an unknown key is refused, never trusted",
      hostKeyLine,
    )
    .option(
      "--timeout <ms>",
      "deadline of each HTTP request, and of each SSH connection up to a session (TCP, handshake, authentication)",
      positiveInt("--timeout"),
      10_000,
    )
    .option("--command-timeout <ms>", "deadline of each remote rake command (Rails boots inside it)", positiveInt("--command-timeout"), 120_000)
    .option("--concurrency <n>", "hosts queried at once", positiveInt("--concurrency"), DEFAULT_CONCURRENCY)
    .option("--ca <file>", "extra CA certificate (PEM) to trust for HTTPS")
    .option("--insecure", "accept any TLS certificate (test benches only)")
    .option("--json", "print the report as JSON (no progress)");
}

function httpOptions(o: CommonOptions): HttpOptions {
  let ca: Buffer | undefined;
  if (o.ca) {
    try {
      ca = readFileSync(o.ca);
    } catch (e) {
      throw new OpsError("usage", "-", `cannot read the CA file ${o.ca}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return { timeoutMs: o.timeout, ca, insecure: o.insecure };
}

/** --if-serving, for the pool runs a timer starts. */
const IF_SERVING =
  "act only while this front (the stack's front or standby front, by name) is the one that serves; else say which serves and change nothing (exit 0): with a standby front, a timer on each front gives its own name, so one acts and the other takes over after ops failover";

/** --at: decide as if it were this time (default: now). */
function parseAt(at: string | undefined): Date {
  const now = at === undefined ? new Date() : new Date(at);
  if (Number.isNaN(now.getTime())) throw new OpsError("usage", "-", `--at expects an ISO time such as 2026-11-25T19:30:00+01:00, got '${at}'`);
  return now;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * `npm run ops -- <command>`: the day-2 tool. Returns the exit code instead of exiting, so that tests
 * run it in-process.
 */
export async function runOps(argv: string[], io: OpsIO): Promise<number> {
  let exitCode = 0;
  const print = (text: string) => io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  const json = (value: unknown) => print(JSON.stringify(value, null, 2));

  /**
   * The fronts a timer's pool run (scale, schedule apply) works with, or undefined when --if-serving names the
   * front that does not serve now: the run then says which one does, changes nothing, and exits 0.
   */
  const servingFronts = async (stack: string, o: CommonOptions & { ifServing?: string }, copies: string) => {
    const loaded = await loadTarget(stack, o, io);
    if (o.ifServing !== undefined) checkIfServing(loaded, o.ifServing);
    const fronts = await poolFronts(loaded, o.timeout, copies);
    const idle = o.ifServing === undefined ? undefined : notServingHere(fronts, o.ifServing);
    if (!idle) return fronts;
    for (const note of fronts.notes) io.stderr.write(`note: ${note}\n`);
    if (o.json) json({ acted: false, serving: fronts.serving, summary: idle });
    else print(idle);
    return undefined;
  };

  const program = new Command("ops")
    .description("Day-2 operations of a bbb-ovh platform: status, drain/undrain/panic, smoke test, cost and sizing.")
    .addHelpText("after", `\n${EXIT_HELP}`)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  withStandby(
    program
      .command("status [stack]")
      .description("one row per node (online, enabled/cordoned, meetings, users, load, BBB version, datacenter) and the front's /health_check"),
  )
    .option("--watch [seconds]", "refresh every N seconds (default 10) until interrupted", positiveInt("--watch"))
    .option(
      "--dns-key-file <file>",
      "the DNS-01 key's certbot-dns-ovh credentials file ('-' = stdin): warn when its OVH rights reach beyond the campus zone (GET /auth/currentCredential)",
    )
    .action(async (stack: string | undefined, o: CommonOptions & { watch?: number | true; dnsKeyFile?: string }) => {
      // Without any of the three there is nothing to ask: say so, not a report of two failed checks and an empty table.
      if (stack === undefined && !o.url && !o.host)
        throw new OpsError("config", "-", "nothing to check: give a stack, or --url (and --host for the front's Scalelite)");
      const stackTarget = await loadTarget(stack, o, io);
      const interval = o.watch === true ? 10 : o.watch;
      let dnsKey: DnsKeyCheck | undefined;
      if (o.dnsKeyFile !== undefined) {
        const zone = stackTarget.campus?.config.dns.zone;
        if (!zone)
          throw new OpsError("config", "-", `--dns-key-file needs a valid stack file for its DNS zone: ${stackTarget.campusProblem ?? "no stack given"}`);
        const ini = await readText(o.dnsKeyFile);
        dnsKey = await checkDnsKey(() => currentCredential(ini, io.env), zone);
      }
      let shownNote: string | undefined;
      for (;;) {
        // Read as the pair serves now, at every refresh: after ops failover, the standby front is the one to look at.
        const { target, note, standbyUnread, pair } = await statusFronts(stackTarget, o.timeout);
        if (note && note !== shownNote) io.stderr.write(`note: ${note}\n`);
        shownNote = note;
        const report = {
          ...(await collectStatus(
            target,
            { http: httpOptions(o), commandTimeoutMs: o.commandTimeout, concurrency: o.concurrency, standbyUnread },
            Progress.for(io.stderr, Boolean(o.json)),
          )),
          pair,
          dnsKey,
        };
        exitCode = report.healthy ? 0 : EXIT_CODES[report.problems[0].kind];
        if (o.json) json(report);
        else {
          if (interval !== undefined && io.stdout.isTTY) io.stdout.write("\x1b[2J\x1b[H");
          print(`${interval !== undefined ? `${report.checkedAt} (every ${interval} s, Ctrl-C to stop)\n` : ""}${renderStatus(report)}`);
        }
        if (interval === undefined || io.signal?.aborted) break;
        await sleep(interval * 1000, io.signal);
        if (io.signal?.aborted) break;
      }
    });

  // Like the pool runs, they act on the front that serves (the standby front after ops failover).
  const nodeCommand = (action: NodeAction, name: string, description: string) =>
    withStandby(program.command(`${name} <stack> <node>`).description(description))
      .option("-y, --yes", "do not ask for confirmation")
      .action(async (stack: string, node: string, o: CommonOptions & { yes?: boolean }) => {
        const { target, notes } = await poolFronts(await loadTarget(stack, o, io), o.timeout);
        // Before the question and the change: which front it acts on.
        for (const note of notes) io.stderr.write(`note: ${note}\n`);
        const result = await changeNode(action, target, node, { yes: Boolean(o.yes), commandTimeoutMs: o.commandTimeout }, io);
        if (o.json) json(result);
        else print(result.summary);
      });
  nodeCommand("drain", "drain", "cordon a node: no new meeting, running lessons continue (bin/rake servers:cordon)");
  nodeCommand("undrain", "undrain", "enable a cordoned or disabled node again (bin/rake servers:enable)");
  nodeCommand("panic", "panic", "for a node that is gone: end its meetings in Scalelite and disable it (bin/rake servers:panic)");

  addBackupCommands(program, withStandby, io, { print, json, exit: (code) => (exitCode = code) });

  withConnection(
    program
      .command("smoke [stack]")
      .description("create a meeting through the balancer, check join URLs, getMeetingInfo, end; report where it landed and timings"),
  )
    .addOption(
      new Option("--checksum <sha>", "checksum algorithm of the signed API calls (Scalelite accepts sha1, sha256, sha512)")
        .choices([...CHECKSUM_ALGORITHMS])
        .default(DEFAULT_ALGORITHM),
    )
    .action(async (stack: string | undefined, o: CommonOptions & { checksum: ChecksumAlgorithm }) => {
      const target = await loadTarget(stack, o, io);
      const report = await smoke(target, { algorithm: o.checksum, http: httpOptions(o) }, Progress.for(io.stderr, Boolean(o.json)));
      exitCode = report.failure ? EXIT_CODES[report.failure.kind as keyof typeof EXIT_CODES] : 0;
      if (o.json) json(report);
      else print(renderSmoke(report));
    });

  const readText = async (file: string): Promise<string> => {
    if (file !== "-") {
      try {
        return readFileSync(file, "utf8");
      } catch (e) {
        throw new OpsError("usage", "-", `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks).toString("utf8");
  };

  const voucher = program.command("voucher").description("OVHcloud vouchers: redeem a code, and how long the credit lasts");
  voucher
    .command("redeem <stack>")
    .description(
      "redeem a voucher on the stack's Public Cloud project (POST /cloud/project/{id}/credit) or, with --account, on the OVH account (POST /me/credit/code)",
    )
    .option("--code-file <file>", "file holding the voucher code; '-' (the default) reads it from stdin. Never on the command line", "-")
    .option("--account", "credit the OVH account instead of the project")
    .option("--json", "print the result as JSON")
    .action(async (stack: string, o: { codeFile: string; account?: boolean; json?: boolean }) => {
      const target = await loadTarget(stack, {}, io, { outputs: false });
      const code = parseVoucherCode(await readText(o.codeFile));
      const result = await redeemVoucher(ovhApiFromEnv(io.env), target.campus, code, Boolean(o.account));
      if (o.json) json(result);
      else print(result.summary);
    });
  withStandby(
    voucher
      .command("status <stack>")
      .description(
        "every credit on the project, account vouchers, this month's usage and forecast, the burn rate, and when the credit runs out; exit 1 when that is before campus.term.end",
      ),
  )
    .option(
      "--front",
      "also write when the credit runs out to the front that serves over SSH, for its monitoring (CreditRunsOutBeforeTermEnd, docs/monitoring.md); a failed write fails the run",
    )
    .action(async (stack: string, o: CommonOptions & { front?: boolean }) => {
      // Without --front nothing connects: no Pulumi outputs needed on the operator's machine.
      const target = await loadTarget(stack, o, io, { outputs: Boolean(o.front) });
      if (!target.campus) throw new OpsError("config", "-", `voucher status needs a valid stack file: ${target.campusProblem ?? "no stack given"}`);
      const now = new Date();
      const report = await voucherStatus(ovhApiFromEnv(io.env), target.campus, now);
      exitCode = report.shortOfTerm ? EXIT_CODES.unhealthy : 0;
      if (o.json) json(report);
      else print(renderVoucherStatus(report));
      if (o.front) {
        if (!target.ssh) throw new OpsError("config", "-", "no SSH host for the front: give --host");
        // The front that serves (the standby after ops failover): its monitoring is the campus's.
        const { target: serving, notes } = await poolFronts(target, o.timeout);
        for (const note of notes) io.stderr.write(`note: ${note}\n`);
        await writeCreditEstimate(serving.ssh ?? target.ssh, report, now, o.timeout);
      }
    });

  const schedule = program.command("schedule").description("hourly-billed Public Cloud nodes follow campus.timetable (shelved outside teaching hours)");
  withStandby(
    schedule
      .command("apply <stack>")
      .description("take the next step for each node (cordon, wait, shelve; or unshelve, check, enable); idempotent, run it every few minutes"),
  )
    .option("--at <iso-time>", "decide as if it were this time (default: now), e.g. to see what tonight's run will do")
    .option("--dry-run", "only show, from the stack file, whether the nodes should be awake and the next wake/sleep times (no credentials, no connection)")
    .option("--if-serving <front>", IF_SERVING)
    .action(async (stack: string, o: CommonOptions & { at?: string; dryRun?: boolean; ifServing?: string }) => {
      const now = parseAt(o.at);
      if (o.dryRun) {
        const preview = schedulePreview(await stackCampus(stack), now);
        if (o.json) json(preview);
        else print(renderSchedulePreview(preview));
        return;
      }
      const fronts = await servingFronts(stack, o, "the sleeping list");
      if (!fronts) return;
      const { target, other, notes } = fronts;
      const knownIpv4 = Object.fromEntries(target.nodes.map((n) => [n.fqdn, n.ipv4]));
      const report = await applySchedule(
        ovhApiFromEnv(io.env),
        target,
        { now, timeoutMs: o.timeout, commandTimeoutMs: o.commandTimeout, knownIpv4, otherFront: other },
        notes,
      );
      exitCode = report.attention ? EXIT_CODES.unhealthy : 0;
      if (o.json) json(report);
      else print(renderSchedule(report));
    });

  withStandby(
    program
      .command("scale <stack>")
      .description(
        "capacity that follows the load: keep current users + campus.scaling.marginUsers carried under the failover policy, wake or shelve hourly nodes (the timetable is the floor); run it every few minutes in place of schedule apply",
      ),
  )
    .option("--at <iso-time>", "decide as if it were this time (default: now)")
    .option("--dry-run", "say what it would do; change nothing")
    .option(
      "--wait-serving <seconds>",
      "after waking a node, wait this long for it to serve and enable it in the same run (0: the next run does)",
      positiveNumber("--wait-serving"),
      480,
    )
    .option("--if-serving <front>", IF_SERVING)
    .action(async (stack: string, o: CommonOptions & { at?: string; dryRun?: boolean; waitServing: number; ifServing?: string }) => {
      const now = parseAt(o.at);
      const fronts = await servingFronts(stack, o, "the sleeping list and the scaler's state");
      if (!fronts) return;
      const { target, other, notes } = fronts;
      const knownIpv4 = Object.fromEntries(target.nodes.map((n) => [n.fqdn, n.ipv4]));
      const report = await applyScaling(
        ovhApiFromEnv(io.env),
        target,
        {
          now,
          dryRun: Boolean(o.dryRun),
          waitServingMs: o.waitServing * 1000,
          pollMs: Math.min(10_000, o.waitServing * 100),
          timeoutMs: o.timeout,
          commandTimeoutMs: o.commandTimeout,
          knownIpv4,
          otherFront: other,
        },
        notes,
      );
      exitCode = report.attention ? EXIT_CODES.unhealthy : 0;
      if (o.json) json(report);
      else print(renderScale(report));
    });

  withStandby(
    program
      .command("upgrade <stack>")
      .description(
        "roll a new pin through the pool: the canary first, then one node at a time: drain, wait until empty (never ends a meeting), apply, signed create/join/end on the node, undrain; stops at the first failure",
      ),
  )
    .requiredOption(
      "--apply <command>",
      "shell command that applies the new pin to one node (BBB_OVH_NODE = its FQDN, BBB_OVH_NODE_NAME = its stack name); see docs/nodes.md",
    )
    .option("--drain-timeout <minutes>", "how long to wait for a drained node to empty", positiveNumber("--drain-timeout"), 120)
    .option("--poll <seconds>", "between two looks at a drained node", positiveNumber("--poll"), 30)
    .option("--apply-timeout <minutes>", "deadline of the apply command for one node", positiveNumber("--apply-timeout"), 60)
    .option(
      "--check-wait <minutes>",
      "how long the check waits for Scalelite to count the applied node online (its poller drops the load of a node left cordoned and empty)",
      positiveNumber("--check-wait"),
      5,
    )
    .option("--skip-busy", "past the deadline, leave the node drained and go on with the next (default: stop)")
    .action(
      async (
        stack: string,
        o: CommonOptions & { apply: string; drainTimeout: number; poll: number; applyTimeout: number; checkWait: number; skipBusy?: boolean },
      ) => {
        const { target, notes } = await poolFronts(await loadTarget(stack, o, io), o.timeout);
        for (const note of notes) io.stderr.write(`note: ${note}\n`);
        const report = await rollingUpgrade(target, {
          apply: o.apply,
          drainTimeoutMs: o.drainTimeout * 60_000,
          pollMs: o.poll * 1000,
          applyTimeoutMs: o.applyTimeout * 60_000,
          checkWaitMs: o.checkWait * 60_000,
          skipBusy: Boolean(o.skipBusy),
          commandTimeoutMs: o.commandTimeout,
          http: httpOptions(o),
          onStep: (s) => io.stderr.write(`${s.at} ${s.node}: ${s.step}: ${s.detail}\n`),
        });
        exitCode = report.ok ? 0 : EXIT_CODES.unhealthy;
        if (o.json) json(report);
        else print(renderUpgrade(report));
      },
    );

  for (const kind of ["failover", "failback"] as const) {
    const command = withStandby(
      program
        .command(`${kind} <stack>`)
        .description(
          kind === "failover"
            ? "the standby front takes over: fence the front, promote the standby's database, start Scalelite, rebuild Redis from the stack's servers, move the front's DNS records, signed check; reports RTO and the RPO bound (docs/front.md)"
            : "after a failover: the front becomes a standby of the serving one (pg_basebackup), then a planned switch back that loses nothing, and the standby front a standby again (docs/front.md)",
        ),
    )
      .option("--dry-run", "print each step and the host it acts on; connect to nothing, change nothing")
      .option("-y, --yes", "do it without asking (it changes the front's DNS records): required without a terminal")
      .option("--primary-down", "go on when the serving front does not answer over SSH (it cannot be fenced): only when it is known to be off or its site out")
      .option("--catch-up <seconds>", "how long the standby may take to replay what the fenced front wrote", positiveNumber("--catch-up"), 30)
      .option(
        "--smoke-timeout <seconds>",
        "how long the new front may take to pass the signed check (and to take the server list)",
        positiveNumber("--smoke-timeout"),
        300,
      )
      .option("--poll <seconds>", "between two checks while waiting", positiveNumber("--poll"), 1);
    if (kind === "failback")
      command.option(
        "--standby-only",
        "stop once the front is a streaming standby of the serving front holding its recordings: no switch (run failback again, without it, to switch back)",
      );
    command.action(
      async (
        stack: string,
        o: CommonOptions & {
          dryRun?: boolean;
          yes?: boolean;
          primaryDown?: boolean;
          standbyOnly?: boolean;
          catchUp: number;
          smokeTimeout: number;
          poll: number;
        },
      ) => {
        const target = await loadTarget(stack, o, io);
        const { planFailover, renderPlan } = await failoverCommands();
        const standbyOnly = Boolean(o.standbyOnly);
        const steps = planFailover(target, kind, Boolean(o.primaryDown), standbyOnly);
        if (o.dryRun) {
          if (o.json) json({ kind, dryRun: true, steps });
          else print(renderPlan(kind, steps));
          return;
        }
        const to = kind === "failover" ? target.standby?.name : target.campus?.front.name;
        await confirm(
          io,
          standbyOnly
            ? `${kind} --standby-only: ${to}'s database will be replaced by a copy of the serving front's (the old one moved aside); nothing switches. Go on?`
            : `${kind}: ${to} will serve ${target.campus?.front.fqdn} (its DNS records move). Go on?`,
          Boolean(o.yes),
        );
        const { failback, failover, renderSwitch } = await failoverCommands();
        const run = kind === "failover" ? failover : failback;
        const report = await run(target, ovhApiFromEnv(io.env), {
          primaryDown: Boolean(o.primaryDown),
          commandTimeoutMs: o.commandTimeout,
          catchUpMs: o.catchUp * 1000,
          smokeMs: o.smokeTimeout * 1000,
          pollMs: o.poll * 1000,
          http: httpOptions(o),
          algorithm: DEFAULT_ALGORITHM,
          onStep: (line) => io.stderr.write(`${new Date().toISOString()} ${line}\n`),
          standbyOnly,
        });
        exitCode = report.ok ? 0 : EXIT_CODES[(report.failure?.kind ?? "unhealthy") as keyof typeof EXIT_CODES];
        if (o.json) json(report);
        else print(renderSwitch(kind, report));
      },
    );
  }

  withStandby(
    program
      .command("repoint <stack>")
      .description(
        "after a failover: point the nodes it could not reach (down or asleep then; ops status names them) at the front that serves now, their copies since then marked for their retry timers",
      ),
  )
    .option("--standby", "on the stack's standby front, without reading which front serves (default: the one that serves, as the pool runs find it)")
    .action(async (stack: string, o: CommonOptions & { standby?: boolean }) => {
      const loaded = await loadTarget(stack, o, io);
      // Like the pool runs, on the front that serves (the standby front after ops failover), unless told which.
      const { target, notes } = o.standby ? { target: loaded, notes: [] } : await poolFronts(loaded, o.timeout);
      for (const note of notes) io.stderr.write(`note: ${note}\n`);
      const report = await repointPending(target, o.commandTimeout, Boolean(o.standby));
      exitCode = report.ok ? 0 : EXIT_CODES.unhealthy;
      if (o.json) json(report);
      else print(renderRepoint(report));
    });

  program
    .command("image")
    .description('the node image of Public Cloud nodes (campus.nodeImage; docs/nodes.md, "A node image")')
    .command("build <stack>")
    .description(
      "build the node image for the stack's installer pin in each region of its Public Cloud nodes: a builder instance through the node's steps, cleaned, snapshotted as bbb-ovh-<line>-<commit>, then the builder deleted; a re-run resumes",
    )
    .option(
      "--region <region>",
      "only this region (repeat for several; default: every region of the campus's Public Cloud nodes)",
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option("--dry-run", "print each region's steps from the stack file and this machine's builder records; ask no API, change nothing")
    .option("-y, --yes", "do it without asking (it creates instances billed by the hour): required without a terminal")
    .option("--delete-on-failure", "delete the builder when a step fails (default: keep it for inspection)")
    .option("--ssh-user <user>", "user on the builder (OVH's Ubuntu images: ubuntu, which runs sudo -n)", "ubuntu")
    .option("--ssh-port <port>", "SSH port of the builder", positiveInt("--ssh-port"), 22)
    .option(
      "--ssh-key <file>",
      "SSH private key whose public half is in campus.sshPublicKeys (default: the SSH agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)",
    )
    .option("--timeout <ms>", "deadline of each SSH connection up to a session", positiveInt("--timeout"), 10_000)
    .option("--command-timeout <ms>", "deadline of each step on the builder but the installer", positiveInt("--command-timeout"), 600_000)
    .option("--install-timeout <minutes>", "deadline of the installer step", positiveNumber("--install-timeout"), 60)
    .option("--wait <minutes>", "deadline of each wait: the builder ACTIVE, its SSH, the builder SHUTOFF, the image active", positiveNumber("--wait"), 30)
    .option("--poll <seconds>", "between two looks while waiting", positiveNumber("--poll"), 10)
    .option("--json", "print the report as JSON")
    .action(
      async (
        stack: string,
        o: {
          region: string[];
          dryRun?: boolean;
          yes?: boolean;
          deleteOnFailure?: boolean;
          sshUser: string;
          sshPort: number;
          sshKey?: string;
          timeout: number;
          commandTimeout: number;
          installTimeout: number;
          wait: number;
          poll: number;
          json?: boolean;
        },
      ) => {
        const campus = await stackCampus(stack);
        const { buildImages, recordedSteps, renderImageBuild, stateDirOf } = await imageCommands();
        const { imageBuildInput, planRegion, renderImagePlan } = await import("./imageBuildPlan.js");
        let input: ReturnType<typeof imageBuildInput>;
        try {
          input = imageBuildInput(campus, o.region);
        } catch (e) {
          throw new OpsError("config", "-", (e as Error).message);
        }
        const stateDir = stateDirOf(io.env);
        if (o.dryRun) {
          const plans = input.builds.map((b) => ({ region: b.region, steps: planRegion(b, recordedSteps(stateDir, b.builder), input.zone) }));
          if (o.json) json({ dryRun: true, ...input, plans });
          else print(`${renderImagePlan(input, plans)}(the OVH API was not asked: a builder or an image already there shortens these steps)`);
          return;
        }
        const api = ovhApiFromEnv(io.env);
        await confirm(
          io,
          `image build: up to ${input.builds.length} builder instance(s) (${input.builds.map((b) => `${b.flavor} in ${b.region}`).join(", ")}, billed by the hour) are created in project ${input.serviceName} and deleted once their image is saved. Go on?`,
          Boolean(o.yes),
        );
        const report = await buildImages(campus, api, input, {
          ssh: { port: o.sshPort, username: o.sshUser, connectTimeoutMs: o.timeout, ...loginKey(o.sshKey, io) },
          stateDir,
          commandTimeoutMs: o.commandTimeout,
          installTimeoutMs: o.installTimeout * 60_000,
          waitMs: o.wait * 60_000,
          pollMs: o.poll * 1000,
          deleteOnFailure: Boolean(o.deleteOnFailure),
          onStep: (line) => io.stderr.write(`${new Date().toISOString()} ${line}\n`),
        });
        exitCode = report.ok ? 0 : EXIT_CODES[(report.regions.at(-1)?.failure?.kind ?? "unhealthy") as keyof typeof EXIT_CODES];
        if (o.json) json(report);
        else print(renderImageBuild(report));
      },
    );

  program
    .command("estimate <stack>")
    .description(
      "what the stack as configured costs a month and until term.end, whether the voucher covers it, and the cheapest topology for the expected users",
    )
    .option("--voucher <eur>", "voucher amount in EUR", positiveNumber("--voucher"))
    .option("--months <n>", "months to cover", positiveInt("--months"))
    .option("--at <iso-time>", "count from this time instead of now (the timetable's awake share and the months until term.end)")
    .option("--json", "print the report as JSON")
    .action(async (stack: string, o: { voucher?: number; months?: number; at?: string; json?: boolean }) => {
      const now = parseAt(o.at);
      // Cost needs the stack file only: no Pulumi CLI round trip, no secrets read.
      const target = await loadTarget(stack, {}, io, { outputs: false });
      let voucherSource: string | undefined;
      // With OVH credentials and a Public Cloud project, the real credit left stands in for --voucher.
      if (o.voucher === undefined && target.campus?.config.publicCloud && (io.env.OVH_APPLICATION_KEY || io.env.OVH_CLIENT_ID)) {
        const credit = await voucherStatus(ovhApiFromEnv(io.env), target.campus, now);
        o.voucher = credit.creditLeft;
        voucherSource = "the credit left on the project, from the OVH API";
      }
      const report = estimate(target, { voucher: o.voucher, months: o.months, voucherSource, now });
      if (o.json) json(report);
      else print(renderEstimate(report));
    });

  program
    .command("dns-key-rules <stack>")
    .description("the OVH access rules to give the DNS-01 key (bbb-ovh:dnsCredentials): the campus zone's records only, and the createToken link")
    .option("--endpoint <endpoint>", "OVH API endpoint the key is created on (ovh-eu, ovh-ca, ovh-us; default: OVH_ENDPOINT or ovh-eu)")
    .option("--json", "print the rules as JSON")
    .action(async (stack: string, o: { endpoint?: string; json?: boolean }) => {
      const target = await loadTarget(stack, {}, io, { outputs: false });
      const zone = target.campus?.config.dns.zone;
      if (!zone) throw new OpsError("config", "-", `dns-key-rules needs a valid stack file: ${target.campusProblem ?? "no stack given"}`);
      const endpoint = o.endpoint ?? io.env.OVH_ENDPOINT ?? "ovh-eu";
      if (o.json) json({ zone, endpoint, rules: dnsKeyRules(zone), createToken: createTokenUrl(endpoint, dnsKeyRules(zone)) });
      else print(renderDnsKeyRules(zone, endpoint));
    });

  program
    .command("size")
    .description("recommended number and kind of nodes for a peak, from the published guidance, with the reasoning")
    .requiredOption("--users <n>", "peak simultaneous users", positiveInt("--users"))
    .requiredOption("--rooms <n>", "rooms running at the peak", positiveInt("--rooms"))
    .option("--webcams <share>", "share of users with a webcam on (0.3 or 30%; default: the teacher only)")
    .option("--failover <policy>", "what the peak must survive: datacenter (default), node or none")
    .option("--sites <n>", "sites the nodes can be spread over", positiveInt("--sites"))
    .option("--json", "print the report as JSON")
    .action((o: { users: number; rooms: number; webcams?: string; failover?: string; sites?: number; json?: boolean }) => {
      const webcamShare = o.webcams === undefined ? undefined : parseShare(o.webcams);
      const report = size(
        { users: o.users, rooms: o.rooms, webcamShare },
        { policy: o.failover === undefined ? undefined : parseFailover(o.failover), sites: o.sites },
      );
      if (o.json) json(report);
      else print(renderSize(report));
    });

  try {
    await withSshSessions(() => program.parseAsync(argv, { from: "user" }));
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_CODES.usage;
    const error = e instanceof OpsError ? e : new OpsError("command", "-", (e as Error).message);
    io.stderr.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
}
