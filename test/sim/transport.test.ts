// SimTransportNetwork: the simulated TCP under the BGP Transport port, first with raw connections
// (timing, ordering, refusal, timeouts, loss, FIN), then with real speakers (src/core/bgp) on top.
import { describe, expect, test } from "@jest/globals";
import { SimEngine } from "../../sim/engine.ts";
import { SimTransportNetwork, type TransportStats } from "../../sim/transport.ts";
import type { CloseReason, Connection, RouteChanges, RouteSink } from "../../src/core/bgp/ports.ts";
import { Speaker } from "../../src/core/bgp/speaker.ts";
import { encodeMessage, MessageType } from "../../src/core/bgp/wire/index.ts";
import { formatPrefix } from "../../src/core/net/ip.ts";
import { TableUnderlay, type TablePath } from "./underlay-table.ts";

const A = "10.0.0.1";
const B = "10.0.0.2";

function rawNet(path: TablePath, seed = 1) {
  const engine = new SimEngine({ seed });
  const underlay = new TableUnderlay().host("a", A).host("b", B).link("a", "b", path);
  const net = new SimTransportNetwork(engine, underlay);
  return { engine, underlay, net, ta: net.transport("a"), tb: net.transport("b") };
}

/** A server on b that records what it gets and when. */
function server(n: ReturnType<typeof rawNet>) {
  const got = { conns: [] as Connection[], acceptedAt: [] as number[], bytes: [] as number[], chunks: 0, lastAt: -1, closed: [] as CloseReason[] };
  n.tb.listen(B, 179, (c) => {
    got.conns.push(c);
    got.acceptedAt.push(n.engine.now());
    c.onData((d) => {
      for (const x of d) got.bytes.push(x);
      got.chunks++;
      got.lastAt = n.engine.now();
    });
    c.onClose((r) => got.closed.push(r));
  });
  return got;
}

const pattern = (len: number): Uint8Array => {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + (i >> 8)) & 255;
  return b;
};

const sameBytes = (got: number[], want: Uint8Array): boolean => got.length === want.length && want.every((x, i) => got[i] === x);

