/**
 * A real S3 API server on loopback for the backup tests: moto's standalone server (`moto_server`, the
 * Python package moto, preinstalled with the machine's Python).
 *
 * With `auth`, its IAM authentication is on (INITIAL_NO_AUTH_ACTION_COUNT: after that many
 * unauthenticated calls, every request must be signed by a key moto issued, as on OVH's S3 endpoint),
 * so wrong keys are refused as a real endpoint refuses them. Only the credential tests use it: moto 5.2
 * rejects the signature of restic's (minio-go's) listings, whose query strings carry an unescaped '/'
 * (GET /bucket/?delimiter=/&prefix=keys/), so a repository cannot be opened there, only initialised.
 *
 * `quotaProxy` puts a byte budget in front of it: once the bytes uploaded pass it, every upload is
 * answered 403 QuotaExceeded with an S3 XML error body, as Ceph's RADOS Gateway answers a bucket or
 * user over its quota (src/rgw/rgw_http_errors.h: ERR_QUOTA_EXCEEDED -> 403 "QuotaExceeded").
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import { freePort } from "../../support/sshd";

export interface S3Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3Server {
  endpoint: string;
  /** Keys of an IAM user allowed everything in S3 (with auth; any keys are accepted without). */
  keys: S3Keys;
  stop(): Promise<void>;
}

/** The Python that has moto and boto3, or undefined (the tests then skip). */
export function motoPython(): string | undefined {
  for (const python of ["python3", "/root/.pyenv/shims/python3"]) {
    try {
      execFileSync(python, ["-c", "import moto.server, boto3"], { stdio: "ignore" });
      return python;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const SETUP = `
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="backup")
key = iam.create_access_key(UserName="backup")["AccessKey"]
iam.put_user_policy(UserName="backup", PolicyName="s3", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
print(json.dumps({"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}))
`;

async function waitForHttp(url: string, process: ChildProcess, log: string[]): Promise<void> {
  // A bound for a hang: moto_server (a Python start) takes seconds on a busy machine.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (process.exitCode !== null) throw new Error(`moto_server exited: ${log.join("")}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`moto_server did not answer within 120 s: ${log.join("")}`);
}

export async function startS3(python: string, { auth }: { auth: boolean }): Promise<S3Server> {
  const port = await freePort();
  const log: string[] = [];
  // Three unauthenticated calls: the IAM user, its key and its policy; everything after is signed.
  const server = spawn(python, ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    env: { ...process.env, ...(auth ? { INITIAL_NO_AUTH_ACTION_COUNT: "3" } : {}) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.on("data", (d) => log.push(String(d)));
  server.stderr!.on("data", (d) => log.push(String(d)));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitForHttp(`${endpoint}/moto-api/`, server, log);
  // Without authentication any key is accepted; a random secret still lets tests look for leaks.
  const keys: S3Keys = auth
    ? JSON.parse(execFileSync(python, ["-c", SETUP, endpoint], { encoding: "utf8" }))
    : { accessKeyId: "AKIABACKUPTEST000000", secretAccessKey: randomBytes(30).toString("base64") };
  return {
    endpoint,
    keys,
    stop: () =>
      new Promise<void>((resolve) => {
        if (server.exitCode !== null) return resolve();
        server.once("exit", () => resolve());
        server.kill("SIGTERM");
      }),
  };
}

export interface QuotaProxy {
  endpoint: string;
  /** Bytes of uploads let through so far. */
  uploaded(): number;
  setBudget(bytes: number): void;
  stop(): Promise<void>;
}

/** Forwards to `upstream`, refusing uploads (PUT/POST with a body) once `budget` bytes went through. */
export async function quotaProxy(upstream: string, budget: number): Promise<QuotaProxy> {
  const target = new URL(upstream);
  let used = 0;
  let limit = budget;
  const server: Server = createServer((req, res) => {
    const size = Number(req.headers["content-length"] ?? 0);
    if ((req.method === "PUT" || req.method === "POST") && size > 0 && used + size > limit) {
      req.resume();
      res.writeHead(403, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>QuotaExceeded</Code><Message>Quota exceeded</Message><Resource>${req.url}</Resource></Error>`,
      );
      return;
    }
    if (req.method === "PUT" || req.method === "POST") used += size;
    // The Host header is passed on unchanged: it is part of what the client signed.
    const forward = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    uploaded: () => used,
    setBudget: (bytes) => {
      limit = bytes;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
