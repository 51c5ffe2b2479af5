// When is a simulated network converged? Keepalives keep the event queue busy forever, so "no events
// left" never happens; instead the backend watches routing activity:
// - the time of the last FIB change (any node or router), session state change and BGP UPDATE sent;
// - the state of every configured session, told by the speakers' onPeerState.
// Converged = nothing of the above for a quiet period, and every session settled:
// - Established over a working path (both hosts up, underlay path between them);
// - not Established while the path is broken (stably failing: it cannot come up);
// - not Established with a working path for longer than a grace period since it was last up or last
//   touched by a failure/restore (misconfigured: wrong AS, one-sided peering...; it would cycle
//   through Connect/Active/OpenSent forever).
// An Established session over a broken path is NOT settled: its hold timer will expire and withdraw
// routes, so waiting for it is part of convergence after a link or router failure.
import type { SessionState } from "../../src/core/bgp/session.ts";

export interface SessionRecord {
  host: string;
  peer: string;
  /** Node or router owning the peer address, when it is in the topology. */
  peerHost: string | undefined;
  state: SessionState;
  /** When it last left Established, was created, or was last touched by a failure/restore. */
  downSince: number;
}

const STATES: readonly SessionState[] = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"];
/** A state's index in STATES (a switch: a keyed load with six different keys is a slow megamorphic one). */
function codeOf(s: SessionState): number {
  switch (s) {
    case "Idle":
      return 0;
    case "Connect":
      return 1;
    case "Active":
      return 2;
    case "OpenSent":
      return 3;
    case "OpenConfirm":
      return 4;
    case "Established":
      return 5;
  }
}
const OPEN_SENT = 3;
const OPEN_CONFIRM = 4;
const ESTABLISHED = 5;

// lastRouteChange, lastSessionChange, lastUpdate in ConvergenceTracker.times.
const ROUTE = 0;
const SESSION = 1;
const UPDATE = 2;

export class ConvergenceTracker {
  /**
   * Times of the last route change, session change and UPDATE sent. In an array: V8 allocates a
   * heap number for every store of a fractional number into an object field (one per event here).
   */
  private readonly times = new Float64Array([-Infinity, -Infinity, -Infinity]);
  /**
   * host → peer address → the session's index in the columns below (nested maps: no key strings
   * built per state change). Columns, not a record object per session (a million in a 1,000-node
   * mesh): its peer's host, state (index in STATES) and downSince (when it last left Established,
   * was created, or was last touched by a failure/restore).
   */
  private readonly sessions = new Map<string, Map<string, number>>();
  private readonly peerHosts: (string | undefined)[] = [];
  private states = new Uint8Array(1024);
  private downSince = new Float64Array(1024);
  /** Indices given back by unregisterHost. */
  private readonly freeIds: number[] = [];
  private count = 0;
  /**
   * Sessions not Established. A count, not a set: a cold start moves every session through four
   * states, and a million set insertions and deletions cost more than the rare scans below
   * (unsettled() only looks when the network is quiet, worldChanged() only on failures).
   */
  private notUp = 0;
  private epoch = 0;
  private brokenEpoch = -1;
  private broken: { host: string; peer: string; id: number }[] = [];

  constructor(readonly graceMs: number) {}

  get lastRouteChange(): number {
    return this.times[ROUTE] as number;
  }
  get lastSessionChange(): number {
    return this.times[SESSION] as number;
  }
  get lastUpdate(): number {
    return this.times[UPDATE] as number;
  }

  /** The session's index (a new one in `state` since `now` if unknown). */
  private record(host: string, peer: string, peerHost: string | undefined, state: number, now: number): number {
    let m = this.sessions.get(host);
    if (m === undefined) this.sessions.set(host, (m = new Map()));
    let id = m.get(peer);
    if (id === undefined) {
      id = this.freeIds.pop() ?? this.peerHosts.length;
      if (id === this.peerHosts.length) {
        this.peerHosts.push(peerHost);
        if (id === this.states.length) {
          const st = new Uint8Array(2 * id);
          st.set(this.states);
          this.states = st;
          const ds = new Float64Array(2 * id);
          ds.set(this.downSince);
          this.downSince = ds;
        }
      } else this.peerHosts[id] = peerHost;
      this.states[id] = state;
      this.downSince[id] = now;
      m.set(peer, id);
      this.count++;
      if (state !== ESTABLISHED) this.notUp++;
      this.brokenEpoch = -1;
    }
    return id;
  }

