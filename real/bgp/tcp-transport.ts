// The Transport port on node:net: BGP byte streams over real TCP in this process's network
// namespace (run the process with `ip netns exec NS` to speak inside a namespace).
//
// Every socket has TCP_NODELAY (a KEEPALIVE or NOTIFICATION must not wait for Nagle). Socket errors
// never escape as exceptions: they end the connection and arrive as its close reason. Writes are
// queued by the socket when the kernel buffer is full (send() has no back-pressure signal in the
// port); a peer that stops reading is cut off with an error reason once `maxBufferedBytes` are
// queued, instead of letting memory grow without bound.
import net from "node:net";
import type { CloseReason, ConnectOptions, Connection, Listener, Transport } from "../../src/core/bgp/ports.ts";

export interface TcpTransportOptions {
  /** Queued, unsent octets at which a connection is dropped (default 64 MiB). */
  maxBufferedBytes?: number;
  /** How long close() waits for the peer to finish before destroying the socket (default 2000 ms). */
  closeTimeoutMs?: number;
}

const errorReason = (e: unknown): { error: string } => {
  const err = e as NodeJS.ErrnoException;
  return { error: err.code ? `${err.code}: ${err.message}` : String(err?.message ?? e) };
};

export class TcpConnection implements Connection {
  private receiver: ((bytes: Uint8Array) => void) | undefined;
  private closeCb: ((reason: CloseReason) => void) | undefined;
  private reason: CloseReason | undefined;
  private closedAt: CloseReason | undefined; // set once the socket is gone
  private notified = false;
  private closing = false;

  constructor(
    readonly socket: net.Socket,
    private readonly opts: Required<TcpTransportOptions>,
  ) {
    socket.setNoDelay(true);
    socket.on("error", (e) => {
      this.reason ??= errorReason(e);
    });
    socket.on("end", () => {
      this.reason ??= this.closing ? "closed" : "peer-closed";
    });
    socket.on("close", () => {
      this.closedAt = this.reason ?? (this.closing ? "closed" : "peer-closed");
      this.notify();
    });
  }

  get localAddress(): string {
    return this.socket.localAddress ?? "";
  }
  get localPort(): number {
    return this.socket.localPort ?? 0;
  }
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "";
  }
  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }
  /** Octets queued in user space, not yet handed to the kernel. */
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }
  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  send(bytes: Uint8Array): void {
    if (this.closing || this.closedAt !== undefined || this.socket.destroyed) return;
    this.socket.write(bytes);
    if (this.socket.writableLength > this.opts.maxBufferedBytes) {
      this.fail(`send buffer overflow: ${this.socket.writableLength} octets queued, the peer is not reading`);
    }
  }

  close(): void {
    if (this.closing || this.closedAt !== undefined) return;
    this.closing = true;
    this.reason ??= "closed";
    if (this.socket.connecting) {
      this.socket.destroy(); // aborts the attempt; queued bytes were never going anywhere
      return;
    }
    // end() flushes what was sent, then sends FIN; a peer that never closes its side is cut off.
    // Reading resumes (and is discarded) so the peer's FIN is seen even if nobody called onData.
    this.socket.end();
    this.socket.resume();
    const t = setTimeout(() => this.socket.destroy(), this.opts.closeTimeoutMs);
    t.unref();
    this.socket.once("close", () => clearTimeout(t));
  }

  onData(cb: (bytes: Uint8Array) => void): void {
    const first = this.receiver === undefined;
    this.receiver = cb;
    // Reading starts only once someone listens: nothing is lost before the first onData.
    if (first) {
      this.socket.on("data", (buf: Buffer) => {
        if (this.closing || !this.receiver) return;
        try {
          this.receiver(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
        } catch (e) {
          this.fail(`receiver threw: ${e instanceof Error ? e.message : String(e)}`);
        }
      });
    }
  }

  onClose(cb: (reason: CloseReason) => void): void {
    this.closeCb = cb;
    if (this.closedAt !== undefined && !this.notified) setImmediate(() => this.notify());
  }

  /** Ends the connection at once with an error reason. */
  fail(message: string): void {
    if (this.closedAt !== undefined) return;
    this.reason = { error: message };
    this.socket.destroy();
  }

  private notify(): void {
    if (this.notified || !this.closeCb || this.closedAt === undefined) return;
    this.notified = true;
    const cb = this.closeCb;
    const reason = this.closedAt;
    try {
      cb(reason);
    } catch (e) {
      // A throwing callback must not take the process down with it.
      process.emitWarning(`BGP connection close callback threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

export class TcpListener implements Listener {
  /** Resolves once bound; rejects (e.g. EADDRINUSE) when the address cannot be used. */
  readonly ready: Promise<void>;
  private closed = false;

  constructor(
    readonly server: net.Server,
    private readonly requested: { address: string; port: number },
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      server.once("listening", () => resolve());
      server.once("error", (e) => reject(e));
    });
    // Whoever ignores `ready` still gets no unhandled rejection; the error is in `ready`.
    this.ready.catch(() => undefined);
  }

  get address(): string {
    const a = this.server.address();
    return a && typeof a === "object" ? a.address : this.requested.address;
  }
  get port(): number {
    const a = this.server.address();
    return a && typeof a === "object" ? a.port : this.requested.port;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.server.listening) this.server.close();
  }
}

export class TcpTransport implements Transport {
  private readonly opts: Required<TcpTransportOptions>;

  constructor(options: TcpTransportOptions = {}) {
    this.opts = { maxBufferedBytes: options.maxBufferedBytes ?? 64 * 1024 * 1024, closeTimeoutMs: options.closeTimeoutMs ?? 2000 };
  }

  connect(opts: ConnectOptions, onConnected: (conn: Connection) => void): TcpConnection {
    const socket = new net.Socket();
    const conn = new TcpConnection(socket, this.opts);
    socket.once("connect", () => {
      if (conn.closed) return;
      try {
        onConnected(conn);
      } catch (e) {
        conn.fail(`onConnected threw: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    // connect() can throw synchronously for bad arguments (e.g. a malformed port): make it a close reason.
    try {
      socket.connect({ host: opts.remoteAddress, port: opts.remotePort, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}), noDelay: true });
    } catch (e) {
      setImmediate(() => socket.destroy(e as Error));
    }
    return conn;
  }

  /**
   * Listens on address:port. Binding errors (port taken, address not local) are asynchronous in
   * node:net: they reject `listener.ready` (use listenAsync to await it) and are not thrown here.
   */
  listen(address: string, port: number, onConnection: (conn: Connection) => void): TcpListener {
    const server = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => {
      const conn = new TcpConnection(socket, this.opts);
      try {
        onConnection(conn);
      } catch (e) {
        conn.fail(`onConnection threw: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    const listener = new TcpListener(server, { address, port });
    server.on("error", () => undefined); // reported through `ready`
    server.listen({ host: address, port, exclusive: true });
    return listener;
  }

  /** listen(), resolved once bound; rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL...). */
  async listenAsync(address: string, port: number, onConnection: (conn: Connection) => void): Promise<TcpListener> {
    const l = this.listen(address, port, onConnection);
    await l.ready;
    return l;
  }
}
