// A unix control socket speaking line-delimited JSON: one request object per line
// (`{"command":"peers"}`), one reply object per line. Used by `birdcage bgp speaker` and
// `birdcage agent`; `queryControl` is the client. Requests are untrusted: bad JSON, unknown commands
// and over-long lines get `{ error }`, never a crash.
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import net from "node:net";

/** A control request larger than this is refused (and the client dropped). */
const MAX_REQUEST = 64 * 1024;

export type ControlHandler = (command: string, request: Record<string, unknown>) => unknown | Promise<unknown>;

export class ControlServer {
  private server: net.Server | undefined;
  private readonly clients = new Set<net.Socket>();

  constructor(
    readonly path: string,
    private readonly handle: ControlHandler,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Listens; a stale socket file from a crashed run is replaced, anything else at the path is refused. */
  async start(): Promise<void> {
    if (existsSync(this.path)) {
      if (!lstatSync(this.path).isSocket()) throw new Error(`control socket ${this.path}: exists and is not a socket`);
      const alive = await new Promise<boolean>((r) => {
        const s = net.connect(this.path);
        s.on("connect", () => (s.destroy(), r(true)));
        s.on("error", () => r(false));
      });
      if (alive) throw new Error(`control socket ${this.path}: another process is listening on it`);
      unlinkSync(this.path);
    }
    const server = net.createServer((sock) => this.serve(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.path, () => {
        server.off("error", reject);
        server.on("error", (e) => this.log(`control: ${e.message}`));
        resolve();
      });
    });
  }

  /** Closes every client and the socket, and removes the socket file. */
  async stop(): Promise<void> {
    for (const c of this.clients) c.destroy();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = undefined;
    if (existsSync(this.path)) unlinkSync(this.path);
  }

  private serve(sock: net.Socket): void {
    this.clients.add(sock);
    sock.on("close", () => this.clients.delete(sock));
    sock.on("error", () => undefined);
    let buf = "";
    let chain: Promise<void> = Promise.resolve();
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        // Replies keep the order of the requests even when a handler is asynchronous.
        if (line) chain = chain.then(async () => void sock.write(JSON.stringify(await this.answer(line)) + "\n"));
      }
      if (buf.length > MAX_REQUEST) {
        sock.end(JSON.stringify({ error: "request too long" }) + "\n");
        buf = "";
      }
    });
  }

  /** One control request → one reply object; bad requests get `{ error }`. */
  async answer(line: string): Promise<unknown> {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { error: "not JSON" };
    }
    if (req === null || typeof req !== "object" || typeof (req as Record<string, unknown>).command !== "string") return { error: 'expected {"command": "..."}' };
    const r = req as Record<string, unknown>;
    try {
      return await this.handle(r.command as string, r);
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  }
}

/** Sends one request to a control socket and returns its reply (bounded by timeoutMs). */
export function queryControl(path: string, command: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(JSON.stringify({ command }) + "\n"));
    sock.on("data", (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      sock.destroy();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      } catch {
        reject(new Error(`${path}: the answer is not JSON`));
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${path}: ${e.message}`));
    });
    sock.on("close", () => {
      clearTimeout(timer);
      reject(new Error(`${path}: closed without an answer`));
    });
  });
}
