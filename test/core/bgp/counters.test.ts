import { describe, expect, test } from "@jest/globals";
import { addCounters, copyCounters, countEncoded, countMessage, DirectionCounters, newMessageCounters, type MessageCounters } from "../../../src/core/bgp/counters.ts";
import { encodeMessage, MessageFramer, MessageType, type Message, decodeMessage } from "../../../src/core/bgp/wire/index.ts";
import { Lab, open, rawPeer } from "./lab.ts";

const allow = { importPolicy: () => true, exportPolicy: () => true };
const A = "10.0.0.1";
const B = "10.0.0.2";

function pair(): Lab {
  const lab = new Lab();
  lab.add(A, { asNumber: 64512, peers: [{ address: B, asNumber: 64513 }], ...allow });
  // B waits: no connection collision (whose Cease/7 and extra OPENs would be counted too).
  lab.add(B, { asNumber: 64513, peers: [{ address: A, asNumber: 64512, passive: true }], ...allow });
  lab.startAll();
  return lab;
}

const peer = (lab: Lab, self: string, other: string) => {
  const p = lab.node(self).speaker.peers().find((x) => x.address === other);
  if (!p) throw new Error(`no peer ${other} on ${self}`);
  return p;
};

/** The per-type message and octet counts, without the prefix counts. */
const wire = (c: MessageCounters) => {
  const { prefixesAnnounced: _a, prefixesWithdrawn: _w, ...rest } = c;
  return rest;
};