  private setState(id: number, to: number): void {
    const wasUp = this.states[id] === ESTABLISHED;
    this.states[id] = to;
    if (wasUp !== (to === ESTABLISHED)) this.notUp += wasUp ? 1 : -1;
  }

  /** A session exists (configured); its state is taken as given. */
  register(host: string, peer: string, peerHost: string | undefined, state: SessionState, now: number): void {
    const code = codeOf(state);
    this.setState(this.record(host, peer, peerHost, code, now), code);
  }

  /** Forgets every session of a host (agent discarded or peers re-read). */
  unregisterHost(host: string): void {
    const m = this.sessions.get(host);
    if (m === undefined) return;
    for (const id of m.values()) {
      if (this.states[id] !== ESTABLISHED) this.notUp--;
      this.peerHosts[id] = undefined;
      this.freeIds.push(id);
    }
    this.count -= m.size;
    this.sessions.delete(host);
    this.brokenEpoch = -1;
  }

  sessionChange(host: string, peer: string, peerHost: string | undefined, from: SessionState, to: SessionState, now: number): void {
    this.times[SESSION] = now;
    const code = codeOf(to);
    const id = this.record(host, peer, peerHost, code, now);
    this.setState(id, code);
    if (code !== ESTABLISHED && from === "Established") this.downSince[id] = now;
  }

  routeChange(now: number): void {
    this.times[ROUTE] = now;
  }

  updateSent(now: number): void {
    this.times[UPDATE] = now;
  }

  /** A failure or restore happened: every session's grace period starts again, paths are re-checked. */
  worldChanged(now: number): void {
    this.epoch++;
    if (this.notUp > 0) for (const m of this.sessions.values()) for (const id of m.values()) if (this.states[id] !== ESTABLISHED) this.downSince[id] = now;
  }

  /** Last time anything moved (route, session, UPDATE). */
  lastActivity(): number {
    return Math.max(this.lastRouteChange, this.lastSessionChange, this.lastUpdate);
  }

  /** Last routing change (route or session): the convergence point. */
  lastRoutingChange(): number {
    return Math.max(this.lastRouteChange, this.lastSessionChange);
  }

  /** A session as a record (a copy: later changes do not show in it). */
  private snapshot(host: string, peer: string, id: number): SessionRecord {
    return { host, peer, peerHost: this.peerHosts[id], state: STATES[this.states[id] as number] as SessionState, downSince: this.downSince[id] as number };
  }

  /**
   * Sessions not settled at `now`. `pathUp(r)` tells whether the session's two speakers can reach each other
   * (undefined: no failure anywhere, every path is taken as up).
   */
  unsettled(now: number, pathUp: ((r: SessionRecord) => boolean) | undefined, limit = 10): SessionRecord[] {
    const out: SessionRecord[] = [];
    const { states, downSince } = this;
    if (this.notUp > 0) {
      for (const [host, m] of this.sessions) {
        for (const [peer, id] of m) {
          const state = states[id] as number;
          if (state === ESTABLISHED) continue;
          const inGrace = now - (downSince[id] as number) < this.graceMs;
          if (state === OPEN_SENT || state === OPEN_CONFIRM) {
            if (inGrace) out.push(this.snapshot(host, peer, id));
          } else if (pathUp === undefined) {
            if (inGrace) out.push(this.snapshot(host, peer, id));
          } else {
            const r = this.snapshot(host, peer, id);
            if (pathUp(r) && inGrace) out.push(r);
          }
          if (out.length >= limit) return out;
        }
      }
    }
    if (pathUp !== undefined) {
      if (this.brokenEpoch !== this.epoch) {
        this.broken = [];
        for (const [host, m] of this.sessions) for (const [peer, id] of m) if (!pathUp(this.snapshot(host, peer, id))) this.broken.push({ host, peer, id });
        this.brokenEpoch = this.epoch;
      }
      for (const b of this.broken) {
        if (states[b.id] === ESTABLISHED) out.push(this.snapshot(b.host, b.peer, b.id));
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  get size(): number {
    return this.count;
  }
}
