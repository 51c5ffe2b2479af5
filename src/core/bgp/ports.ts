// The ports the BGP speaker runs on. The core never touches sockets, timers or the kernel itself:
// the simulator provides virtual-time and in-memory implementations, real/ provides node:net, the
// wall clock and `ip -batch`. Everything here is callback based and synchronous from the core's side.
import type { IPAddress, Prefix } from "../net/ip.ts";

/** An opaque timer handle, returned by setTimer and given back to clearTimer. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds, monotonic. Virtual time in the simulator, a monotonic clock for real. */
  now(): number;
  /** Calls fn once after delayMs (>= 0). Never calls fn synchronously from within setTimer. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Cancels a timer; clearing a fired or already cleared timer is a no-op. */
  clearTimer(handle: TimerHandle): void;
  /**
   * Optional: setTimer for `fn(arg)`, so one function serves many objects (every session's hold
   * timer) instead of a closure per timer. Callers fall back to setTimer when it is absent.
   */
  setTimerWith?<T>(delayMs: number, fn: (arg: T) => void, arg: T): TimerHandle;
}

/** Why a connection ended: "closed" by us, "peer-closed" (FIN/EOF), or an error message. */
export type CloseReason = "closed" | "peer-closed" | { error: string };

/** One TCP connection carrying a BGP byte stream. */
export interface Connection {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * Queues bytes for sending; the connection takes ownership of the array. A send after close is
   * silently dropped. Bytes sent before close() are delivered before the close (a NOTIFICATION
   * followed by close() reaches the peer).
   */
  send(bytes: Uint8Array): void;
  /** Closes after flushing what was sent. onClose then fires once with "closed". Idempotent. */
  close(): void;
  /** Registers the receiver of incoming bytes (one receiver; a later call replaces it). Chunks are arbitrary. */
  onData(cb: (bytes: Uint8Array) => void): void;
  /** Registers the close callback; called exactly once, never synchronously from close() or onClose(). */
  onClose(cb: (reason: CloseReason) => void): void;
  /**
   * Optional: registers one object for both (the same semantics as onData + onClose). Saves two
   * closures per connection where there are very many (a simulated full mesh).
   */
  receive?(r: ConnectionReceiver): void;
}

/** The receiver of a connection's bytes and its close, as one object (Connection.receive). */
export interface ConnectionReceiver {
  connData(bytes: Uint8Array): void;
  connClosed(reason: CloseReason): void;
}

export interface ConnectOptions {
  remoteAddress: string;
  remotePort: number;
  /** Source address to bind (Calico's `source address`); any when omitted. */
  localAddress?: string;
}

export interface Listener {
  readonly address: string;
  readonly port: number;
  /** Stops accepting; established connections stay open. Idempotent. */
  close(): void;
}

export interface Transport {
  /**
   * Starts an outgoing connection. The Connection is returned at once; `onConnected` fires when the
   * TCP handshake completes, or its onClose fires with an error reason (refused, unreachable...).
   * The returned object is the same Connection later passed to onConnected; its local address and
   * port are only meaningful from then on. close() before that aborts the attempt (onClose fires).
   * Bytes sent before onConnected are queued.
   */
  connect(opts: ConnectOptions, onConnected: (conn: Connection) => void): Connection;
  /** Accepts connections on address:port ("0.0.0.0"/"::" for any). Throws when the port is taken. */
  listen(address: string, port: number, onConnection: (conn: Connection) => void): Listener;
}

/** One route for the forwarding plane. */
export interface RouteEntry {
  prefix: Prefix;
  /** "unicast": forward via nextHops (ECMP when several); "blackhole": drop (Calico's own blocks). */
  kind: "unicast" | "blackhole";
  /** Empty for blackholes. */
  nextHops: IPAddress[];
}

export interface RouteChanges {
  /** Routes to install or replace (keyed by prefix). */
  add: RouteEntry[];
  /** Prefixes whose route the speaker installed earlier and now withdraws. */
  remove: Prefix[];
}

/** The Dataplane side of BGP: where best paths (and local blackholes) go. */
export interface RouteSink {
  /**
   * Applies one batch of changes. A prefix appears at most once per batch, in add or in remove.
   * Called synchronously by the speaker; an implementation that does I/O queues and batches it.
   */
  apply(changes: RouteChanges): void;
}
