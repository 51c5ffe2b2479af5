import { describe, expect, test } from "@jest/globals";
import { calicoPassive } from "../../../src/core/bgp/session.ts";
import { Speaker } from "../../../src/core/bgp/speaker.ts";
import { encodeMessage, MessageType } from "../../../src/core/bgp/wire/index.ts";
import { Lab, meshPeers, notifications, open, rawPeer } from "./lab.ts";

function pair(over: { a?: object; b?: object } = {}): Lab {
  const lab = new Lab();
  lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.2", asNumber: 64512, holdTime: 90, ...over.a }] });
  lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512, holdTime: 30, ...over.b }] });
  return lab;
}

describe("session FSM", () => {
  test("two speakers reach Established, negotiate the smaller hold time and stay up on keepalives", () => {
    const lab = pair();
    lab.startAll();
    lab.run(1);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(lab.state("10.0.0.2", "10.0.0.1")).toBe("Established");
    const n = lab.node("10.0.0.1").speaker.session("10.0.0.2")?.negotiated;
    expect(n?.holdTime).toBe(30);
    expect(n?.keepaliveTime).toBe(10);
    expect(n?.fourOctetAs).toBe(true);
    expect(n?.routeRefresh).toBe(true);
    expect(n?.peerGracefulRestart?.restartTime).toBe(120);
    lab.run(600);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(lab.node("10.0.0.1").speaker.peers()[0]?.uptime).toBeGreaterThanOrEqual(600);
  });

  test("sessions of a mesh node share what their OPENs settled on, and each keeps its own peer identifier and ends", () => {
    const lab = new Lab();
    const all = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
    for (const a of all) {
      const hold = a === "10.0.0.3" ? 60 : 90; // the third node's sessions negotiate 60 s
      lab.add(a, { asNumber: 64512, peers: meshPeers(a, all).map((p) => ({ ...p, holdTime: hold, passive: calicoPassive(a, p.address) })) });
    }
    lab.startAll();
    lab.run(2);
    const n = (a: string, b: string) => lab.node(a).speaker.session(b)!.negotiated!;
    for (const a of all) {
      for (const b of all) {
        if (a === b) continue;
        const x = n(a, b);
        expect({ id: x.peerRouterId, local: x.localAddress, out: x.initiatedLocally }).toEqual({
          id: lab.node(b).speaker.routerId,
          local: a,
          out: !calicoPassive(a, b),
        });
        expect([x.holdTime, x.keepaliveTime]).toEqual(a === "10.0.0.3" || b === "10.0.0.3" ? [60, 20] : [90, 30]);
        expect([x.peerAs, x.peerOpenAs, x.fourOctetAs, x.routeRefresh, x.peerGracefulRestart?.restartTime]).toEqual([64512, 64512, true, true, 120]);
      }
    }
    // 10.0.0.1's two peers: different identifiers and hold times, same families (one shared list).
    expect(n("10.0.0.1", "10.0.0.2").families).toBe(n("10.0.0.1", "10.0.0.3").families);
  });

  test("a peer identifier above 2^31 reads back as its uint32; a Negotiated kept after the session went down still reads", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, routerId: "192.168.0.1", peers: [{ address: "10.0.0.2", asNumber: 64512 }] });
    lab.add("10.0.0.2", { asNumber: 64512, routerId: "255.255.255.254", peers: [{ address: "10.0.0.1", asNumber: 64512, passive: true }] });
    lab.startAll();
    lab.run(2);
    const s = lab.node("10.0.0.1").speaker.session("10.0.0.2")!;
    const n = s.negotiated!;
    expect(n.peerRouterId).toBe(0xfffffffe);
    expect(lab.node("10.0.0.2").speaker.session("10.0.0.1")!.negotiated!.peerRouterId).toBe(0xc0a80001);
    expect(lab.node("10.0.0.1").speaker.peers()[0]!.routerId).toBe("255.255.255.254");
    s.stop();
    expect(s.negotiated).toBeUndefined();
    expect([n.peerRouterId, n.holdTime, n.localAddress, n.initiatedLocally, n.families.length]).toEqual([0xfffffffe, 90, "10.0.0.1", true, 1]);
  });

  test("sessions restarted many times keep exact times of their own (establishedAt, keepalives, hold) while others stay up", () => {
    const lab = new Lab();
    const all = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
    for (const a of all) lab.add(a, { asNumber: 64512, peers: meshPeers(a, all).map((p) => ({ ...p, holdTime: 9, passive: calicoPassive(a, p.address) })) });
    lab.startAll();
    lab.run(2);
    const s12 = lab.node("10.0.0.1").speaker.session("10.0.0.2")!;
    const s13 = lab.node("10.0.0.1").speaker.session("10.0.0.3")!;
    const s31 = lab.node("10.0.0.3").speaker.session("10.0.0.1")!;
    const up13 = s13.establishedAt!;
    const up31 = s31.establishedAt!;
    expect(up13).toBeGreaterThan(0);
    expect(up13).toBeLessThanOrEqual(lab.clock.now());
    for (let i = 0; i < 12; i++) {
      s12.stop(undefined, "test", true);
      expect(s12.establishedAt).toBeUndefined();
      expect(s12.negotiated).toBeUndefined();
      lab.run(1);
      // Within the error wait (3.75..5 s): the restarted side waits in Idle.
      expect(s12.state).toBe("Idle");
      lab.run(9);
      expect(s12.state).toBe("Established");
      const at = s12.establishedAt!;
      expect(at).toBeGreaterThan(lab.clock.now() - 10_000);
      expect(at).toBeLessThanOrEqual(lab.clock.now());
      // The untouched session neither restarted nor missed a keepalive (hold 9 s, keepalive 3 s).
      expect(s13.establishedAt).toBe(up13);
      expect(s31.establishedAt).toBe(up31);
      expect(s13.state).toBe("Established");
    }
    const before = s13.counters.received.keepalive;
    lab.run(30);
    expect(s13.counters.received.keepalive - before).toBe(10); // one every 3 s
    expect(s12.state).toBe("Established");
    lab.node("10.0.0.3").speaker.stop();
    lab.run(1);
    expect(s13.state).not.toBe("Established");
    expect([s13.establishedAt, s31.establishedAt]).toEqual([undefined, undefined]);
  });

  test("both sides connecting at once: the collision leaves one connection, the other gets Cease/7", () => {
    const lab = pair();
    lab.startAll();
    lab.run(2);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(lab.state("10.0.0.2", "10.0.0.1")).toBe("Established");
    expect(lab.net.connectionCount).toBe(2); // two ends of one TCP connection
    const logs = [...lab.node("10.0.0.1").logs, ...lab.node("10.0.0.2").logs].join("\n");
    expect(logs).toContain("NOTIFICATION 6/7 sent: connection collision");
    // The connection kept is the one opened by the higher BGP identifier (10.0.0.2).
    expect(lab.node("10.0.0.2").speaker.session("10.0.0.1")?.negotiated?.initiatedLocally).toBe(true);
    expect(lab.node("10.0.0.1").speaker.session("10.0.0.2")?.negotiated?.initiatedLocally).toBe(false);
    lab.run(300);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
  });

  test("the mesh's passive rule: the higher address waits, the lower connects, no collision", () => {
    expect(calicoPassive("10.0.0.1", "10.0.0.2")).toBe(false);
    expect(calicoPassive("10.0.0.2", "10.0.0.1")).toBe(true);
    expect(calicoPassive("10.0.0.9", "10.0.0.10")).toBe(true); // text order, as Calico compares
    expect(calicoPassive("10.0.0.10", "10.0.0.5")).toBe(false);
    const lab = new Lab();
    const all = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
    for (const a of all) lab.add(a, { asNumber: 64512, peers: meshPeers(a, all).map((p) => ({ ...p, passive: calicoPassive(a, p.address) })) });
    lab.startAll();
    lab.run(2);
    for (const a of all) for (const b of all) if (a !== b) expect(lab.state(a, b)).toBe("Established");
    expect(lab.net.connectionCount).toBe(6);
    expect([...lab.nodes.values()].flatMap((n) => n.logs).join("\n")).not.toContain("6/7");
  });

  test("onPeerState reports the FSM walk of a passive peer", () => {
    const lab = new Lab();
    const seen: string[] = [];
    lab.add("10.0.0.1", { asNumber: 64512, onPeerState: (peer, from, to) => seen.push(`${peer} ${from}->${to}`), peers: [{ address: "10.0.0.2", asNumber: 64512, passive: true }] });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.run(1);
    expect(seen).toEqual(["10.0.0.2 Idle->Active", "10.0.0.2 Active->OpenSent", "10.0.0.2 OpenSent->OpenConfirm", "10.0.0.2 OpenConfirm->Established"]);
  });

  test("a peer that is not up yet is retried after the connect retry time", () => {
    const lab = pair({ a: { connectRetryTime: 5 }, b: { passive: true } });
    lab.node("10.0.0.1").speaker.start();
    lab.run(3);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Active");
    lab.node("10.0.0.2").speaker.start();
    lab.run(1);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Active");
    lab.run(3);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
  });

  test("hold time 0 on one side: no keepalives, no hold timer, the session stays up", () => {
    const lab = pair({ b: { holdTime: 0 } });
    lab.startAll();
    lab.run(1);
    const n = lab.node("10.0.0.1").speaker.session("10.0.0.2")?.negotiated;
    expect(n).toMatchObject({ holdTime: 0, keepaliveTime: 0 });
    const before = lab.net.bytesSent;
    lab.run(1000);
    expect(lab.net.bytesSent).toBe(before);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
  });

  test("a configured hold time of 1 or 2 s is refused", () => {
    expect(() => pair({ a: { holdTime: 2 } })).toThrow(/hold time 2/);
  });

  test("wrong peer AS: OPEN error 2/2 with the peer's My AS as data, then Idle and retried later", () => {
    const lab = pair({ a: { asNumber: 65000 } });
    lab.startAll();
    lab.run(1);
    const s = lab.node("10.0.0.1").speaker.session("10.0.0.2");
    expect(s?.lastError.sent).toMatchObject({ code: 2, subcode: 2, data: Uint8Array.of(0xfc, 0x00) });
    expect(lab.node("10.0.0.2").speaker.session("10.0.0.1")?.lastError.received).toMatchObject({ code: 2, subcode: 2 });
    expect(lab.state("10.0.0.1", "10.0.0.2")).not.toBe("Established");
    lab.run(30);
    expect(lab.state("10.0.0.1", "10.0.0.2")).not.toBe("Established");
  });

  test("4-octet AS: a peer AS above 65535 is checked against the capability, AS_TRANS in My AS", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.2", asNumber: 4200000001, exportPolicy: () => true, importPolicy: () => true }] });
    lab.add("10.0.0.2", { asNumber: 4200000001, peers: [{ address: "10.0.0.1", asNumber: 64512, exportPolicy: () => true, importPolicy: () => true }] });
    lab.startAll();
    lab.run(1);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(lab.node("10.0.0.1").speaker.session("10.0.0.2")?.negotiated?.peerOpenAs).toBe(23456);
  });

  test("hold time 2 gets 2/6, and a hold time under minHoldTime too", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.99", asNumber: 64512, passive: true }, { address: "10.0.0.98", asNumber: 64512, passive: true, minHoldTime: 10 }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open({ holdTime: 2 }));
    const q = rawPeer(lab, "10.0.0.98", "10.0.0.1");
    q.conn.send(open({ holdTime: 5, bgpId: 0x0a000062 }));
    lab.run(1);
    expect(notifications(p.got)).toEqual(["2/6"]);
    expect(notifications(q.got)).toEqual(["2/6"]);
    expect(p.closed()).toBe(true);
  });

  test("OPEN version 3 gets 2/1 (data: version 4); an iBGP peer with our BGP identifier gets 2/3", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.99", asNumber: 64512, passive: true }, { address: "10.0.0.98", asNumber: 64512, passive: true }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open({ version: 3 }));
    const q = rawPeer(lab, "10.0.0.98", "10.0.0.1");
    q.conn.send(open({ bgpId: 0x0a000001 }));
    lab.run(1);
    expect(p.got.find((m) => m.type === MessageType.NOTIFICATION)).toMatchObject({ code: 2, subcode: 1, data: Uint8Array.of(0, 4) });
    expect(notifications(q.got)).toEqual(["2/3"]);
  });

  test("hold timer expiry sends 4/0 and drops the session", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.99", asNumber: 64512, passive: true, holdTime: 9 }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open({ holdTime: 9 }));
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    lab.run(1);
    expect(lab.state("10.0.0.1", "10.0.0.99")).toBe("Established");
    // The speaker keeps sending keepalives every 3 s; the silent peer gets 4/0 after 9 s.
    lab.run(9);
    expect(p.got.filter((m) => m.type === MessageType.KEEPALIVE).length).toBeGreaterThanOrEqual(3);
    expect(notifications(p.got)).toEqual(["4/0"]);
    expect(lab.state("10.0.0.1", "10.0.0.99")).not.toBe("Established");
  });

  test("the hold timer runs out exactly hold seconds after the last message; KEEPALIVEs wait for the keepalive time after our last message", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.99", asNumber: 64512, passive: true, holdTime: 9 }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    const keepalivesAt: number[] = [];
    let seen = 0;
    const step = (ms: number): void => {
      for (let i = 0; i < ms / 100; i++) {
        lab.clock.advance(100);
        for (; seen < p.got.length; seen++) if (p.got[seen]!.type === MessageType.KEEPALIVE) keepalivesAt.push(lab.clock.now());
      }
    };
    p.conn.send(open({ holdTime: 9 }));
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    step(1000);
    expect(lab.state("10.0.0.1", "10.0.0.99")).toBe("Established");
    // The peer talks every 5 s for 30 s: never 9 s of silence, the session stays up.
    for (let i = 0; i < 6; i++) {
      step(5000);
      p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    }
    step(100);
    const last = lab.clock.now();
    expect(lab.state("10.0.0.1", "10.0.0.99")).toBe("Established");
    // Our UPDATE (End-of-RIB came at Established) and then an origination push the next KEEPALIVE back.
    lab.node("10.0.0.1").speaker.originate("10.9.0.0/24");
    const sentAt = lab.clock.now();
    step(8700);
    expect(lab.state("10.0.0.1", "10.0.0.99")).toBe("Established");
    step(300);
    expect(notifications(p.got)).toEqual(["4/0"]);
    // 9 s after the last message (delivered 1 ms after it was sent), to the 100 ms step.
    expect(lab.clock.now() - last).toBeGreaterThanOrEqual(8900);
    expect(lab.clock.now() - last).toBeLessThanOrEqual(9100);
    // KEEPALIVEs 3 s apart, none within 3 s after the UPDATE.
    const gaps = keepalivesAt.slice(1).map((t, i) => t - keepalivesAt[i]!);
    expect(gaps.every((g) => g >= 2900)).toBe(true);
    expect(keepalivesAt.some((t) => t > sentAt && t - sentAt < 2900)).toBe(false);
    expect(keepalivesAt.filter((t) => t > sentAt).length).toBeGreaterThanOrEqual(2);
  });

  test("an UPDATE in OpenSent is an FSM error 5/1; an OPEN in Established 5/3", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.99", asNumber: 64512, passive: true }, { address: "10.0.0.98", asNumber: 64512, passive: true }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(encodeMessage({ type: MessageType.UPDATE, withdrawn: [], attrs: {}, nlri: [] }));
    const q = rawPeer(lab, "10.0.0.98", "10.0.0.1");
    q.conn.send(open({ bgpId: 0x0a000062 }));
    q.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    q.conn.send(open({ bgpId: 0x0a000062 }));
    lab.run(1);
    expect(notifications(p.got)).toEqual(["5/1"]);
    expect(notifications(q.got)).toEqual(["5/3"]);
  });

  test("garbage from one peer: that peer gets 1/1 and is dropped, the other session is untouched", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.2", asNumber: 64512 }, { address: "10.0.0.99", asNumber: 64512, passive: true }] });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.run(1);
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open());
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    lab.run(1);
    expect(lab.state("10.0.0.1", "10.0.0.99")).toBe("Established");
    p.conn.send(Uint8Array.from({ length: 40 }, (_, i) => (i * 37) & 255));
    lab.run(1);
    expect(notifications(p.got)).toEqual(["1/1"]);
    expect(p.closed()).toBe(true);
    expect(lab.state("10.0.0.1", "10.0.0.99")).not.toBe("Established");
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
  });

  test("a malformed UPDATE (bad NLRI) gets its 3/10 NOTIFICATION", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.99", asNumber: 64512, passive: true }] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
    p.conn.send(open());
    p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    lab.run(1);
    // UPDATE: no withdrawn, no attributes, NLRI prefix length 33.
    const bad = Uint8Array.from([...new Array(16).fill(0xff), 0, 28, 2, 0, 0, 0, 0, 33, 10, 0, 0, 1]);
    p.conn.send(bad);
    lab.run(1);
    expect(notifications(p.got)).toEqual(["3/10"]);
  });

  test("administrative shutdown sends Cease/2 and stays Idle", () => {
    const lab = pair();
    lab.startAll();
    lab.run(1);
    lab.node("10.0.0.1").speaker.stop();
    lab.run(1);
    expect(lab.node("10.0.0.2").speaker.session("10.0.0.1")?.lastError.received).toMatchObject({ code: 6, subcode: 2 });
    lab.run(60);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Idle");
    expect(lab.state("10.0.0.2", "10.0.0.1")).not.toBe("Established");
  });

  test("a connection from an unknown address is closed", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [] });
    lab.startAll();
    const p = rawPeer(lab, "10.0.0.77", "10.0.0.1");
    p.conn.send(open());
    lab.run(1);
    expect(p.closed()).toBe(true);
    expect(p.got).toEqual([]);
  });
});