describe("SimTransportNetwork: TCP behaviour", () => {
  test("the handshake and the first bytes take the path latency; bytes sent before onConnected are queued", () => {
    const n = rawNet({ latencyMs: 10 });
    const got = server(n);
    let connectedAt = -1;
    const c = n.ta.connect({ remoteAddress: B, remotePort: 179 }, () => (connectedAt = n.engine.now()));
    c.send(new Uint8Array([1, 2, 3]));
    n.engine.run({ until: 1000 });
    expect(connectedAt).toBe(20); // SYN + SYN-ACK
    expect(got.acceptedAt).toEqual([30]); // + the handshake's ACK
    expect(got.bytes).toEqual([1, 2, 3]);
    expect(got.lastAt).toBe(30);
    expect(c.localAddress).toBe(A);
    expect(got.conns[0]?.remoteAddress).toBe(A);
    expect(got.conns[0]?.remotePort).toBe(c.localPort);
  });

  test("a 1 MB burst arrives intact and in order, taking several round trips (slow start from 10 segments)", () => {
    const n = rawNet({ latencyMs: 10 });
    const got = server(n);
    const data = pattern(1_000_000);
    let t0 = 0;
    n.ta.connect({ remoteAddress: B, remotePort: 179 }, (c) => {
      t0 = n.engine.now();
      for (let o = 0; o < data.length; o += 4096) c.send(data.subarray(o, o + 4096));
    });
    n.engine.run({ until: 60_000 });
    expect(sameBytes(got.bytes, data)).toBe(true);
    // 685 segments of 1460: 10+20+40+80+160+320+55 = 7 windows, the first arriving after 10 ms.
    expect(got.lastAt - t0).toBe(10 + 6 * 20);
    const st = n.net.stats();
    // At least 685 MSS-sized segments; writes that join a flight already leaving start a new segment.
    expect(st.tcp.segments).toBeGreaterThanOrEqual(Math.ceil(1_000_000 / 1460));
    expect(st.tcp.segments).toBeLessThan(700);
    expect(st.tcp.retransmissions).toBe(0);
  });

  test("a 100 Mbit/s bottleneck: 2 MB take their serialisation time on top of the round trips", () => {
    const size = 2_000_000;
    const run = (bandwidthMbps?: number) => {
      const n = rawNet({ latencyMs: 10, ...(bandwidthMbps ? { bandwidthMbps } : {}) });
      let got = 0;
      let lastAt = 0;
      n.tb.listen(B, 179, (c) =>
        c.onData((d) => {
          got += d.length;
          lastAt = n.engine.now();
        }),
      );
      const chunk = pattern(50_000);
      let t0 = 0;
      n.ta.connect({ remoteAddress: B, remotePort: 179 }, (c) => {
        t0 = n.engine.now();
        for (let o = 0; o < size; o += chunk.length) c.send(chunk);
      });
      n.engine.run({ until: 600_000 });
      expect(got).toBe(size);
      return lastAt - t0;
    };
    const free = run();
    const limited = run(100);
    // 2 MB plus 40-octet headers per 1460 at 100 Mbit/s: about 164 ms on the wire.
    const wire = ((size + Math.ceil(size / 1460) * 40) * 8) / 100_000;
    expect(limited).toBeGreaterThanOrEqual(wire);
    expect(limited).toBeLessThan(free + wire + 1);
  });

  test("the path MTU sets the MSS (1400 → 1360)", () => {
    const n = rawNet({ latencyMs: 1, mtu: 1400 });
    server(n);
    n.ta.connect({ remoteAddress: B, remotePort: 179 }, (c) => c.send(pattern(13_600)));
    n.engine.run({ until: 1000 });
    expect(n.net.stats().tcp.segments).toBe(10);
  });

  test("an MTU the path does not report: full-size segments are dropped, PMTU discovery shrinks the MSS", () => {
    const n = rawNet({ latencyMs: 1, mtu: 1450, reportMtu: false });
    const got = server(n);
    const data = pattern(50_000);
    n.ta.connect({ remoteAddress: B, remotePort: 179 }, (c) => c.send(data));
    n.engine.run({ until: 10_000 });
    expect(sameBytes(got.bytes, data)).toBe(true);
    // MSS 1410 from the first window on (its byte count was sized for 1460: one extra segment).
    expect(n.net.stats().tcp.segments).toBeGreaterThanOrEqual(Math.ceil(50_000 / 1410));
    expect(n.net.stats().tcp.segments).toBeLessThanOrEqual(Math.ceil(50_000 / 1410) + 1);
    expect(n.net.stats().tcp.retransmissions).toBe(0);
  });

  test("nobody listening: the RST refuses the connection after one round trip", () => {
    const n = rawNet({ latencyMs: 5 });
    const reasons: [number, CloseReason][] = [];
    let connected = false;
    const c = n.ta.connect({ remoteAddress: B, remotePort: 179 }, () => (connected = true));
    c.onClose((r) => reasons.push([n.engine.now(), r]));
    n.engine.run();
    expect(connected).toBe(false);
    expect(reasons).toEqual([[10, { error: `connect ${B}:179: connection refused` }]]);
    expect(n.net.stats().tcp.refused).toBe(1);
  });

  test("no path: SYN retries after 1, 3, 7 ... s and 'connect timeout' at 127 s, as Linux", () => {
    const n = rawNet({ latencyMs: 5 });
    n.underlay.setDown("a", "b", true);
    server(n);
    const reasons: [number, CloseReason][] = [];
    const c = n.ta.connect({ remoteAddress: B, remotePort: 179 }, () => {});
    c.onClose((r) => reasons.push([n.engine.now(), r]));
    n.engine.run();
    expect(reasons).toEqual([[127_000, { error: "connect timeout" }]]);
    expect(n.net.stats().tcp.syns).toBe(7);
  });

  test("a SYN that finally gets through after the path comes back connects", () => {
    const n = rawNet({ latencyMs: 5 });
    n.underlay.setDown("a", "b", true);
    const got = server(n);
    let connectedAt = -1;
    n.ta.connect({ remoteAddress: B, remotePort: 179 }, () => (connectedAt = n.engine.now()));
    n.engine.schedule(2000, "test", () => n.underlay.setDown("a", "b", false));
    n.engine.run({ until: 10_000 });
    expect(connectedAt).toBe(3000 + 10); // the retry at 3 s
    expect(got.conns).toHaveLength(1);
  });

  test("listen: a port taken throws, and so does an address the host does not own", () => {
    const n = rawNet({ latencyMs: 1 });
    n.tb.listen(B, 179, () => {});
    expect(() => n.tb.listen("0.0.0.0", 179, () => {})).toThrow(/address already in use/);
    expect(() => n.tb.listen(B, 179, () => {})).toThrow(/address already in use/);
    expect(() => n.tb.listen(A, 180, () => {})).toThrow(/cannot assign requested address/);
    expect(() => n.tb.listen(B, 180, () => {})).not.toThrow();
  });

  test("connect: a source address the host does not own, or a crashed host, fails at once with a reason", () => {
    const n = rawNet({ latencyMs: 1 });
    server(n);
    const reasons: CloseReason[] = [];
    n.ta.connect({ remoteAddress: B, remotePort: 179, localAddress: B }, () => {}).onClose((r) => reasons.push(r));
    n.net.crashHost("a");
    n.ta.connect({ remoteAddress: B, remotePort: 179 }, () => {}).onClose((r) => reasons.push(r));
    n.engine.run();
    expect(reasons).toEqual([{ error: `connect ${B}:179: cannot assign requested address ${B}` }, { error: `connect ${B}:179: host a is down` }]);
    n.net.reviveHost("a");
    let ok = false;
    n.ta.connect({ remoteAddress: B, remotePort: 179 }, () => (ok = true));
    n.engine.run();
    expect(ok).toBe(true);
  });

  test("close() before the handshake completes aborts: onClose('closed'), no connection at the server", () => {
    const n = rawNet({ latencyMs: 5 });
    const got = server(n);
    const reasons: CloseReason[] = [];
    let connected = false;
    const c = n.ta.connect({ remoteAddress: B, remotePort: 179 }, () => (connected = true));
    c.onClose((r) => reasons.push(r));
    c.send(new Uint8Array([1]));
    c.close();
    n.engine.run();
    expect(reasons).toEqual(["closed"]);
    expect(connected).toBe(false);
    expect(got.conns).toHaveLength(0);
    expect(n.net.connectionCount).toBe(0);
  });

  test("close(): queued bytes first, then FIN: the peer sees all data, then peer-closed; we see closed", () => {
    const n = rawNet({ latencyMs: 3 });
    const got = server(n);
    const data = pattern(200_000);
    const mine: CloseReason[] = [];
    const c = n.ta.connect({ remoteAddress: B, remotePort: 179 }, () => {
      c.send(data);
      c.close();
      c.close();
    });
    c.onClose((r) => mine.push(r));
    n.engine.run();
    expect(mine).toEqual(["closed"]);
    expect(sameBytes(got.bytes, data)).toBe(true);
    expect(got.closed).toEqual(["peer-closed"]);
    expect(n.net.connectionCount).toBe(0);
  });

  function lossyTransfer(seed: number) {
    const n = rawNet({ latencyMs: 10, loss: 0.05 }, seed);
    const got = server(n);
    const data = pattern(300_000);
    n.ta.connect({ remoteAddress: B, remotePort: 179 }, (c) => c.send(data));
    n.engine.run({ until: 600_000 });
    return { ok: sameBytes(got.bytes, data), lastAt: got.lastAt, stats: n.net.stats(), engine: n.engine.stats };
  }

  test("5% loss: retransmissions after the RTO deliver every byte in order; the same seed replays exactly", () => {
    const one = lossyTransfer(7);
    expect(one.ok).toBe(true);
    expect(one.stats.tcp.lostSegments).toBeGreaterThan(0);
    expect(one.stats.tcp.retransmissions).toBeGreaterThan(0);
    // Without loss this takes 10 + 4 × 20 = 90 ms; each loss costs at least the 200 ms minimum RTO.
    expect(one.lastAt).toBeGreaterThan(290);
    const two = lossyTransfer(7);
    expect(two).toEqual(one);
    const other = lossyTransfer(8);
    expect(other.ok).toBe(true);
    expect(other.stats.tcp).not.toEqual(one.stats.tcp);
  });

  test("a path down for good: retransmissions back off and the connection fails with 'timeout' (tcp_retries2)", () => {
    const n = rawNet({ latencyMs: 10 });
    const got = server(n);
    const reasons: [number, CloseReason][] = [];
    n.ta.connect({ remoteAddress: B, remotePort: 179 }, (c) => {
      c.onClose((r) => reasons.push([n.engine.now(), r]));
      n.underlay.setDown("a", "b", true);
      c.send(pattern(100));
    });
    n.engine.run({ until: 3_600_000 });
    expect(got.bytes).toEqual([]);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]?.[1]).toEqual({ error: "timeout" });
    // 16 RTOs from about 200 ms doubling up to the 120 s cap: between 10 and 20 minutes, as Linux.
    const t = reasons[0]?.[0] ?? 0;
    expect(t).toBeGreaterThan(600_000);
    expect(t).toBeLessThan(1_200_000);
    expect(n.net.stats().tcp.timeouts).toBe(1);
  });

  test("a new connection's RTT estimate is its own, also where a closed connection's state was reused", () => {
    const C = "10.0.0.3";
    const engine = new SimEngine({ seed: 1 });
    const underlay = new TableUnderlay().host("a", A).host("b", B).host("c", C).link("a", "b", { latencyMs: 200 }).link("a", "c", { latencyMs: 1 });
    const net = new SimTransportNetwork(engine, underlay);
    const ta = net.transport("a");
    for (const [host, addr] of [["b", B], ["c", C]] as const) net.transport(host).listen(addr, 179, (c) => c.onData(() => undefined));
    // A slow connection (RTT 400 ms: RTO 1.2 s), closed cleanly: both ends are gone.
    ta.connect({ remoteAddress: B, remotePort: 179 }, (c) => c.close());
    engine.run({ until: 10_000 });
    expect(net.connectionCount).toBe(0);
    // A fast one (RTT 2 ms: RTO 202 ms) whose path fails as it sends: the first retransmission comes
    // one RTO after the send, from its own handshake's estimate.
    let sentAt = -1;
    ta.connect({ remoteAddress: C, remotePort: 179 }, (c) => {
      underlay.setDown("a", "c", true);
      sentAt = engine.now();
      c.send(pattern(100));
    });
    engine.run({ until: 10_100 });
    expect(sentAt).toBeGreaterThan(10_000);
    engine.run({ until: sentAt + 201 });
    expect(net.stats().tcp.retransmissions).toBe(0);
    engine.run({ until: sentAt + 203 });
    expect(net.stats().tcp.retransmissions).toBe(1);
  });

  test("message counters read BGP headers from the byte stream, however it is split", () => {
    const n = rawNet({ latencyMs: 1 });
    server(n);
    const ka = encodeMessage({ type: MessageType.KEEPALIVE });
    const notif = encodeMessage({ type: MessageType.NOTIFICATION, code: 6, subcode: 2, data: new Uint8Array(0) });
    const stream = new Uint8Array([...ka, ...notif, ...ka, ...ka]);
    n.ta.connect({ remoteAddress: B, remotePort: 179 }, (c) => {
      // Split inside the first header, then inside the marker of the third message, then byte by byte.
      c.send(stream.slice(0, 10));
      c.send(stream.slice(10, 45));
      for (let i = 45; i < stream.length; i++) c.send(stream.slice(i, i + 1));
    });
    n.engine.run({ until: 1000 });
    const st: TransportStats = n.net.stats();
    expect(st.sent).toEqual({ open: 0, update: 0, notification: 1, keepalive: 3, routeRefresh: 0, other: 0, messages: 4, bytes: stream.length });
    expect(st.perHost["a"]?.messages).toBe(4);
    expect(st.perHost["b"]?.messages).toBe(0);
  });
});

