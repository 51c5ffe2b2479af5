// directWalk (the one-segment fast path of the simulated TCP's underlay paths) against walk: wherever
// it answers, it must answer exactly what walk does; it must answer the plain same-segment case.
import { describe, expect, test } from "@jest/globals";
import { SimEngine } from "../../../sim/engine.ts";
import { directWalk, walk } from "../../../sim/net/forward.ts";
import { SimNetwork, type UnderlayResult } from "../../../sim/net/network.ts";
import { NetState } from "../../../sim/net/hosts.ts";
import { parseIP } from "../../../src/core/net/ip.ts";
import { loadTopology } from "../../../src/topology/index.ts";

const reader = { readFile: (p: string): string => { throw new Error(`no file ${p}`); } };

// node-1, node-2 on seg-a (node-2's link slower, lossy, narrower, with a bandwidth limit) behind r1;
// node-3 on seg-b behind r2: same-segment, routed and unreachable pairs.
const topology = loadTopology(
  `
apiVersion: birdcage/v1
kind: Topology
metadata: { name: t }
segments:
  - { name: seg-a, subnet: 192.168.1.0/24, subnetV6: "fd00:1::/64", latencyMs: 0.1 }
  - { name: seg-b, subnet: 192.168.2.0/24, latencyMs: 0.2 }
  - { name: core, subnet: 10.255.0.0/24, latencyMs: 1 }
routers:
  - name: r1
    interfaces:
      - { segment: seg-a, address: 192.168.1.1/24 }
      - { segment: core, address: 10.255.0.1/24 }
    staticRoutes:
      - { prefix: 192.168.2.0/24, via: 10.255.0.2 }
  - name: r2
    interfaces:
      - { segment: seg-b, address: 192.168.2.1/24 }
      - { segment: core, address: 10.255.0.2/24 }
    staticRoutes:
      - { prefix: 192.168.1.0/24, via: 10.255.0.1 }
nodes:
  - { name: node-1, segment: seg-a, address: 192.168.1.10/24, addressV6: "fd00:1::10/64", gateway: 192.168.1.1 }
  - { name: node-2, segment: seg-a, address: 192.168.1.11/24, addressV6: "fd00:1::11/64", gateway: 192.168.1.1 }
  - { name: node-3, segment: seg-b, address: 192.168.2.10/24, gateway: 192.168.2.1 }
links:
  - { endpoints: [node-2, seg-a], latencyMs: 0.3, loss: 0.01, mtu: 1400, bandwidthMbps: 100 }
cluster:
  podCIDR: 10.1.0.0/16
  encapsulation: { type: ipip, mode: CrossSubnet }
`,
  "t.yaml",
  reader,
).topology;

const addresses = ["192.168.1.10", "192.168.1.11", "192.168.2.10", "192.168.1.1", "10.255.0.1", "192.168.2.1", "10.255.0.2", "fd00:1::10", "fd00:1::11", "192.168.1.99"];

function compareAll(net: NetState): number {
  let answered = 0;
  for (const host of net.hosts.values()) {
    for (const s of addresses) {
      for (const d of addresses) {
        const src = parseIP(s);
        const dst = parseIP(d);
        const fast = directWalk(host, src, dst);
        if (fast === undefined) continue;
        answered++;
        expect(fast).toEqual(walk(net, { from: host, src, dst, protocol: "tcp", size: 0, df: true }, { explain: false, policy: false }));
      }
    }
  }
  return answered;
}

describe("directWalk", () => {
  test("answers same-segment pairs exactly as walk, and nothing else", () => {
    const net = new NetState(topology);
    const n1 = net.host("node-1");
    const plain = directWalk(n1, parseIP("192.168.1.10"), parseIP("192.168.1.11"));
    expect(plain).toMatchObject({ outcome: "delivered", pathMtu: 1400, pathMtuAt: "node-2", latencyMs: 0.3, bandwidthMbps: 100 });
    expect(plain?.lossProbability).toBeCloseTo(0.01);
    // Routed (two hops), local and unknown destinations are walk's.
    expect(directWalk(n1, parseIP("192.168.1.10"), parseIP("192.168.2.10"))).toBeUndefined();
    expect(directWalk(n1, parseIP("192.168.1.10"), parseIP("192.168.1.10"))).toBeUndefined();
    expect(directWalk(n1, parseIP("192.168.1.10"), parseIP("192.168.1.99"))).toBeUndefined();
    expect(compareAll(net)).toBeGreaterThan(8);
  });

  test("leaves down hosts and links to walk", () => {
    const net = new NetState(topology);
    net.host("node-2").down = true;
    expect(directWalk(net.host("node-1"), parseIP("192.168.1.10"), parseIP("192.168.1.11"))).toBeUndefined();
    compareAll(net);
    const net2 = new NetState(topology);
    for (const i of net2.host("node-1").ifaces) i.down = true;
    expect(directWalk(net2.host("node-1"), parseIP("192.168.1.10"), parseIP("192.168.1.11"))).toBeUndefined();
    compareAll(net2);
  });

  test("underlayPath without a memo (the one-segment answer built directly) says what the walked path says", () => {
    // The direct answer's figures are getters over a shared part: compare what a reader reads.
    const fields = (p: UnderlayResult): UnderlayResult =>
      p.ok
        ? { ok: p.ok, latencyMs: p.latencyMs, loss: p.loss, links: [...p.links], ...(p.mtu !== undefined ? { mtu: p.mtu } : {}), ...(p.bandwidthMbps !== undefined ? { bandwidthMbps: p.bandwidthMbps } : {}) }
        : p;
    const hosts = ["node-1", "node-2", "node-3", "r1", "r2"];
    const check = (net: SimNetwork): number => {
      let ok = 0;
      for (const h of hosts) {
        for (const s of addresses) {
          for (const d of addresses) {
            if (s.includes(":") !== d.includes(":")) continue; // (walk throws on mixed families)
            for (const size of [0, 40, 1400, 1401, 1500, 9000]) {
              const direct = net.underlayPath(h, s, d, size, { memo: false });
              expect(fields(direct)).toEqual(net.underlayPath(h, s, d, size));
              if (direct.ok) ok++;
            }
          }
        }
      }
      return ok;
    };
    const net = new SimNetwork(topology, new SimEngine({ seed: 1 }));
    expect(check(net)).toBeGreaterThan(50);
    // The MTU drop names where it happens.
    expect(net.underlayPath("node-1", "192.168.1.10", "192.168.1.11", 1401, { memo: false })).toMatchObject({ ok: false, kind: "mtu", at: "node-2" });
    net.setHostDown("node-2", true);
    check(net);
  });
});
