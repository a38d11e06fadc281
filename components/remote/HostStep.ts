import { basename, dirname } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { remote, type types } from "@pulumi/command";
import type { HostHandle } from "../hosts/HostHandle";
import { STEPS, type StepName } from "./catalogue";
import { renderStepCommand, renderStepStdin } from "./invocation";
import { scriptBundle, type ScriptBundle } from "./scriptBundle";
import { CREDIT_ESTIMATE_IN_HOME } from "../monitoring/creditEstimate";
import { SLEEPING_LIST_IN_HOME } from "../schedule/sleepingList";

/** What a host needs to run steps: a name for resources and errors, how to reach it, what to wait for. */
export interface StepHost {
  name: string;
  connection: pulumi.Input<types.input.remote.ConnectionArgs>;
  sshUser: string;
  ready: pulumi.Resource[];
  /**
   * Nothing runs on the host again while this is set: every step keeps the inputs of its last run
   * (ignoreChanges), so a changed input re-runs nothing and no SSH connection is made. For the front while
   * the standby front serves (campus.servingFront): it may be fenced, or gone with its datacenter. A step the
   * host never ran is still made; a guard (a delete only) connects to nothing when made.
   */
  held?: boolean;
  /**
   * The host is a new server under a name whose steps already ran (the front, campus.rebuildFront): every
   * step carries REBUILT in its triggers, so each runs again there even where the new server has the old one's
   * address and host key (an OS reinstalled), which would otherwise leave every input as it was.
   */
  rebuilt?: boolean;
}

/** The trigger every step of a rebuilt host carries (StepHost.rebuilt). */
export const REBUILT = "rebuilt (campus.rebuildFront)";

/** Every input HostSteps gives a Command, and a CopyToRemote: what a held host's resources keep from their state. */
const COMMAND_INPUTS = ["connection", "create", "delete", "stdin", "triggers", "logging", "addPreviousOutputInEnv"];
const COPY_INPUTS = ["connection", "source", "remotePath", "triggers"];

export const stepHostOf = (handle: HostHandle): StepHost => ({
  name: handle.host.name,
  connection: handle.connection,
  sshUser: handle.sshUser,
  ready: handle.ready,
});

/** The SSH user's ~/.bbb-ovh, where the deployment copies its scripts and `ops` keeps its state. */
function remoteStateDir(sshUser: string): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(sshUser)) throw new Error(`'${sshUser}' is not a Unix user name`);
  return `${sshUser === "root" ? "/root" : `/home/${sshUser}`}/.bbb-ovh`;
}

/** Where the scripts live on a host: under the SSH user's home, so no root-owned path is needed to copy. */
export function remoteScriptDir(sshUser: string): string {
  return `${remoteStateDir(sshUser)}/scripts`;
}

/** The front's list of nodes `ops schedule apply` / `ops scale` put to sleep, in the SSH user's home. */
export function sleepingListPath(sshUser: string): string {
  return `${dirname(remoteStateDir(sshUser))}/${SLEEPING_LIST_IN_HOME}`;
}

/** The front's credit estimate, written by `ops voucher status` / `schedule apply` / `scale`, in the SSH user's home. */
export function creditEstimatePath(sshUser: string): string {
  return `${dirname(remoteStateDir(sshUser))}/${CREDIT_ESTIMATE_IN_HOME}`;
}

/** A step's inputs; `undefined` leaves an optional input out. */
export type StepInputValues = Record<string, pulumi.Input<string> | undefined>;

/** A step's stdin, secret when one of its secret inputs is given; the key set is checked now, the values once known. */
function stepStdin(step: StepName, inputs: StepInputValues): { stdin: pulumi.Output<string>; carriesSecret: boolean } {
  const given = Object.fromEntries(Object.entries(inputs).filter((entry): entry is [string, pulumi.Input<string>] => entry[1] !== undefined));
  renderStepStdin(step, Object.fromEntries(Object.keys(given).map((key) => [key, ""])));
  const carriesSecret = STEPS[step].secret.some((key) => key in given);
  const stdin = pulumi.all(given).apply((values) => renderStepStdin(step, values));
  return { stdin: carriesSecret ? pulumi.secret(stdin) : stdin, carriesSecret };
}

/**
 * Runs catalogue steps on one host. It first checks that SSH answers (so a dead host fails with its
 * own name on the first resource), then copies scripts/ once, then each `run` is one remote.Command
 * whose command line holds only the script path; every value travels on stdin.
 * A step re-runs when its inputs change, when its script, a script it installs or a lib/ file they source changes,
 * or when a trigger it is given changes, never otherwise.
 */
export class HostSteps {
  readonly sshReady: remote.Command;
  readonly scripts: remote.CopyToRemote;
  private readonly connection: pulumi.Input<types.input.remote.ConnectionArgs>;
  private readonly scriptDir: string;

