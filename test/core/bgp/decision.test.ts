import { describe, expect, test } from "@jest/globals";
import { parseIP, parsePrefix } from "../../../src/core/net/ip.ts";
import { bestPath, comparePaths, type Path, type PathSource } from "../../../src/core/bgp/decision.ts";
import type { PathAttributes } from "../../../src/core/bgp/wire/index.ts";

const opts = { localAs: 64512 };
function path(attrs: PathAttributes, src: Partial<PathSource> = {}, nextHop = "10.0.0.9"): Path {
  const address = src.address ?? "10.0.0.9";
  return {
    prefix: parsePrefix("10.1.0.0/24"),
    attrs: { origin: 0, asPath: [], ...attrs },
    nextHops: [parseIP(nextHop)],
    source: { kind: "ibgp", address, addressValue: parseIP(address).value, peerAs: 64512, bgpId: 9, rrClient: false, ...src },
    stale: false,
  };
}
const seq = (...asns: number[]) => [{ type: 2 as const, asns }];

describe("decision process", () => {
  // Each row: [step, better, worse].
  const rows: [string, Path, Path][] = [
    ["higher LOCAL_PREF", path({ localPref: 200, asPath: seq(1, 2, 3) }), path({ localPref: 100 })],
    ["missing LOCAL_PREF counts as 100", path({ localPref: 101 }), path({})],
    ["shorter AS_PATH", path({ asPath: seq(1) }), path({ asPath: seq(1, 2) })],
    ["an AS_SET counts as one", path({ asPath: [{ type: 2, asns: [1] }, { type: 1, asns: [5, 6, 7] }] }), path({ asPath: seq(1, 2, 3) })],
    ["lower ORIGIN", path({ origin: 0, med: 100 }), path({ origin: 2 })],
    ["lower MED from the same neighbour AS", path({ asPath: seq(1), med: 5 }), path({ asPath: seq(1), med: 10 })],
    ["eBGP over iBGP", path({}, { kind: "ebgp", peerAs: 1 }), path({})],
    ["shorter CLUSTER_LIST", path({ clusterList: [1] }, { bgpId: 50 }), path({ clusterList: [1, 2] }, { bgpId: 1 })],
    ["lower ORIGINATOR_ID over router ID", path({ originatorId: 3 }, { bgpId: 50 }), path({}, { bgpId: 4 })],
    ["lower router ID", path({}, { bgpId: 4 }), path({}, { bgpId: 5 })],
    ["lower peer address", path({}, { address: "10.0.0.2" }), path({}, { address: "10.0.0.10" })],
    ["local paths first", path({ localPref: 1 }, { kind: "local" }), path({ localPref: 500 })],
  ];
  test.each(rows)("%s", (_name, better, worse) => {
    expect(comparePaths(better, worse, opts)).toBeLessThan(0);
    expect(comparePaths(worse, better, opts)).toBeGreaterThan(0);
    expect(bestPath([worse, better], opts)).toBe(better);
  });

  test("MED is not compared between different neighbour ASes", () => {
    const a = path({ asPath: seq(1), med: 50 }, { bgpId: 1 });
    const b = path({ asPath: seq(2), med: 5 }, { bgpId: 2 });
    expect(bestPath([b, a], opts)).toBe(a); // decided by router ID
  });

  test("IGP cost hook: lower cost to the next hop wins before cluster list length", () => {
    const igpCost = (h: { value: bigint } | undefined) => (h?.value === parseIP("10.0.0.7").value ? 1 : 10);
    const near = path({ clusterList: [1, 2, 3] }, {}, "10.0.0.7");
    const far = path({}, {}, "10.0.0.8");
    expect(bestPath([far, near], { localAs: 64512, igpCost })).toBe(near);
    expect(bestPath([near, far], opts)).toBe(far);
  });

  test("empty list has no best path", () => {
    expect(bestPath([], opts)).toBeUndefined();
  });
});
