import { describe, expect, test } from "@jest/globals";
import { formatPrefix } from "../../../src/core/net/ip.ts";
import { calicoExport, calicoOriginatedRoutes } from "../../../src/core/bgp/calico-export.ts";
import { Lab } from "./lab.ts";

const input = {
  pools: [{ cidr: "10.1.0.0/16" }, { cidr: "10.50.0.0/16", disableBGPExport: true }, { cidr: "fd10::/48" }],
  blocks: ["10.1.3.0/26", "10.50.0.0/26", "fd10::/122"],
  borrowed: [{ address: "10.1.9.5" }, "10.1.3.7", "10.50.1.1"],
};

describe("Calico export semantics", () => {
  test("originated: blocks with a blackhole, borrowed addresses as host routes (not those inside own blocks)", () => {
    expect(calicoOriginatedRoutes(input).map((r) => [formatPrefix(r.prefix), r.blackhole])).toEqual([
      ["10.1.3.0/26", true],
      ["10.50.0.0/26", true],
      ["fd10::/122", true],
      ["10.1.9.5/32", false],
      ["10.50.1.1/32", false],
    ]);
    expect(calicoOriginatedRoutes({ pools: input.pools, blocks: ["10.1.4.1/32"], borrowed: [] })[0]?.blackhole).toBe(false);
  });

  test("over BGP: block aggregates and borrowed /32s go out; disableBGPExport pools, more-specifics and non-pool routes do not", () => {
    const lab = new Lab();
    const { routes, exportPolicy } = calicoExport(input);
    lab.add("10.0.0.1", { asNumber: 64512, exportPolicy, peers: [{ address: "10.0.0.2", asNumber: 64512 }, { address: "10.0.0.3", asNumber: 65000, importPolicy: () => true }] });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.add("10.0.0.3", { asNumber: 65000, peers: [{ address: "10.0.0.1", asNumber: 64512, importPolicy: () => true, exportPolicy: () => true }] });
    lab.startAll();
    const a = lab.node("10.0.0.1");
    a.speaker.setOriginated([...routes, { prefix: "10.1.3.8/29" }, { prefix: "192.168.7.0/24" }]);
    lab.run(2);
    expect([...a.sink.table].sort()).toEqual([
      ["10.1.3.0/26", "blackhole"],
      ["10.50.0.0/26", "blackhole"],
      ["fd10::/122", "blackhole"],
    ]);
    for (const peer of ["10.0.0.2", "10.0.0.3"]) {
      expect([...lab.node(peer).sink.table].sort()).toEqual([
        ["10.1.3.0/26", "10.0.0.1"],
        ["10.1.9.5/32", "10.0.0.1"],
      ]);
    }
    // The eBGP peer's own prefix reaches 10.0.0.1 but is outside the pools: not passed to 10.0.0.2.
    lab.node("10.0.0.3").speaker.originate("10.1.200.0/24");
    lab.node("10.0.0.3").speaker.originate("172.16.0.0/24");
    lab.run(1);
    expect(a.sink.table.get("172.16.0.0/24")).toBe("10.0.0.3");
    expect(lab.node("10.0.0.2").sink.table.has("172.16.0.0/24")).toBe(false);
    expect(lab.node("10.0.0.2").sink.table.get("10.1.200.0/24")).toBe("10.0.0.3");
  });

  test("a peer-independent export policy is asked once per route and path, however many peers get it", () => {
    const lab = new Lab();
    const seen: string[] = [];
    const count = (flag: boolean) =>
      Object.assign(
        (route: { prefix: Parameters<typeof formatPrefix>[0] }) => {
          seen.push(formatPrefix(route.prefix));
          return true;
        },
        { peerIndependent: flag },
      );
    const peers = ["10.0.0.2", "10.0.0.3", "10.0.0.4"];
    lab.add("10.0.0.1", { asNumber: 64512, exportPolicy: count(true), peers: peers.map((address) => ({ address, asNumber: 64512 })) });
    for (const p of peers) lab.add(p, { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.run(2);
    lab.node("10.0.0.1").speaker.originate("10.1.3.0/26");
    lab.run(1);
    for (const p of peers) expect(lab.node(p).sink.table.get("10.1.3.0/26")).toBe("10.0.0.1");
    expect(seen).toEqual(["10.1.3.0/26"]);
    // Without the flag it is asked for each peer.
    seen.length = 0;
    lab.node("10.0.0.1").speaker.setExportPolicy(count(false));
    lab.node("10.0.0.1").speaker.originate("10.1.4.0/26");
    lab.run(1);
    expect(seen.filter((x) => x === "10.1.4.0/26")).toHaveLength(3);
    for (const p of peers) expect(lab.node(p).sink.table.get("10.1.4.0/26")).toBe("10.0.0.1");
  });

  test("a new block set re-evaluates what peers were sent", () => {
    const lab = new Lab();
    const first = calicoExport({ pools: [{ cidr: "10.1.0.0/16" }], blocks: ["10.1.3.0/26"], borrowed: [] });
    lab.add("10.0.0.1", { asNumber: 64512, exportPolicy: first.exportPolicy, peers: [{ address: "10.0.0.2", asNumber: 64512 }] });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.node("10.0.0.1").speaker.setOriginated(first.routes);
    lab.run(2);
    expect([...lab.node("10.0.0.2").sink.table.keys()]).toEqual(["10.1.3.0/26"]);
    const next = calicoExport({ pools: [{ cidr: "10.1.0.0/16", disableBGPExport: true }], blocks: ["10.1.3.0/26", "10.1.4.0/26"], borrowed: [] });
    lab.node("10.0.0.1").speaker.setExportPolicy(next.exportPolicy);
    lab.node("10.0.0.1").speaker.setOriginated(next.routes);
    lab.run(1);
    expect([...lab.node("10.0.0.2").sink.table.keys()]).toEqual([]);
    expect([...lab.node("10.0.0.1").sink.table.keys()].sort()).toEqual(["10.1.3.0/26", "10.1.4.0/26"]);
  });
});