// ---- real speakers

class Sink implements RouteSink {
  prefixes = new Set<string>();
  apply(c: RouteChanges): void {
    for (const p of c.remove) this.prefixes.delete(formatPrefix(p));
    for (const r of c.add) this.prefixes.add(formatPrefix(r.prefix));
  }
}

function pair(path: TablePath, opts: { seed?: number; holdTime?: number; routes?: number } = {}) {
  const engine = new SimEngine({ seed: opts.seed ?? 1 });
  const underlay = new TableUnderlay().host("a", A).host("b", B).link("a", "b", path);
  const net = new SimTransportNetwork(engine, underlay);
  const downs: { at: number; peer: string; to: string }[] = [];
  const make = (host: string, me: string, peer: string, i: number) => {
    const sink = new Sink();
    const speaker = new Speaker(
      {
        asNumber: 64512,
        routerId: me,
        listen: { address: me },
        gracefulRestart: false,
        peers: [{ address: peer, asNumber: 64512, ...(opts.holdTime ? { holdTime: opts.holdTime } : {}) }],
        onPeerState: (_addr, from, to) => {
          if (from === "Established") downs.push({ at: engine.now(), peer: host, to });
        },
      },
      { clock: engine.clock("bgp-timer"), transport: net.transport(host), sink },
    );
    const n = opts.routes ?? 1;
    for (let k = 0; k < n; k++) speaker.originate(`10.${100 + i}.${k >> 2}.${(k & 3) * 64}/26`, { blackhole: true });
    return { speaker, sink };
  };
  const a = make("a", A, B, 0);
  const b = make("b", B, A, 1);
  const state = (x: { speaker: Speaker }) => x.speaker.peers()[0]?.state;
  const established = () => state(a) === "Established" && state(b) === "Established";
  const converged = (n = opts.routes ?? 1) => established() && a.sink.prefixes.size === 2 * n && b.sink.prefixes.size === 2 * n;
  a.speaker.start();
  b.speaker.start();
  return { engine, underlay, net, a, b, state, established, converged, downs, make };
}