describe("connect retry", () => {
  test("a peer behind a silent partition is tried once per connect retry time, one timer chain only", () => {
    const lab = new Lab();
    const attempts: number[] = [];
    const t = lab.net.transport("10.0.0.1");
    const a = new Speaker(
      { asNumber: 64512, routerId: "10.0.0.1", peers: [{ address: "10.0.0.2", asNumber: 64512, connectRetryTime: 5 }] },
      { clock: lab.clock, transport: { listen: t.listen, connect: (o, cb) => (attempts.push(lab.clock.now()), t.connect(o, cb)) } },
    );
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512, passive: true }] }).speaker.start();
    lab.net.partition("10.0.0.1", "10.0.0.2"); // SYNs vanish: attempts neither complete nor fail
    a.start();
    lab.run(31);
    // One attempt per ConnectRetry, jittered into [0.75, 1] × 5 s as RFC 4271 §10 asks (and
    // deterministically: the same run gives the same times).
    expect(attempts[0]).toBe(0);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(6);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(3750);
      expect(g).toBeLessThanOrEqual(5000);
    }
    expect(new Set(gaps.map(Math.round)).size).toBeGreaterThan(1);
    expect(a.peers()[0]?.state).toBe("Connect");
    // Timers left: only our retry timer (the passive peer waits without any).
    expect(lab.clock.pending).toBe(1);
    lab.net.heal("10.0.0.1", "10.0.0.2");
    lab.run(5);
    expect(a.peers()[0]?.state).toBe("Established");
  });
});

