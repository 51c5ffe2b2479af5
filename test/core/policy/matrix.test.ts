// Truth tables: probe parsing, the fast verdict path (PolicySet.allowed) against full evaluation,
// and the e2e text / JSON shapes.
import { describe, expect, test } from "@jest/globals";
import { PolicySet } from "../../../src/core/policy/index.ts";
import { formatTruthTables, matrixPods, parseProbes, reachability, truthTableJson } from "../../../src/core/policy/matrix.ts";
import { world } from "../../../bench/policy-world.ts";
import { kitchenSink, small } from "./render/fixtures.ts";

describe("parseProbes", () => {
  test("PORT/PROTOCOL lists, TCP by default, protocol names normalised", () => {
    expect(parseProbes("80/TCP,81/udp, 82")).toEqual([
      { protocol: "TCP", port: 80 },
      { protocol: "UDP", port: 81 },
      { protocol: "TCP", port: 82 },
    ]);
    expect(parseProbes("9000/sctp")).toEqual([{ protocol: "SCTP", port: 9000 }]);
  });
  test("rejects ICMP, port 0, names and empty items", () => {
    for (const bad of ["80/ICMP", "0/TCP", "70000/TCP", "http/TCP", "80/TCP,", ""]) expect(() => parseProbes(bad)).toThrow(/bad probe/);
  });
});

describe("reachability", () => {
  const worlds = [
    ["synthetic 60 pods × 40 policies", () => world(60, 40, { namespaces: 4 })],
    ["small", small],
    ["every rule feature", kitchenSink],
  ] as const;
  for (const [name, input] of worlds) {
    test(`the row-at-a-time verdicts and allowed() equal evaluate() for every pair: ${name}`, () => {
      const set = new PolicySet(input());
      const probes = parseProbes("80/TCP,81/TCP,5432/TCP,8000/TCP,8001/TCP,53/UDP");
      const r = reachability(set, probes);
      const n = r.pods.length;
      let allowed = 0;
      r.tables.forEach((t) => {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const full = set.evaluate({ src: r.pods[i]!.ip, dst: r.pods[j]!.ip, protocol: t.probe.protocol, dstPort: t.probe.port }).allowed;
            expect([r.pods[i]!.name, r.pods[j]!.name, t.probe.port, t.allowed[i * n + j] === 1]).toEqual([r.pods[i]!.name, r.pods[j]!.name, t.probe.port, full]);
            const proto = t.probe.protocol === "TCP" ? 6 : 17;
            expect(set.allowed(set.address(r.pods[i]!.ip), set.address(r.pods[j]!.ip), proto, t.probe.port)).toBe(full);
            allowed += full ? 1 : 0;
          }
        }
      });
      // Both verdicts occur, so the comparison means something.
      expect(allowed).toBeGreaterThan(n);
      expect(allowed).toBeLessThan(n * n * probes.length);
    });
  }

  test("pods are workloads with an address of the family, named ns/pod", () => {
    const set = new PolicySet(kitchenSink());
    expect(matrixPods(set).map((p) => p.name)).toEqual(["shop/web", "shop/db", "ops/mon", "shop/web-2"]);
    expect(matrixPods(set, 6)).toEqual([{ name: "ops/v6", ip: "fd00::5" }]);
  });

  test("text: one table per probe, '-' corner, clients as rows; JSON results in the same order", () => {
    const set = new PolicySet(small());
    const r = reachability(set, parseProbes("5432/TCP"));
    expect(formatTruthTables(r)).toBe(
      [
        "5432/TCP:",
        "-         \tshop/web\tshop/db\tops/mon\tshop/web-2",
        // web pods admit only their http port and 9000; db admits web pods on 5432.
        "shop/web  \t.\t.\t.\tX",
        "shop/db   \tX\t.\t.\tX",
        "ops/mon   \tX\tX\t.\tX",
        "shop/web-2\tX\t.\t.\t.",
        "",
      ].join("\n"),
    );
    const j = truthTableJson(r);
    expect(j.results).toHaveLength(16);
    expect(j.results[9]).toEqual({ from: "ops/mon", to: "shop/db", protocol: "TCP", port: 5432, allowed: false });
  });
});