describe("SimTransportNetwork with two real speakers", () => {
  test("reach Established and exchange routes; counters match what was sent", () => {
    const p = pair({ latencyMs: 5 }, { routes: 500 });
    const r = p.engine.run({ stopWhen: () => p.converged(500), until: 60_000 });
    expect(r.reason).toBe("predicate");
    expect(p.a.sink.prefixes.has("10.101.0.0/26")).toBe(true);
    expect(p.b.sink.prefixes.has("10.100.124.192/26")).toBe(true);
    const st = p.net.stats();
    // One OPEN each way on the surviving connection (plus the collision's loser, closed by NOTIFICATION).
    expect(st.sent.open).toBeGreaterThanOrEqual(2);
    expect(st.sent.update).toBeGreaterThanOrEqual(2);
    expect(st.perHost["a"]?.update).toBeGreaterThanOrEqual(1);
    expect(st.sent.messages).toBe(st.sent.open + st.sent.update + st.sent.notification + st.sent.keepalive + st.sent.routeRefresh + st.sent.other);
    expect(st.sent.bytes).toBe((st.perHost["a"]?.bytes ?? 0) + (st.perHost["b"]?.bytes ?? 0));
    expect(st.sent.other).toBe(0);
  });

  test("latency is respected: establishment takes longer over a 100 ms path than over a 1 ms one", () => {
    const fast = pair({ latencyMs: 1 });
    const slow = pair({ latencyMs: 100 });
    const tf = fast.engine.run({ stopWhen: () => fast.converged(), until: 60_000 }).time;
    const ts = slow.engine.run({ stopWhen: () => slow.converged(), until: 60_000 }).time;
    // SYN, SYN-ACK, OPEN, KEEPALIVE, UPDATE: at least four one-way trips.
    expect(ts - tf).toBeGreaterThanOrEqual(4 * 99);
  });

  test("a link down shorter than the hold time: retransmissions carry the session through", () => {
    const p = pair({ latencyMs: 5 }, { holdTime: 9 });
    p.engine.run({ stopWhen: () => p.converged(), until: 60_000 });
    p.engine.run({ until: p.engine.now() + 1000 }); // let the collision's losing connection go
    p.downs.length = 0;
    const t = p.engine.now();
    p.underlay.setDown("a", "b", true);
    p.engine.run({ until: t + 4000 });
    p.underlay.setDown("a", "b", false);
    p.engine.run({ until: t + 60_000 });
    expect(p.downs).toEqual([]);
    expect(p.established()).toBe(true);
    expect(p.net.stats().tcp.retransmissions).toBeGreaterThan(0);
  });

  test("a link down longer than the hold time: the hold timer drops the session, which comes back with the link", () => {
    const p = pair({ latencyMs: 5 }, { holdTime: 9 });
    p.engine.run({ stopWhen: () => p.converged(), until: 60_000 });
    p.engine.run({ until: p.engine.now() + 1000 }); // let the collision's losing connection go
    p.downs.length = 0;
    const t = p.engine.now();
    p.underlay.setDown("a", "b", true);
    p.engine.run({ until: t + 30_000 });
    expect(p.downs.length).toBeGreaterThanOrEqual(2);
    // Hold time 9 s, keepalives every 3 s: the timers expire 6 to 9 s into the outage.
    for (const d of p.downs) {
      expect(d.at - t).toBeGreaterThanOrEqual(6_000);
      expect(d.at - t).toBeLessThanOrEqual(9_000 + 1);
    }
    p.underlay.setDown("a", "b", false);
    const r = p.engine.run({ stopWhen: () => p.converged(), until: t + 300_000 });
    expect(r.reason).toBe("predicate");
  });

  test("crash with reset: the peer learns at once (RST) and the session re-forms when the host is back", () => {
    const p = pair({ latencyMs: 5 }, { holdTime: 90 });
    p.engine.run({ stopWhen: () => p.converged(), until: 60_000 });
    p.engine.run({ until: p.engine.now() + 1000 }); // let the collision's losing connection go
    p.downs.length = 0;
    const t = p.engine.now();
    p.net.crashHost("b", { reset: true });
    p.b.speaker.stop(); // the process is gone: its timers too (its sends vanish)
    p.engine.run({ until: t + 100 });
    expect(p.downs.filter((d) => d.peer === "a")).toEqual([{ at: t + 5, peer: "a", to: expect.any(String) }]);
    expect(p.a.speaker.peers()[0]?.lastError).toMatch(/reset/);
    // b restarts: a new process on the revived host, 7 s later. (Started at once, both speakers'
    // 5 s idle periods after the failed attempts stay exactly out of phase: each rejects the other's
    // connection while idle, forever, since the core puts no jitter on its timers.)
    p.net.reviveHost("b");
    p.engine.run({ until: t + 7000 });
    const b2 = p.make("b", B, A, 1);
    b2.speaker.start();
    const r = p.engine.run({ stopWhen: () => p.state(p.a) === "Established" && p.state(b2) === "Established", until: t + 120_000 });
    expect(r.reason).toBe("predicate");
  });

  test("crash without reset: the peer's end stays half-open until its hold timer expires", () => {
    const p = pair({ latencyMs: 5 }, { holdTime: 30 });
    p.engine.run({ stopWhen: () => p.converged(), until: 60_000 });
    p.engine.run({ until: p.engine.now() + 1000 }); // let the collision's losing connection go
    p.downs.length = 0;
    const t = p.engine.now();
    p.net.crashHost("b", { reset: false });
    p.b.speaker.stop();
    p.engine.run({ until: t + 20_000 });
    expect(p.state(p.a)).toBe("Established");
    p.engine.run({ until: t + 31_000 });
    const aDowns = p.downs.filter((d) => d.peer === "a");
    expect(aDowns).toHaveLength(1);
    expect(aDowns[0]?.at).toBeGreaterThan(t + 20_000);
    expect(p.a.speaker.peers()[0]?.lastError).toMatch(/hold timer/i);
    // While b is down without reset, a's reconnection attempts go unanswered.
    p.engine.run({ until: t + 60_000 });
    expect(p.state(p.a)).not.toBe("Established");
    expect(p.net.stats().tcp.refused).toBe(0);
  });

  test("with loss, the same seed gives the same run; sessions still converge", () => {
    const run = (seed: number) => {
      const p = pair({ latencyMs: 20, loss: 0.1 }, { seed, routes: 300 });
      const r = p.engine.run({ stopWhen: () => p.converged(300), until: 600_000 });
      return { r, engine: p.engine.stats, stats: p.net.stats() };
    };
    const one = run(3);
    expect(one.r.reason).toBe("predicate");
    expect(one.stats.tcp.lostSegments).toBeGreaterThan(0);
    expect(run(3)).toEqual(one);
  });
});

