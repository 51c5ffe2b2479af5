// The engine as the core's Clock under real load: the BGP speakers of src/core/bgp on the loopback
// transport, driven by SimEngine instead of ManualClock, from cold start to a converged mesh.
import { describe, expect, test } from "@jest/globals";
import { SimEngine } from "../../sim/engine.ts";
import { LoopbackNetwork } from "../../src/core/bgp/loopback.ts";
import type { RouteChanges, RouteSink } from "../../src/core/bgp/ports.ts";
import { Speaker } from "../../src/core/bgp/speaker.ts";
import { formatPrefix } from "../../src/core/net/ip.ts";

class Sink implements RouteSink {
  prefixes = new Set<string>();
  apply(c: RouteChanges): void {
    for (const p of c.remove) this.prefixes.delete(formatPrefix(p));
    for (const r of c.add) this.prefixes.add(formatPrefix(r.prefix));
  }
}

function mesh(n: number) {
  const engine = new SimEngine({ seed: 1 });
  const net = new LoopbackNetwork(engine.clock("net"), 1);
  const all = Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}`);
  const nodes = all.map((a, i) => {
    const sink = new Sink();
    const speaker = new Speaker(
      { asNumber: 64512, routerId: a, listen: { address: a }, peers: all.filter((b) => b !== a).map((b) => ({ address: b, asNumber: 64512 })) },
      { clock: engine.clock("bgp-timer"), transport: net.transport(a), sink },
    );
    speaker.originate(`10.1.${i}.0/26`, { blackhole: true });
    return { speaker, sink };
  });
  for (const x of nodes) x.speaker.start();
  const converged = () => nodes.every((x) => x.sink.prefixes.size === n && x.speaker.peers().every((p) => p.state === "Established"));
  return { engine, converged };
}

describe("SimEngine driving the BGP core", () => {
  test("a 6-node mesh converges in virtual time; the same run replays identically", () => {
    const a = mesh(6);
    const r = a.engine.run({ stopWhen: a.converged, until: 120_000, maxEvents: 1_000_000 });
    expect(r.reason).toBe("predicate");
    expect(r.time).toBeLessThan(60_000);
    const stats = a.engine.stats;
    expect(Object.keys(stats.perKind)).toEqual(expect.arrayContaining(["bgp-timer", "net"]));
    expect(stats.perKind["net"]).toBeGreaterThan(0);

    const b = mesh(6);
    const r2 = b.engine.run({ stopWhen: b.converged, until: 120_000, maxEvents: 1_000_000 });
    expect(r2).toEqual(r);
    expect(b.engine.stats).toEqual(stats);
  });

  test("after convergence, keepalives keep the sessions up over a long quiet period", () => {
    const a = mesh(3);
    a.engine.run({ stopWhen: a.converged, maxEvents: 100_000 });
    const r = a.engine.run({ until: a.engine.now() + 600_000, maxEvents: 1_000_000 });
    expect(r.reason).toBe("time");
    expect(a.converged()).toBe(true);
  });
});
