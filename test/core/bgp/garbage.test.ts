import { describe, expect, test } from "@jest/globals";
import { parseIP, parsePrefix } from "../../../src/core/net/ip.ts";
import { encodeMessage, MessageType } from "../../../src/core/bgp/wire/index.ts";
import { Lab, open, rawPeer } from "./lab.ts";

/** Small seeded PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("peers sending garbage", () => {
  test("300 sessions fed mutated UPDATEs: each is answered or survives, the speaker and its good peer live on", () => {
    const rnd = prng(42);
    const lab = new Lab();
    lab.add("10.0.0.1", {
      asNumber: 64512,
      peers: [
        { address: "10.0.0.2", asNumber: 64512 },
        { address: "10.0.0.99", asNumber: 64512, passive: true, errorWaitTime: 0 },
      ],
    });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.node("10.0.0.2").speaker.originate("10.2.0.0/26");
    lab.run(1);
    const valid = encodeMessage({
      type: MessageType.UPDATE,
      withdrawn: [parsePrefix("10.8.0.0/16")],
      nlri: [parsePrefix("10.9.0.0/24"), parsePrefix("10.9.1.0/24")],
      attrs: { origin: 0, asPath: [{ type: 2, asns: [64512, 1] }], nextHop: parseIP("10.0.0.99"), localPref: 100, communities: [1, 2], clusterList: [7] },
    });
    let answered = 0;
    let survived = 0;
    for (let i = 0; i < 300; i++) {
      const p = rawPeer(lab, "10.0.0.99", "10.0.0.1");
      p.conn.send(open());
      p.conn.send(encodeMessage({ type: MessageType.KEEPALIVE }));
      const m = valid.slice();
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) m[19 + Math.floor(rnd() * (m.length - 19))] = Math.floor(rnd() * 256);
      p.conn.send(m);
      lab.clock.advance(10);
      if (p.got.some((x) => x.type === MessageType.NOTIFICATION)) answered++;
      else if (lab.state("10.0.0.1", "10.0.0.99") === "Established") survived++;
      p.conn.close();
      lab.clock.advance(10);
    }
    expect(answered + survived).toBe(300);
    expect(answered).toBeGreaterThan(0);
    expect(survived).toBeGreaterThan(0);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(lab.node("10.0.0.1").sink.table.get("10.2.0.0/26")).toBe("10.0.0.2");
    // Nothing from the closed garbage sessions is left behind.
    expect([...lab.node("10.0.0.1").sink.table.keys()]).toEqual(["10.2.0.0/26"]);
  });
});
