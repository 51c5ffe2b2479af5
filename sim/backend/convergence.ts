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

export class ConvergenceTracker {
  lastRouteChange = -Infinity;
  lastSessionChange = -Infinity;
  lastUpdate = -Infinity;
  /** host → peer address → record (nested maps: no key strings built per state change). */
  private readonly sessions = new Map<string, Map<string, SessionRecord>>();
  private count = 0;
  /**
   * Records not Established. A count, not a set: a cold start moves every session through four
   * states, and a million set insertions and deletions cost more than the rare scans below
   * (unsettled() only looks when the network is quiet, worldChanged() only on failures).
   */
  private notUp = 0;
  private epoch = 0;
  private brokenEpoch = -1;
  private broken: SessionRecord[] = [];

  constructor(readonly graceMs: number) {}

  private record(host: string, peer: string, peerHost: string | undefined, state: SessionState, now: number): SessionRecord {
    let m = this.sessions.get(host);
    if (m === undefined) this.sessions.set(host, (m = new Map()));
    let r = m.get(peer);
    if (r === undefined) {
      r = { host, peer, peerHost, state, downSince: now };
      m.set(peer, r);
      this.count++;
      if (state !== "Established") this.notUp++;
      this.brokenEpoch = -1;
    }
    return r;
  }

  private setState(r: SessionRecord, to: SessionState): void {
    const wasUp = r.state === "Established";
    r.state = to;
    if (wasUp !== (to === "Established")) this.notUp += wasUp ? 1 : -1;
  }

  /** A session exists (configured); its state is taken as given. */
  register(host: string, peer: string, peerHost: string | undefined, state: SessionState, now: number): void {
    this.setState(this.record(host, peer, peerHost, state, now), state);
  }

  /** Forgets every session of a host (agent discarded or peers re-read). */
  unregisterHost(host: string): void {
    const m = this.sessions.get(host);
    if (m === undefined) return;
    for (const r of m.values()) if (r.state !== "Established") this.notUp--;
    this.count -= m.size;
    this.sessions.delete(host);
    this.brokenEpoch = -1;
  }

  sessionChange(host: string, peer: string, peerHost: string | undefined, from: SessionState, to: SessionState, now: number): void {
    this.lastSessionChange = now;
    const r = this.record(host, peer, peerHost, to, now);
    this.setState(r, to);
    if (to !== "Established" && from === "Established") r.downSince = now;
  }

  routeChange(now: number): void {
    this.lastRouteChange = now;
  }

  updateSent(now: number): void {
    this.lastUpdate = now;
  }

  /** A failure or restore happened: every session's grace period starts again, paths are re-checked. */
  worldChanged(now: number): void {
    this.epoch++;
    if (this.notUp > 0) for (const m of this.sessions.values()) for (const r of m.values()) if (r.state !== "Established") r.downSince = now;
  }

  /** Last time anything moved (route, session, UPDATE). */
  lastActivity(): number {
    return Math.max(this.lastRouteChange, this.lastSessionChange, this.lastUpdate);
  }

  /** Last routing change (route or session): the convergence point. */
  lastRoutingChange(): number {
    return Math.max(this.lastRouteChange, this.lastSessionChange);
  }

  /**
   * Sessions not settled at `now`. `pathUp(r)` tells whether the session's two speakers can reach each other
   * (undefined: no failure anywhere, every path is taken as up).
   */
  unsettled(now: number, pathUp: ((r: SessionRecord) => boolean) | undefined, limit = 10): SessionRecord[] {
    const out: SessionRecord[] = [];
    const up = pathUp ?? (() => true);
    if (this.notUp > 0) {
      for (const m of this.sessions.values()) {
        for (const r of m.values()) {
          if (r.state === "Established") continue;
          if (r.state === "OpenSent" || r.state === "OpenConfirm") {
            if (now - r.downSince < this.graceMs) out.push(r);
          } else if (up(r) && now - r.downSince < this.graceMs) out.push(r);
          if (out.length >= limit) return out;
        }
      }
    }
    if (pathUp !== undefined) {
      if (this.brokenEpoch !== this.epoch) {
        this.broken = [];
        for (const m of this.sessions.values()) for (const r of m.values()) if (!pathUp(r)) this.broken.push(r);
        this.brokenEpoch = this.epoch;
      }
      for (const r of this.broken) {
        if (r.state === "Established") out.push(r);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  get size(): number {
    return this.count;
  }
}
