/**
 * A faulty network on loopback, for the fault tests and the fan-out benchmark: a TCP proxy that
 * can hold new connections for a while and cut the open ones (with a reset, as a dropped link
 * looks to the client), a black hole that accepts and never answers, and a port that refuses.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface Endpoint {
  port: number;
  close(): Promise<void>;
}

export interface FaultyProxy extends Endpoint {
  /** Resets every open connection, both ways. Returns how many client connections were cut. */
  cut(): number;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
}

const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** A proxy to 127.0.0.1:`port` that holds each new connection for `delayMs` before connecting it. */
export async function faultyProxy(port: number, { delayMs = 0 }: { delayMs?: number } = {}): Promise<FaultyProxy> {
  const pairs = new Set<{ client: Socket; upstream?: Socket; timer: NodeJS.Timeout }>();
  const server = createServer((client) => {
    client.pause();
    const pair: { client: Socket; upstream?: Socket; timer: NodeJS.Timeout } = {
      client,
      timer: setTimeout(() => {
        const upstream = connect(port, "127.0.0.1", () => {
          client.pipe(upstream).pipe(client);
          client.resume();
        });
        pair.upstream = upstream;
        upstream.on("error", () => client.destroy());
      }, delayMs),
    };
    pairs.add(pair);
    client.on("error", () => undefined);
    client.on("close", () => {
      clearTimeout(pair.timer);
      pairs.delete(pair);
    });
  });
  return {
    port: await listen(server),
    cut() {
      const n = pairs.size;
      for (const { client, upstream, timer } of pairs) {
        clearTimeout(timer);
        client.resetAndDestroy();
        upstream?.resetAndDestroy();
      }
      pairs.clear();
      return n;
    },
    // Waits for clients to hang up themselves: closing must not be a fault of its own.
    close: () => closeServer(server),
  };
}

/** Accepts TCP connections and never says anything: the worst case for a client. */
export async function blackHole(): Promise<Endpoint> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => undefined);
  });
  return {
    port: await listen(server),
    close: () => {
      for (const s of sockets) s.destroy();
      return closeServer(server);
    },
  };
}

/** A loopback port with nothing listening: connections are refused. */
export async function refusingPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}