  constructor(
    private readonly owner: pulumi.Resource,
    private readonly host: StepHost,
    private readonly bundle: ScriptBundle = scriptBundle(),
  ) {
    this.scriptDir = remoteScriptDir(host.sshUser);
    if (basename(bundle.dir) !== basename(this.scriptDir)) throw new Error(`the script bundle must be a directory named scripts, got ${bundle.dir}`);
    // The host components bound SSH dialing (components/hosts/connection.ts), so a dead host fails
    // here, on a resource named after it, instead of hanging.
    this.connection = host.connection;

    this.sshReady = new remote.Command(
      `${host.name}-ssh`,
      { connection: this.connection, create: "uname -n", addPreviousOutputInEnv: false, ...(host.rebuilt ? { triggers: [REBUILT] } : {}) },
      { parent: owner, dependsOn: host.ready, ...this.held(COMMAND_INPUTS) },
    );
    // A directory source without a trailing slash lands in <remotePath>/<its name>, whether or not
    // that directory already exists (pulumi-command's sftp copy), so remotePath is the parent.
    this.scripts = new remote.CopyToRemote(
      `${host.name}-scripts`,
      {
        connection: this.connection,
        source: new pulumi.asset.FileArchive(bundle.dir),
        remotePath: dirname(this.scriptDir),
        triggers: [bundle.hash, ...this.rebuilt],
      },
      { parent: owner, dependsOn: [this.sshReady], ...this.held(COPY_INPUTS) },
    );
  }

  private get rebuilt(): string[] {
    return this.host.rebuilt ? [REBUILT] : [];
  }

  private held(inputs: string[], step = false): { ignoreChanges?: string[] } {
    return this.host.held || step ? { ignoreChanges: inputs } : {};
  }

  /**
   * A guard: `step` runs when Pulumi deletes the returned resource, never on create or update, with the
   * inputs of its last update. It has no trigger, so nothing replaces it (a replacement would run the
   * step on a host still in use); it is deleted only with what it guards, which must depend on nothing
   * that depends on it. `name` tells the guards of one step apart; guardName gives the resource's name.
   */
  guardName(step: StepName, name: string, namedAfter = this.host.name): string {
    return `${namedAfter}-${step}-${name}`;
  }

  /** `namedAfter`: as for run. */
  guard(
    step: StepName,
    name: string,
    inputs: StepInputValues,
    options: { dependsOn?: pulumi.Resource[]; parent?: pulumi.Resource; namedAfter?: string } = {},
  ): remote.Command {
    const { stdin, carriesSecret } = stepStdin(step, inputs);
    return new remote.Command(
      this.guardName(step, name, options.namedAfter),
      {
        connection: this.connection,
        delete: renderStepCommand(step, this.scriptDir, this.host.sshUser !== "root"),
        stdin,
        logging: carriesSecret ? "none" : "stdoutAndStderr",
        addPreviousOutputInEnv: false,
      },
      {
        parent: options.parent ?? this.owner,
        dependsOn: [this.scripts, ...(options.dependsOn ?? [])],
        additionalSecretOutputs: carriesSecret ? ["stdout", "stderr"] : [],
        ...this.held(COMMAND_INPUTS),
      },
    );
  }

  /**
   * Runs `step` after the scripts are in place and after `dependsOn`; the resource is a child of `parent` (default: the host's component).
   * `triggers`: what else must re-run the step when it changes (a new installer pin), beside its script.
   * `namedAfter`: the host the resource is named after (default this one): a step of the front that serves
   * keeps the front's name when the standby front serves (campus.servingFront), so that Pulumi updates it,
   * which runs it on the standby, rather than deleting one resource (a guard's delete runs its step) and
   * making another. `held`: this step alone keeps its last inputs, as every step of a held host does.
   */
  run(
    step: StepName,
    inputs: StepInputValues,
    options: { dependsOn?: pulumi.Input<pulumi.Resource>[]; parent?: pulumi.Resource; triggers?: string[]; namedAfter?: string; held?: boolean } = {},
  ): remote.Command {
    const { stdin, carriesSecret } = stepStdin(step, inputs);
    return new remote.Command(
      `${options.namedAfter ?? this.host.name}-${step}`,
      {
        connection: this.connection,
        create: renderStepCommand(step, this.scriptDir, this.host.sshUser !== "root"),
        stdin,
        triggers: [this.bundle.stepHash(step), ...(options.triggers ?? []), ...this.rebuilt],
        // The scripts never print a secret; when one is on stdin, the output is still kept out of
        // the logs and stored encrypted, in case a tool they call echoes more than it should.
        logging: carriesSecret ? "none" : "stdoutAndStderr",
        addPreviousOutputInEnv: false,
      },
      {
        parent: options.parent ?? this.owner,
        dependsOn: [this.scripts, ...(options.dependsOn ?? [])],
        additionalSecretOutputs: carriesSecret ? ["stdout", "stderr"] : [],
        ...this.held(COMMAND_INPUTS, options.held),
      },
    );
  }
}
