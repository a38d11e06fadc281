import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import type { Campus } from "../../components/config/campus";
import { DEFAULT_SSH_PORT, sshPortOf } from "../../components/hosts/sshPort";
import { PROJECT_DIR } from "../../components/projectDir";
import type { StackFile } from "../../components/config/stackFile";
import { apiBaseUrl } from "./bbbApi";
import { OpsError } from "./errors";
import type { OpsIO } from "./io";
import type { SshTarget } from "./ssh";

export interface ConnectionOptions {
  /** The balancer's (or any BBB server's) API endpoint. */
  url?: string;
  /** File holding the API shared secret ('-' = stdin); never the secret itself on the command line. */
  secretFile?: string;
  /** SSH host of the front (default: the host of the front URL). */
  host?: string;
  sshUser?: string;
  sshPort?: number;
  /** Private key file for SSH (default: the SSH agent, then ~/.ssh/id_ed25519, id_rsa). */
  sshKey?: string;
  /** The front's SSH host key line to pin (default: the stack's frontHostKey output). */
  hostKey?: string;
  /** Deadline (ms) of each connection, SSH handshake included (--timeout). */
  timeout?: number;
  /** The standby front's SSH host, port, user and host key, as for the front (failover, failback). */
  standbyHost?: string;
  standbySshPort?: number;
  standbySshUser?: string;
  standbyHostKey?: string;
}

export interface NodeTarget {
  name: string;
  fqdn: string;
  datacenter?: string;
  /** The node's public IPv4 as the stack last knew it (the nodes output). */
  ipv4?: string;
  apiUrl: string;
  /** The node's own BBB secret, when the stack exports it (nodeSecrets). */
  secret?: string;
  /** The port its sshd listens on (components/hosts/sshPort.ts), when the stack file names the node. */
  sshPort?: number;
  /** How ops logs in to it, when its host key is known (the nodes output's hostKey, or an existing host's). */
  ssh?: SshTarget;
}

export interface OpsTarget {
  /** The stack name, or the front's host when only options were given. */
  label: string;
  frontApiUrl?: string;
  /** The front's public origin (https://host), for /health_check. */
  frontOrigin?: string;
  lbSecret?: string;
  ssh?: SshTarget;
  /** The name of the front `ssh` reaches when it is not the stack's front: the standby front after ops failover. */
  frontName?: string;
  /** The front's public IPv4 as the stack knows it (the frontIpv4 output, or an existing host's). */
  frontIpv4?: string;
  /** The front's public IPv6 when it has one (frontIpv6 output, or an existing host's); none on a dedicated server. */
  frontIpv6?: string;
  /** The standby front (campus.standbyFront), reached like the front; ipv4 and ipv6 as the stack knows them. */
  standby?: { name: string; ssh: SshTarget; ipv4?: string; ipv6?: string };
  nodes: NodeTarget[];
  /** The validated campus of the stack file, when there is one. */
  campus?: Campus;
  /** Why the stack file could not be used, when it could not. */
  campusProblem?: string;
}

