// A deterministic in-memory Transport: a LoopbackNetwork connects hosts by address, and each host gets
// a Transport bound to its address. Bytes and closes are delivered through the Clock after a fixed
// latency, in order, so runs on a ManualClock are reproducible. Faults: cut() drops every connection
// between two hosts (no FIN: like a link failure followed by a reset), crash() kills a host.
import type { Clock, CloseReason, ConnectOptions, Connection, Listener, TimerHandle, Transport } from "./ports.ts";

const BGP_PORT = 179;

class LoopbackConnection implements Connection {
  peer: LoopbackConnection | undefined;
  private dataCb: ((b: Uint8Array) => void) | undefined;
  private closeCb: ((r: CloseReason) => void) | undefined;
  private inbox: Uint8Array[] = [];
  private closedReason: CloseReason | undefined;
  private closeReported = false;
  open = false;
  dead = false;
  private queued: Uint8Array[] = [];

  constructor(
    private readonly net: LoopbackNetwork,
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}

  send(bytes: Uint8Array): void {
    if (this.dead) return;
    if (!this.open) {
      this.queued.push(bytes);
      return;
    }
    const peer = this.peer;
    if (!peer) return;
    if (this.net.isPartitioned(this.localAddress, this.remoteAddress)) return;
    this.net.bytesSent += bytes.length;
    this.net.later(() => peer.deliver(bytes));
  }

  /** Called when the handshake completes: flush what was queued. */
  established(): void {
    this.open = true;
    const q = this.queued;
    this.queued = [];
    for (const b of q) this.send(b);
  }

  private deliver(bytes: Uint8Array): void {
    if (this.dead) return;
    if (this.dataCb) this.dataCb(bytes);
    else this.inbox.push(bytes);
  }

  close(): void {
    if (this.dead) return;
    this.dead = true;
    const peer = this.peer;
    // The FIN follows the bytes already sent (same latency, later in the queue).
    if (peer) this.net.later(() => peer.remoteClosed("peer-closed"));
    this.net.later(() => this.reportClose("closed"));
    this.net.forget(this);
  }

  /** The other side went away (FIN, or a fault). */
  remoteClosed(reason: CloseReason): void {
    if (this.dead) return;
    this.dead = true;
    this.net.forget(this);
    this.reportClose(reason);
  }

  /** A fault on this side: no FIN to the peer. */
  abort(reason: CloseReason): void {
    if (this.dead) return;
    this.dead = true;
    this.net.forget(this);
    this.net.later(() => this.reportClose(reason));
  }

  private reportClose(reason: CloseReason): void {
    this.closedReason = reason;
    if (this.closeCb && !this.closeReported) {
      this.closeReported = true;
      this.closeCb(reason);
    }
  }

  onData(cb: (b: Uint8Array) => void): void {
    this.dataCb = cb;
    const backlog = this.inbox;
    this.inbox = [];
    for (const b of backlog) cb(b);
  }

  onClose(cb: (r: CloseReason) => void): void {
    this.closeCb = cb;
    const r = this.closedReason;
    if (r !== undefined && !this.closeReported) {
      this.net.later(() => this.reportClose(r));
    }
  }
}

interface LoopbackListener extends Listener {
  onConnection: (c: Connection) => void;
  host: string;
}

export class LoopbackNetwork {
  /** Total payload octets sent, for tests and benchmarks. */
  bytesSent = 0;
  private listeners = new Map<string, LoopbackListener>();
  private conns = new Set<LoopbackConnection>();
  private nextPort = 40000;
  private down = new Set<string>();
  private partitions = new Set<string>();

  constructor(
    private readonly clock: Clock,
    private readonly latencyMs = 1,
  ) {}

  later(fn: () => void): TimerHandle {
    return this.clock.setTimer(this.latencyMs, fn);
  }

  forget(c: LoopbackConnection): void {
    this.conns.delete(c);
  }