describe("BGP message counters", () => {
  test("what one side counts as sent the other counts as received, by type, octets and prefixes", () => {
    const lab = pair();
    for (let i = 0; i < 5; i++) lab.node(A).speaker.originate(`10.1.${i}.0/26`);
    lab.run(3);
    expect(lab.state(A, B)).toBe("Established");
    lab.node(A).speaker.withdraw("10.1.0.0/26");
    expect(lab.node(B).speaker.refresh(A)).toBe(true);
    lab.run(100); // a few keepalives (hold 90 s → every 30 s)

    const ab = peer(lab, A, B).counters;
    const ba = peer(lab, B, A).counters;
    expect(wire(ab.sent)).toEqual(wire(ba.received));
    expect(wire(ba.sent)).toEqual(wire(ab.received));
    expect(ab.sent).toMatchObject({ open: 1, notification: 0, routeRefresh: 0 });
    expect(ba.sent).toMatchObject({ open: 1, notification: 0, routeRefresh: 1 });
    expect(ab.sent.keepalive).toBeGreaterThanOrEqual(4); // one in OpenConfirm, then one per 30 s
    // 5 announced, 1 withdrawn, then the refresh: the 4 remaining again.
    expect(ab.sent.prefixesAnnounced).toBe(9);
    expect(ab.sent.prefixesWithdrawn).toBe(1);
    expect(ba.received.prefixesAnnounced).toBe(9);
    expect(ba.received.prefixesWithdrawn).toBe(1);
    expect(ba.sent.prefixesAnnounced).toBe(0);
    // End-of-RIB after the session came up and after the refresh are UPDATEs too.
    expect(ab.sent.update).toBeGreaterThanOrEqual(4);
    for (const c of [ab.sent, ab.received, ba.sent, ba.received]) {
      expect(c.messages).toBe(c.open + c.update + c.notification + c.keepalive + c.routeRefresh + c.other);
      expect(c.bytes).toBe(c.openBytes + c.updateBytes + c.notificationBytes + c.keepaliveBytes + c.routeRefreshBytes + c.otherBytes);
      expect(c.keepaliveBytes).toBe(19 * c.keepalive);
    }
    // Every octet the network carried was counted by exactly one sender.
    expect(ab.sent.bytes + ba.sent.bytes).toBe(lab.net.bytesSent);
  });

  test("NOTIFICATIONs are counted, counters survive the session and the speaker-wide total sums the peers", () => {
    const lab = pair();
    lab.run(3);
    lab.node(A).speaker.session(B)!.stop(undefined, "test", true);
    lab.run(1);
    expect(peer(lab, A, B).counters.sent.notification).toBe(1);
    expect(peer(lab, B, A).counters.received.notification).toBe(1);
    lab.run(20);
    expect(lab.state(A, B)).toBe("Established");
    expect(peer(lab, A, B).counters.sent.open).toBe(2);

    const total = lab.node(A).speaker.counters();
    expect(total).toEqual(peer(lab, A, B).counters);
    lab.node(A).speaker.removePeer(B);
    lab.run(1);
    const after = lab.node(A).speaker.counters();
    // Cease/3 to the removed peer, still in the total.
    expect(after.sent.notification).toBe(2);
    expect(after.sent.messages).toBe(total.sent.messages + 1);
  });

  test("the received side counts every framed message, also one the decoder rejects", () => {
    const lab = new Lab();
    lab.add(A, { asNumber: 64512, peers: [{ address: "10.0.0.99", asNumber: 64512 }] });
    lab.startAll();
    const raw = rawPeer(lab, "10.0.0.99", A);
    lab.run(1);
    raw.conn.send(open());
    lab.run(1);
    raw.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    lab.run(1);
    const bad = encodeMessage({ type: MessageType.KEEPALIVE });
    bad[18] = 9; // unknown type: header error 1/3
    raw.conn.send(bad);
    lab.run(1);
    const got = peer(lab, A, "10.0.0.99").counters;
    expect(got.received).toMatchObject({ open: 1, keepalive: 1, other: 1, otherBytes: 19, messages: 3 });
    expect(raw.got.filter((m) => m.type === MessageType.NOTIFICATION)).toHaveLength(1);
    expect(got.sent.notification).toBe(1);
    expect(got.sent.messages).toBe(raw.got.length);
  });

  test("countEncoded walks messages sent back to back", () => {
    const c = newMessageCounters();
    const ka = encodeMessage({ type: MessageType.KEEPALIVE });
    const n = encodeMessage({ type: MessageType.NOTIFICATION, code: 6, subcode: 2, data: new Uint8Array(3) });
    const both = new Uint8Array(ka.length + n.length);
    both.set(ka);
    both.set(n, ka.length);
    countEncoded(c, both);
    expect(c).toMatchObject({ messages: 2, keepalive: 1, notification: 1, bytes: 19 + 24, notificationBytes: 24, other: 0 });
    const msgs: Message[] = new MessageFramer().push(both).map((m) => decodeMessage(m));
    expect(msgs.map((m) => m.type)).toEqual([MessageType.KEEPALIVE, MessageType.NOTIFICATION]);
  });

  test("a session's compact counters count exactly as plain ones, and copy to plain ones in the same key order", () => {
    const plain = newMessageCounters();
    const compact = new DirectionCounters();
    // Every type, the unknown ones (-1: a trailing fragment; 9: a type the decoder rejects) included.
    const types = [1, 4, 4, 2, 2, 2, 4, 3, 5, 2, 9, -1, 4, 5, 1];
    types.forEach((t, i) => {
      countMessage(plain, t, 19 + i * 7);
      compact.count(t, 19 + i * 7);
    });
    compact.prefixesAnnounced += 3;
    plain.prefixesAnnounced += 3;
    compact.prefixesWithdrawn += 0;
    compact.prefixesWithdrawn += 2;
    plain.prefixesWithdrawn += 2;
    const copy = copyCounters({ sent: compact, received: new DirectionCounters() });
    expect(copy.sent).toEqual(plain);
    expect(Object.keys(copy.sent)).toEqual(Object.keys(newMessageCounters()));
    expect(copy.received).toEqual(newMessageCounters());
    const sum = newMessageCounters();
    addCounters(sum, compact);
    addCounters(sum, plain);
    for (const k of Object.keys(sum) as (keyof MessageCounters)[]) expect(sum[k]).toBe(2 * plain[k]);
    // The rare counts are writable like plain fields; messages and bytes follow them.
    const c = new DirectionCounters();
    expect(c.messages).toBe(0);
    c.prefixesWithdrawn += 0;
    c.notification += 0;
    c.keepaliveBytes += 0;
    expect(Object.values(c)).toEqual([0, 0, 0, 0, 0, 0, undefined]); // adding 0 made no second object
    c.notification += 2;
    c.notificationBytes += 50;
    expect(c).toMatchObject({ notification: 2, notificationBytes: 50, messages: 2, bytes: 50, routeRefresh: 0, other: 0 });
    countEncoded(c, encodeMessage({ type: MessageType.KEEPALIVE }));
    expect([c.keepalive, c.keepaliveBytes, c.messages, c.bytes]).toEqual([1, 19, 3, 69]);
    // KEEPALIVE count and octets stay independent, as plain fields are.
    c.keepalive += 2;
    expect([c.keepalive, c.keepaliveBytes]).toEqual([3, 19]);
    c.keepaliveBytes = 100;
    expect([c.keepalive, c.keepaliveBytes, c.bytes]).toEqual([3, 100, 150]);
    c.count(MessageType.KEEPALIVE, 19);
    c.count(MessageType.KEEPALIVE, 30);
    expect([c.keepalive, c.keepaliveBytes]).toEqual([5, 149]);
  });
});
