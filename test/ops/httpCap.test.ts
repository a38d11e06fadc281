/**
 * cli/ops/http.ts against a loopback server that streams an endless body: ops reads at most
 * MAX_BODY_BYTES and fails with exit code 6 (unexpected answer) instead of running out of memory or
 * string length ("Cannot create a string longer than ..."). The server stops once the client hangs up.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpsError } from "../../cli/ops/errors";
import { httpGet, MAX_BODY_BYTES } from "../../cli/ops/http";

describe("httpGet caps what it reads", () => {
  let server: Server;
  let url = "";
  let sent = 0;
  beforeAll(async () => {
    const chunk = Buffer.alloc(64 * 1024, "x");
    server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/xml" });
      // Endless, paced by the client: stops when the client closes the connection.
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed) res.once("drain", pump);
      };
      res.on("close", () => res.destroy());
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bigbluebutton/api`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("fails with exit code 6 once the answer passes the cap, and stops reading", async () => {
    const failure = await httpGet(url, { timeoutMs: 60_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(OpsError);
    expect((failure as OpsError).exitCode).toBe(6);
    expect((failure as OpsError).message).toContain(`larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`);
    // Bounded: the server was stopped by the hang-up, within a few socket buffers of the cap.
    expect(sent).toBeLessThan(MAX_BODY_BYTES + 64 * 1024 * 1024);
  });

  it("still reads an answer under the cap whole", async () => {
    const small = createServer((_req, res) => res.end("<response><returncode>SUCCESS</returncode></response>"));
    await new Promise<void>((resolve) => small.listen(0, "127.0.0.1", resolve));
    const r = await httpGet(`http://127.0.0.1:${(small.address() as AddressInfo).port}/`, { timeoutMs: 30_000 });
    await new Promise<void>((resolve) => small.close(() => resolve()));
    expect(r.body).toBe("<response><returncode>SUCCESS</returncode></response>");
  });
});
