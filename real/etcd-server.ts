// Runs a private single-member etcd on loopback for tests, benchmarks and local real-mode runs:
// free ports, a temporary data dir, wait for /health, and a stop() that leaves nothing behind.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const DEFAULT_ETCD_BINARY = "/usr/bin/etcd";

export interface EtcdServerOptions {
  /** Path of the etcd binary; default $BIRDCAGE_ETCD or /usr/bin/etcd. */
  binary?: string;
  /** Data directory; default a fresh temporary one, removed again by stop(). */
  dataDir?: string;
  /** Remove a given `dataDir` on stop() too (default: only the temporary one is removed). */
  removeDataDir?: boolean;
  /**
   * Called with the pid right after each spawn (before etcd is healthy), so an owner can record the
   * process before anything waits on it: a caller killed meanwhile leaves no unrecorded etcd.
   */
  onSpawn?: (pid: number) => void;
  /** Where the temporary data dir goes; default the OS temp dir. /dev/shm makes fsync free (tests, benches). */
  tempParent?: string;
  /** Member name; default "bc-etcd". */
  name?: string;
  /** Fixed ports (e.g. to restart a member where clients expect it); default free ones. */
  clientPort?: number;
  peerPort?: number;
  /** How long to wait for /health; default 20 s. */
  startTimeoutMs?: number;
  /**
   * Also serve clients on a unix socket in the data dir (`unixEndpoint`). A socket is reachable from
   * every network namespace on the machine, where 127.0.0.1 is not (CNI plugin runs in a node netns).
   */
  unixSocket?: boolean;
}

export interface EtcdServer {
  /** Client URL, e.g. http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly pid: number;
  readonly dataDir: string;
  /** With `unixSocket`: the socket's client URL, e.g. unix:///dev/shm/bc-etcd-x/bc-etcd.sock:0 */
  readonly unixEndpoint?: string;
  /** SIGTERM, wait for exit (SIGKILL after 10 s), remove a temporary data dir. Idempotent. */
  stop(): Promise<void>;
}

/** A RAM-backed directory for throwaway data dirs, when the machine has one. */
export function ramDir(): string | undefined {
  return existsSync("/dev/shm") ? "/dev/shm" : undefined;
}

/** The etcd binary to use, or undefined when it is not installed. */
export function etcdBinary(): string | undefined {
  const bin = process.env.BIRDCAGE_ETCD ?? DEFAULT_ETCD_BINARY;
  return existsSync(bin) ? bin : undefined;
}

/** Distinct free TCP ports on 127.0.0.1 (held open together so they differ, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => resolve(s));
    })),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === "string") throw new Error("listen(0) gave no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

export async function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  const binary = options.binary ?? etcdBinary();
  if (!binary || !existsSync(binary)) throw new Error(`etcd binary not found (${options.binary ?? process.env.BIRDCAGE_ETCD ?? DEFAULT_ETCD_BINARY})`);
  const ownDir = options.dataDir === undefined || options.removeDataDir === true;
  const dataDir = options.dataDir ?? (await mkdtemp(join(options.tempParent ?? tmpdir(), "bc-etcd-")));
  // Another process can grab a port between our probe and etcd's bind: retry with fresh ports then.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(binary, dataDir, ownDir, options);
    } catch (e) {
      lastError = e;
      if (!(e instanceof PortInUse) || options.clientPort !== undefined || options.peerPort !== undefined) break;
    }
  }
  if (ownDir) await rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

class PortInUse extends Error {}

async function launch(binary: string, dataDir: string, ownDir: boolean, options: EtcdServerOptions): Promise<EtcdServer> {
  const [free1, free2] = (await freePorts(2)) as [number, number];
  const clientPort = options.clientPort ?? free1;
  const peerPort = options.peerPort ?? free2;
  // A port someone else serves would answer our health check for them: make sure fixed ones are free.
  for (const port of [options.clientPort, options.peerPort]) {
    if (port !== undefined && !(await portFree(port))) throw new PortInUse(`127.0.0.1:${port} is already in use`);
  }
  const name = options.name ?? "bc-etcd";
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  // etcd wants host:port in a unix URL and creates the socket file "host:port" in its working directory.
  const socketName = "bc-etcd.sock:0";
  const listenClients = options.unixSocket ? `${client},unix://${socketName}` : client;
  const child = spawn(
    binary,
    [
      "--name", name, "--data-dir", dataDir,
      "--listen-client-urls", listenClients, "--advertise-client-urls", client,
      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
      "--initial-cluster", `${name}=${peer}`, "--initial-cluster-state", "new",
      "--logger", "zap", "--log-level", "warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"], ...(options.unixSocket ? { cwd: dataDir } : {}) },
  );
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  // If this process dies without stop(), take etcd with it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.removeListener("exit", killOnExit);
      await terminate(child, exited);
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    })());

  const timeoutMs = options.startTimeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  const failed = Promise.race([
    exited.then((code) => `etcd exited with code ${code}`),
    spawnError.then((e) => `etcd failed to start: ${e.message}`),
  ]);
  let failure: string | undefined;
  void failed.then((f) => (failure = f));
  for (;;) {
    if (failure !== undefined) {
      const inUse = /address already in use/.test(stderr);
      process.removeListener("exit", killOnExit);
      const msg = `${failure}\n${stderr.trim()}`;
      throw inUse ? new PortInUse(msg) : new Error(msg);
    }
    if ((await healthy(clientPort)) && child.exitCode === null && child.signalCode === null) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd not healthy after ${timeoutMs} ms\n${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const unixEndpoint = options.unixSocket ? { unixEndpoint: `unix://${join(dataDir, socketName)}` } : {};
  return { endpoint: client, clientPort, peerPort, pid: child.pid!, dataDir, ...unixEndpoint, stop };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function terminate(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), 10_000)));
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome === "late") {
    child.kill("SIGKILL");
    await exited;
  }
}

/** GET /health answers {"health":"true"} once the member serves requests. */
function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/health", agent: false, timeout: 1000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}