/** The stack outputs the Pulumi program exports (index.ts); all optional here, checked where used. */
interface StackOutputs {
  frontUrl?: string;
  moodleServerUrl?: string;
  moodleSharedSecret?: string;
  loadBalancerSecret?: string;
  frontFqdn?: string;
  frontIpv4?: string;
  /** The front's pinned SSH host key, as every Pulumi connection to it checks it. */
  frontHostKey?: string;
  /** The standby front's address and pinned host key (campus.standbyFront). */
  standbyIpv4?: string;
  standbyHostKey?: string;
  /** The fronts' IPv6, exported only for hosts that have one (Public Cloud, existing hosts that give theirs). */
  frontIpv6?: string;
  standbyIpv6?: string;
  nodes?: Array<{ name?: string; fqdn?: string; ipv4?: string; datacenter?: string; apiUrl?: string; hostKey?: string }>;
  /** Node secrets keyed by node name or FQDN. */
  nodeSecrets?: Record<string, string>;
}

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `pulumi stack output --show-secrets --json --stack S`, when the Pulumi CLI is installed. */
export function pulumiOutputs(stack: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<StackOutputs | undefined> {
  const pulumi = onPath("pulumi", env);
  if (!pulumi) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    execFile(
      pulumi,
      ["stack", "output", "--show-secrets", "--json", "--stack", stack],
      { cwd: PROJECT_DIR, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          // stderr of a failed `pulumi stack output` names the problem (no such stack, not logged in); it holds no output values.
          reject(new OpsError("config", "pulumi", `reading the outputs of stack ${stack} failed: ${stderr.trim().split("\n").pop() ?? error.message}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as StackOutputs);
        } catch {
          reject(new OpsError("config", "pulumi", `the outputs of stack ${stack} are not JSON`));
        }
      },
    );
  });
}

async function readSecret(file: string, io: OpsIO): Promise<string> {
  if (file === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks).toString("utf8").trim();
  }
  try {
    return readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new OpsError("usage", "-", `cannot read the secret file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function defaultKey(io: OpsIO): Pick<SshTarget, "privateKey" | "agent"> {
  if (io.env.SSH_AUTH_SOCK) return { agent: io.env.SSH_AUTH_SOCK };
  for (const name of ["id_ed25519", "id_ecdsa", "id_rsa"]) {
    const file = path.join(io.env.HOME ?? homedir(), ".ssh", name);
    if (existsSync(file)) return { privateKey: readFileSync(file, "utf8") };
  }
  return {};
}

/** The key ops logs in with: --ssh-key's file, else the agent, else the usual files under ~/.ssh. */
export function loginKey(sshKey: string | undefined, io: OpsIO): Pick<SshTarget, "privateKey" | "agent"> {
  if (!sshKey) return defaultKey(io);
  try {
    return { privateKey: readFileSync(sshKey, "utf8") };
  } catch (e) {
    throw new OpsError("usage", "-", `cannot read the SSH key ${sshKey}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Loaded on use: yaml and zod (the stack file's parser and schema) are most of `ops --help`'s start-up otherwise. */
const stackFiles = () => import("../../components/config/stackFile.js");

/** A stack file that cannot be read at all (YAML syntax, a private key in clear) is a configuration error. */
async function readStack(filePath: string): Promise<StackFile> {
  const { readStackFile } = await stackFiles();
  try {
    return readStackFile(filePath);
  } catch (e) {
    throw new OpsError("config", "-", (e as Error).message);
  }
}

/** The validated campus of a stack file, or why it is not valid. */
async function campusOf(file: StackFile): Promise<{ campus?: Campus; problem?: string }> {
  const { campusOfStackFile } = await stackFiles();
  try {
    return { campus: campusOfStackFile(file) };
  } catch (e) {
    return { problem: (e as Error).message };
  }
}

function nodeApiUrl(fqdn: string): string {
  return `https://${fqdn}/bigbluebutton/api`;
}

/**
 * Hosts and secrets for a command, from (by precedence) explicit options, the stack's Pulumi outputs,
 * then the stack file. Secrets come from a file, stdin or the Pulumi outputs, never from argv.
 */
export async function loadTarget(
  stack: string | undefined,
  options: ConnectionOptions,
  io: OpsIO,
  { outputs: wantOutputs = true }: { outputs?: boolean } = {},
): Promise<OpsTarget> {
  let outputs: StackOutputs | undefined;
  let file: Awaited<ReturnType<typeof campusOf>> | undefined;
  if (stack !== undefined) {
    const filePath = (await stackFiles()).stackFilePath(stack);
    if (existsSync(filePath)) file = await campusOf(await readStack(filePath));
    if (wantOutputs)
      outputs = await pulumiOutputs(
        path
          .basename(filePath)
          .replace(/^Pulumi\./, "")
          .replace(/\.ya?ml$/, ""),
        io.env,
      );
    const { missingStackHint } = await stackFiles();
    if (!file && !wantOutputs) throw new OpsError("config", "-", `no stack file ${filePath}${missingStackHint(stack)}`);
    if (!file && !outputs && !options.url)
      throw new OpsError("config", "-", `no stack file ${filePath}${missingStackHint(stack)}; and no Pulumi CLI to read the stack's outputs: give --url`);
  }
  const campus = file?.campus;

  const frontUrlRaw = options.url ?? outputs?.frontUrl ?? (campus ? `https://${campus.front.fqdn}` : undefined);
  const frontApiUrl = frontUrlRaw ? apiBaseUrl(frontUrlRaw) : undefined;
  const frontOrigin = frontApiUrl ? new URL(frontApiUrl).origin : undefined;

  let lbSecret = outputs?.loadBalancerSecret ?? outputs?.moodleSharedSecret;
  if (options.secretFile) lbSecret = await readSecret(options.secretFile, io);
  else if (io.env.BBB_OVH_SECRET) lbSecret = io.env.BBB_OVH_SECRET;

  const frontConfig = campus?.front.config;
  const sshHost =
    options.host ??
    outputs?.frontIpv4 ??
    (frontConfig?.kind === "existing" ? frontConfig.ipv4 : undefined) ??
    outputs?.frontFqdn ??
    campus?.front.fqdn ??
    (frontApiUrl ? new URL(frontApiUrl).hostname : undefined);
  const key = loginKey(options.sshKey, io);
  const ssh: SshTarget | undefined = sshHost
    ? {
        host: sshHost,
        port: options.sshPort ?? (campus ? sshPortOf(campus.front) : DEFAULT_SSH_PORT),
        // Servers bbb-ovh installs log in as ubuntu (OVH's Ubuntu images); existing hosts say theirs.
        username: options.sshUser ?? (frontConfig === undefined ? "root" : frontConfig.kind === "existing" ? frontConfig.sshUser : "ubuntu"),
        hostKey: options.hostKey ?? outputs?.frontHostKey ?? (frontConfig?.kind === "existing" ? frontConfig.hostKey : undefined),
        connectTimeoutMs: options.timeout,
        ...key,
      }
    : undefined;

  const standbyConfig = campus?.standbyFront;
  const standby = standbyConfig
    ? {
        name: standbyConfig.name,
        ipv4: outputs?.standbyIpv4 ?? (standbyConfig.config.kind === "existing" ? standbyConfig.config.ipv4 : undefined),
        ipv6: outputs?.standbyIpv6 ?? (standbyConfig.config.kind === "existing" ? standbyConfig.config.ipv6 : undefined),
        ssh: {
          host: options.standbyHost ?? outputs?.standbyIpv4 ?? (standbyConfig.config.kind === "existing" ? standbyConfig.config.ipv4 : standbyConfig.fqdn),
          port: options.standbySshPort ?? sshPortOf(standbyConfig),
          username: options.standbySshUser ?? (standbyConfig.config.kind === "existing" ? standbyConfig.config.sshUser : "ubuntu"),
          hostKey: options.standbyHostKey ?? outputs?.standbyHostKey ?? (standbyConfig.config.kind === "existing" ? standbyConfig.config.hostKey : undefined),
          front: "standby" as const,
          connectTimeoutMs: options.timeout,
          ...key,
        },
      }
    : undefined;

  // A node is logged in to as the front is (same key; the user its kind has unless --ssh-user), at its IPv4.
  const nodeSsh = (host: string | undefined, hostKey: string | undefined, known: Campus["nodes"][number] | undefined): SshTarget | undefined =>
    host && hostKey
      ? {
          host,
          port: known ? sshPortOf(known) : DEFAULT_SSH_PORT,
          username: options.sshUser ?? (known?.config.kind === "existing" ? known.config.sshUser : "ubuntu"),
          hostKey,
          connectTimeoutMs: options.timeout,
          ...key,
        }
      : undefined;
  const secrets = outputs?.nodeSecrets ?? {};
  const fromOutputs = (outputs?.nodes ?? []).filter((n) => n.fqdn);
  const nodes: NodeTarget[] =
    fromOutputs.length > 0
      ? fromOutputs.map((n) => {
          const fqdn = n.fqdn as string;
          const name = n.name ?? fqdn;
          const known = campus?.nodes.find((c) => c.fqdn === fqdn);
          const dc = n.datacenter ?? known?.datacenter;
          return {
            name,
            fqdn,
            datacenter: dc,
            ipv4: n.ipv4,
            apiUrl: n.apiUrl ? apiBaseUrl(n.apiUrl) : nodeApiUrl(fqdn),
            secret: secrets[name] ?? secrets[fqdn],
            ...(known ? { sshPort: sshPortOf(known) } : {}),
            ssh: nodeSsh(n.ipv4, n.hostKey ?? (known?.config.kind === "existing" ? known.config.hostKey : undefined), known),
          };
        })
      : (campus?.nodes ?? []).map((n) => ({
          name: n.name,
          fqdn: n.fqdn,
          datacenter: n.datacenter,
          apiUrl: nodeApiUrl(n.fqdn),
          secret: secrets[n.name] ?? secrets[n.fqdn],
          sshPort: sshPortOf(n),
          ssh: n.config.kind === "existing" ? nodeSsh(n.config.ipv4, n.config.hostKey, n) : undefined,
        }));

  return {
    label: stack ?? (frontApiUrl ? new URL(frontApiUrl).host : "-"),
    frontApiUrl,
    frontOrigin,
    lbSecret,
    ssh,
    frontIpv4: outputs?.frontIpv4 ?? (frontConfig?.kind === "existing" ? frontConfig.ipv4 : undefined),
    frontIpv6: outputs?.frontIpv6 ?? (frontConfig?.kind === "existing" ? frontConfig.ipv6 : undefined),
    standby,
    nodes,
    campus,
    campusProblem: file?.problem,
  };
}

/** The validated campus of a stack file alone (no Pulumi CLI, no credentials), or a configuration error. */
export async function stackCampus(stack: string): Promise<Campus> {
  const { campus, problem } = await campusOf(await readStack((await stackFiles()).stackFilePath(stack)));
  if (!campus) throw new OpsError("config", "-", problem ?? "invalid stack file");
  return campus;
}