  /** The Transport of the host at `address`. */
  transport(address: string): Transport {
    return {
      connect: (opts, onConnected) => this.connect(address, opts, onConnected),
      listen: (listenAddress, port, onConnection) => this.listen(address, listenAddress, port, onConnection),
    };
  }

  private findListener(address: string, port: number): LoopbackListener | undefined {
    return this.listeners.get(`${address}|${port}`) ?? [...this.listeners.values()].find((l) => l.port === port && l.host === address && (l.address === "0.0.0.0" || l.address === "::"));
  }

  private connect(host: string, opts: ConnectOptions, onConnected: (c: Connection) => void): Connection {
    const local = opts.localAddress ?? host;
    const port = this.nextPort++;
    const c = new LoopbackConnection(this, local, port, opts.remoteAddress, opts.remotePort);
    this.conns.add(c);
    this.later(() => {
      if (c.dead) return;
      if (this.isPartitioned(host, opts.remoteAddress)) return; // the SYN is lost: nothing ever happens
      const l = this.down.has(opts.remoteAddress) || this.down.has(host) ? undefined : this.findListener(opts.remoteAddress, opts.remotePort);
      if (!l) {
        c.remoteClosed({ error: `connect ${opts.remoteAddress}:${opts.remotePort}: connection refused` });
        return;
      }
      const s = new LoopbackConnection(this, opts.remoteAddress, opts.remotePort, local, port);
      s.peer = c;
      c.peer = s;
      this.conns.add(s);
      s.established();
      c.established();
      l.onConnection(s);
      onConnected(c);
    });
    return c;
  }

  private listen(host: string, address: string, port: number, onConnection: (c: Connection) => void): Listener {
    const key = `${address === "0.0.0.0" || address === "::" ? host : address}|${port || BGP_PORT}`;
    if (this.listeners.has(key)) throw new Error(`listen ${address}:${port}: address already in use`);
    const l: LoopbackListener = {
      address,
      port: port || BGP_PORT,
      host,
      onConnection,
      close: () => {
        if (this.listeners.get(key) === l) this.listeners.delete(key);
      },
    };
    this.listeners.set(key, l);
    return l;
  }

  /** Every connection between hosts a and b fails at both ends (no FIN, no NOTIFICATION). */
  cut(a: string, b: string): void {
    for (const c of [...this.conns]) {
      if ((c.localAddress === a && c.remoteAddress === b) || (c.localAddress === b && c.remoteAddress === a)) {
        c.abort({ error: "connection reset" });
      }
    }
  }

  /**
   * The host dies like `kill -9` followed by a reset: its connections vanish (peers see a reset after
   * the latency, without NOTIFICATION) and its listeners stop until revive(). Its own callbacks never fire again.
   */
  crash(address: string, opts: { reset?: boolean } = {}): void {
    this.down.add(address);
    for (const c of [...this.conns]) {
      if (c.localAddress === address) {
        const peer = c.peer;
        c.dead = true;
        this.conns.delete(c);
        // reset: false leaves the peers' ends half-open (a power cut): only their hold timers notice.
        if (peer && opts.reset !== false) this.later(() => peer.remoteClosed({ error: "connection reset by peer" }));
      }
    }
    for (const [k, l] of [...this.listeners]) if (l.host === address) this.listeners.delete(k);
  }

  /**
   * From now on bytes between a and b vanish silently in both directions (connections stay open, as
   * with a dead link and no reset): only BGP's hold timer can notice. heal() undoes it.
   */
  partition(a: string, b: string): void {
    this.partitions.add(pairKey(a, b));
  }

  heal(a: string, b: string): void {
    this.partitions.delete(pairKey(a, b));
  }

  isPartitioned(a: string, b: string): boolean {
    return this.partitions.size > 0 && this.partitions.has(pairKey(a, b));
  }

  /** Lets a crashed host connect and listen again. */
  revive(address: string): void {
    this.down.delete(address);
  }

  /** Open connections, for tests. */
  get connectionCount(): number {
    return this.conns.size;
  }
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
