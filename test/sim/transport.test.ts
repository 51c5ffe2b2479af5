// SimTransportNetwork: real BGP speakers (src/core/bgp) over the simulated TCP, in SimEngine time.
import { describe, expect, test } from "@jest/globals";
import { SimEngine } from "../../sim/engine.ts";
import { SimTransportNetwork } from "../../sim/transport.ts";
import type { CloseReason, Connection, RouteChanges, RouteSink } from "../../src/core/bgp/ports.ts";
import { Speaker } from "../../src/core/bgp/speaker.ts";
import { formatPrefix } from "../../src/core/net/ip.ts";
import { TableUnderlay, type TablePath } from "./underlay-table.ts";

class Sink implements RouteSink {
  prefixes = new Set<string>();
  apply(c: RouteChanges): void {
    for (const p of c.remove) this.prefixes.delete(formatPrefix(p));
    for (const r of c.add) this.prefixes.add(formatPrefix(r.prefix));
  }
}

const A = "10.0.0.1";
const B = "10.0.0.2";

function pair(path: TablePath, opts: { seed?: number; holdTime?: number; routes?: number } = {}) {
  const engine = new SimEngine({ seed: opts.seed ?? 1 });
  const underlay = new TableUnderlay().host("a", A).host("b", B).link("a", "b", path);
  const net = new SimTransportNetwork(engine, underlay);
  const make = (host: string, me: string, peer: string, i: number) => {
    const sink = new Sink();
    const speaker = new Speaker(
      {
        asNumber: 64512,
        routerId: me,
        listen: { address: me },
        peers: [{ address: peer, asNumber: 64512, ...(opts.holdTime ? { holdTime: opts.holdTime } : {}) }],
      },
      { clock: engine.clock("bgp-timer"), transport: net.transport(host), sink },
    );
    const n = opts.routes ?? 1;
    for (let k = 0; k < n; k++) speaker.originate(`10.${100 + i}.${k >> 2}.${(k & 3) * 64}/26`, { blackhole: true });
    return { speaker, sink };
  };
  const a = make("a", A, B, 0);
  const b = make("b", B, A, 1);
  const established = () => a.speaker.peers()[0]?.state === "Established" && b.speaker.peers()[0]?.state === "Established";
  const converged = (n = opts.routes ?? 1) => established() && a.sink.prefixes.size === 2 * n && b.sink.prefixes.size === 2 * n;
  return { engine, underlay, net, a, b, established, converged };
}

describe("SimTransportNetwork with two real speakers", () => {
  test("reach Established and exchange routes", () => {
    const p = pair({ latencyMs: 5 });
    p.a.speaker.start();
    p.b.speaker.start();
    const r = p.engine.run({ stopWhen: () => p.converged(), until: 60_000 });
    expect(r.reason).toBe("predicate");
    expect([...p.a.sink.prefixes].sort()).toEqual(["10.100.0.0/26", "10.101.0.0/26"]);
    const st = p.net.stats();
    expect(st.sent.open).toBeGreaterThanOrEqual(2);
    expect(st.sent.update).toBeGreaterThanOrEqual(2);
    expect(st.tcp.established).toBeGreaterThanOrEqual(1);
  });
});