describe("timers", () => {
  test("an established pair runs exactly hold + keepalive per side; after stop() nothing is left", () => {
    const lab = pair();
    lab.startAll();
    lab.run(100);
    expect(lab.clock.pending).toBe(4);
    for (const n of lab.nodes.values()) n.speaker.stop();
    lab.run(1);
    expect(lab.clock.pending).toBe(0);
    expect(lab.net.connectionCount).toBe(0);
  });

  test("after a flap with graceful restart and recovery, no stale or retry timers linger", () => {
    const lab = pair();
    lab.startAll();
    lab.node("10.0.0.2").speaker.originate("10.2.0.0/26");
    lab.run(2);
    lab.net.cut("10.0.0.1", "10.0.0.2");
    lab.run(30);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    lab.run(200);
    expect(lab.clock.pending).toBe(4);
    expect(lab.node("10.0.0.1").sink.table.get("10.2.0.0/26")).toBe("10.0.0.2");
  });
});

describe("error wait", () => {
  test("two active speakers that reset together come back: a Cease/5 refusal is not an error wait of our own", () => {
    const lab = new Lab();
    for (const [me, peer] of [["10.0.0.1", "10.0.0.2"], ["10.0.0.2", "10.0.0.1"]] as const) {
      lab.add(me, { asNumber: 64512, listen: { address: me }, peers: [{ address: peer, asNumber: 64512, errorWaitTime: 5, connectRetryTime: 5 }] }).speaker.start();
    }
    lab.run(5);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    // Both drop the session at the same instant and wait out their (jittered) error waits: the first
    // one back is refused by the other (Cease/5), stays Active and lets the other's attempt in.
    lab.node("10.0.0.1").speaker.session("10.0.0.2")?.stop(undefined, "reset", true);
    lab.node("10.0.0.2").speaker.session("10.0.0.1")?.stop(undefined, "reset", true);
    lab.run(15);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(lab.state("10.0.0.2", "10.0.0.1")).toBe("Established");
  });
});
