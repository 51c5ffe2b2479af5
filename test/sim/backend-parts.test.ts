// The SimBackend's small parts on their own: the timeline's folding and cap, the convergence
// tracker's settled/unsettled rules, the router peer list, the default quiet period.
import { describe, expect, test } from "@jest/globals";
import { defaultQuiet } from "../../sim/backend.ts";
import { ConvergenceTracker } from "../../sim/backend/convergence.ts";
import { routerPeers, routerSpeakerConfig } from "../../sim/backend/routers.ts";
import { Timeline } from "../../sim/backend/timeline.ts";
import { EBGP_ROUTER, inlineTopology, topologyFile } from "./backend-helpers.ts";

describe("Timeline", () => {
  test("route changes fold per node per instant, nodes in name order, before later events", () => {
    const tl = new Timeline();
    tl.routes(5, "node-2", 1, 0, { added: ["10.1.0.0/26"], removed: [] });
    tl.routes(5, "node-1", 2, 1, { added: ["10.1.1.0/26", "10.1.2.0/26"], removed: ["10.1.3.0/26"] });
    tl.routes(5, "node-1", 3, 0, { added: ["10.1.4.0/26"], removed: [] });
    tl.add({ t: 7, kind: "failure", text: "link down" });
    const l = tl.list();
    expect(l.map((e) => [e.t, e.node, e.kind])).toEqual([
      [5, "node-1", "route"],
      [5, "node-2", "route"],
      [7, undefined, "failure"],
    ]);
    expect(l[0]!.text).toBe("routes 5 added, 1 removed (+10.1.1.0/26, +10.1.2.0/26, -10.1.3.0/26, ...)");
    expect(l[1]!.text).toBe("routes 1 added (+10.1.0.0/26)");
  });

  test("the cap keeps the first events and says how much was left out", () => {
    const tl = new Timeline(2);
    for (let i = 0; i < 5; i++) tl.add({ t: i, kind: "note", text: `n${i}` });
    expect(tl.full).toBe(true);
    const l = tl.list();
    expect(l.map((e) => e.text)).toEqual(["n0", "n1", "timeline full (2 events): 3 later records left out"]);
  });
});

describe("ConvergenceTracker", () => {
  test("sessions in handshake or down with a working path are unsettled until the grace period ends", () => {
    const c = new ConvergenceTracker(1000);
    c.sessionChange("a", "10.0.0.2", "b", "Idle", "Connect", 0);
    c.sessionChange("b", "10.0.0.1", "a", "Idle", "Active", 0);
    expect(c.unsettled(10, undefined)).toHaveLength(2);
    c.sessionChange("a", "10.0.0.2", "b", "Connect", "OpenSent", 500);
    expect(c.unsettled(600, undefined).map((r) => r.host).sort()).toEqual(["a", "b"]);
    // Grace over (counted from creation: never up): stably failing, even mid-handshake (a peer that
    // keeps refusing); the quiet period still waits for the state changes themselves.
    expect(c.unsettled(1000, undefined)).toHaveLength(0);
    expect(c.lastActivity()).toBe(500);
    c.sessionChange("a", "10.0.0.2", "b", "OpenSent", "Established", 1300);
    c.sessionChange("b", "10.0.0.1", "a", "OpenConfirm", "Established", 1300);
    expect(c.unsettled(1300, undefined)).toEqual([]);
    expect(c.lastRoutingChange()).toBe(1300);
  });

  test("an Established session over a broken path is unsettled; a down one over a broken path is settled", () => {
    const c = new ConvergenceTracker(1000);
    c.sessionChange("a", "10.0.0.2", "b", "OpenConfirm", "Established", 5);
    c.sessionChange("b", "10.0.0.1", "a", "OpenConfirm", "Established", 5);
    const broken = () => false;
    c.worldChanged(10);
    expect(c.unsettled(20, broken)).toHaveLength(2);
    c.sessionChange("a", "10.0.0.2", "b", "Established", "Idle", 90_000);
    c.sessionChange("b", "10.0.0.1", "a", "Established", "Active", 90_000);
    expect(c.unsettled(90_001, broken)).toEqual([]);
    // Path back: down sessions get a fresh grace period from the restore.
    c.worldChanged(100_000);
    expect(c.unsettled(100_001, undefined)).toHaveLength(2);
    c.unregisterHost("a");
    expect(c.size).toBe(1);
  });

  test("activity counts UPDATEs too, the convergence point only routes and sessions", () => {
    const c = new ConvergenceTracker(1000);
    c.routeChange(3);
    c.updateSent(8);
    expect(c.lastActivity()).toBe(8);
    expect(c.lastRoutingChange()).toBe(3);
  });
});

describe("router peers and quiet period", () => {
  test("a router peers passively with the nodes its selector picks, from its interface on their subnet", () => {
    const t = inlineTopology(EBGP_ROUTER);
    const r1 = t.routers[0]!;
    const peers = routerPeers(t, r1);
    expect(peers.map((p) => [p.address, p.localAddress, p.asNumber, p.passive])).toEqual([
      ["192.168.1.10", "192.168.1.1", 64512, true],
      ["192.168.1.11", "192.168.1.1", 64512, true],
      ["192.168.2.10", "192.168.2.1", 64512, true],
      ["192.168.2.11", "192.168.2.1", 64512, true],
    ]);
    const cfg = routerSpeakerConfig(t, r1);
    expect(cfg.asNumber).toBe(65000);
    expect(cfg.routerId).toBe("192.168.1.1");
  });

  test("quiet period: 3 × the longest path + 5 ms, at least 1 s with loss", () => {
    const t = topologyFile("quickstart.yaml");
    // 2 segments × 2 attachments × 0.1 ms = 0.4 ms path; 3 × 0.4 + 5 = 6.2 → 7.
    expect(defaultQuiet(t)).toBe(7);
    expect(defaultQuiet({ ...t, segments: t.segments.map((s) => ({ ...s, loss: 0.01 })) })).toBe(1000);
  });
});
