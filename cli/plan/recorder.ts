import * as pulumi from "@pulumi/pulumi";

/**
 * Runs a Pulumi program under the SDK's documented mock runtime and records what it registers,
 * with the engine-side details mocks do not hand to `newResource`: parent, dependencies, protect,
 * retainOnDelete, additionalSecretOutputs. No CLI, credentials or network are involved.
 */

/** Marker the SDK puts on serialized secret values. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  custom: boolean;
  /** Inputs as the engine would receive them; secrets stay wrapped ({[SECRET_SIG]: ..., value}). */
  inputs: Record<string, unknown>;
  dependencies: string[];
  protect: boolean;
  retainOnDelete: boolean;
  additionalSecretOutputs: string[];
  ignoreChanges: string[];
}

export interface Evaluation<T> {
  resources: RecordedResource[];
  /** What the program returned (stack outputs), resolved; secret outputs are wrapped like inputs. */
  outputs: T;
}

export interface EvaluateOptions {
  project: string;
  stack: string;
  /** Keys as `<project>:<key>`, values as strings (objects as JSON), like `pulumi config`. */
  config: Record<string, string>;
  secretKeys?: string[];
  mocks: pulumi.runtime.Mocks;
  preview?: boolean;
}

// The gRPC request objects the SDK sends to the monitor (google-protobuf messages).
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProtect(): boolean;
  getRetainondelete?(): boolean;
  getDependenciesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getIgnorechangesList(): string[];
  getObject(): unknown;
}

type Callback = (err: Error | null, resp?: { getUrn(): string }) => void;

/** Resources registered by one evaluation; one evaluation runs at a time in a process. */
export async function evaluateProgram<T>(options: EvaluateOptions, program: () => Promise<T> | T): Promise<Evaluation<T>> {
  // The SDK's debuggablePromise keeps `new Error().stack` on every promise it wraps, for a leak report
  // no mock run needs: capturing and formatting those traces was a quarter of a 100-node plan's time and
  // most of its memory. Errors keep their messages; only their stack traces are left out meanwhile.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return await recordProgram(options, program);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

async function recordProgram<T>(options: EvaluateOptions, program: () => Promise<T> | T): Promise<Evaluation<T>> {
  await pulumi.runtime.setMocks(options.mocks, options.project, options.stack, options.preview ?? false);
  pulumi.runtime.setAllConfig(options.config, options.secretKeys ?? []);
  const resources: RecordedResource[] = [];
  const pending = new Set<Promise<void>>();
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: Callback): Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const done = register(req, (err, resp) => {
      if (!err && resp) {
        resources.push({
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          parent: req.getParent() || undefined,
          custom: req.getCustom(),
          inputs: pulumi.runtime.deserializeProperties(req.getObject() as Parameters<typeof pulumi.runtime.deserializeProperties>[0]),
          dependencies: [...req.getDependenciesList()].sort(),
          protect: req.getProtect(),
          retainOnDelete: req.getRetainondelete?.() ?? false,
          additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
          ignoreChanges: req.getIgnorechangesList(),
        });
      }
      cb(err, resp);
    });
    pending.add(done);
    return done;
  };

  let outputs: unknown;
  await pulumi.runtime.runInPulumiStack(async () => {
    outputs = await program();
    return outputs as Record<string, unknown>;
  });
  // Registrations started by apply callbacks may still be in flight: wait until none are left.
  for (let settled = 0; settled !== pending.size;) {
    settled = pending.size;
    await Promise.all([...pending]);
    await new Promise((r) => setImmediate(r));
  }
  return { resources, outputs: (await resolveOutputs(outputs)) as T };
}

/** Resolves Outputs nested in plain data; secret values come back wrapped with SECRET_SIG. */
export async function resolveOutputs(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const out = value as pulumi.Output<unknown>;
    const [resolved, secret] = await Promise.all([
      new Promise<unknown>((r) => out.apply((v) => r(v))),
      (out as unknown as { isSecret: Promise<boolean> }).isSecret,
    ]);
    const inner = await resolveOutputs(resolved);
    return secret ? { [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", value: inner } : inner;
  }
  if (Array.isArray(value)) return Promise.all(value.map(resolveOutputs));
  if (value && typeof value === "object" && !pulumi.Resource.isInstance(value)) {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveOutputs(v)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

export function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && SECRET_SIG in v;
}