describe("SimTransportNetwork under a mesh of real speakers", () => {
  function mesh(n: number, seed: number) {
    const engine = new SimEngine({ seed });
    const underlay = new TableUnderlay();
    const all = Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}`);
    all.forEach((a, i) => underlay.host(`n${i}`, a));
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) underlay.link(`n${i}`, `n${j}`, { latencyMs: 1 + ((i + j) % 4), loss: 0.02 });
    const net = new SimTransportNetwork(engine, underlay);
    const nodes = all.map((a, i) => {
      const sink = new Sink();
      const speaker = new Speaker(
        { asNumber: 64512, routerId: a, listen: { address: a }, peers: all.filter((b) => b !== a).map((b) => ({ address: b, asNumber: 64512 })) },
        { clock: engine.clock("bgp-timer"), transport: net.transport(`n${i}`), sink },
      );
      for (let k = 0; k < 20; k++) speaker.originate(`10.${100 + i}.${k}.0/26`, { blackhole: true });
      return { speaker, sink };
    });
    for (const x of nodes) x.speaker.start();
    const converged = () => nodes.every((x) => x.sink.prefixes.size === 20 * n && x.speaker.peers().every((p) => p.state === "Established"));
    const r = engine.run({ stopWhen: converged, until: 300_000 });
    return { r, engine: engine.stats, stats: net.stats() };
  }

  test("an 8-node full mesh with 2% loss converges, every session carries both OPENs, and the run replays exactly", () => {
    const one = mesh(8, 11);
    expect(one.r.reason).toBe("predicate");
    expect(one.stats.openConnections).toBeGreaterThanOrEqual(2 * 28);
    expect(one.stats.sent.open).toBeGreaterThanOrEqual(2 * 28);
    for (let i = 0; i < 8; i++) expect(one.stats.perHost[`n${i}`]?.update).toBeGreaterThan(0);
    expect(mesh(8, 11)).toEqual(one);
  });
});
