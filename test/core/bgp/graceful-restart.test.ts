import { describe, expect, test } from "@jest/globals";
import { formatPrefix } from "../../../src/core/net/ip.ts";
import { crash, Lab } from "./lab.ts";

function pair(grB: object = {}): Lab {
  const lab = new Lab();
  lab.add("10.0.0.1", { asNumber: 64512, gracefulRestart: { restartTime: 120 }, peers: [{ address: "10.0.0.2", asNumber: 64512 }] });
  lab.add("10.0.0.2", { asNumber: 64512, gracefulRestart: { restartTime: 120, ...grB }, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
  lab.startAll();
  lab.node("10.0.0.2").speaker.originate("10.2.0.0/26");
  lab.node("10.0.0.2").speaker.originate("10.2.0.64/26");
  lab.run(2);
  return lab;
}

/** A fresh speaker process on B's address, as after a restart. */
function restartB(lab: Lab, gr: object, prefixes: string[], ready = true) {
  lab.net.revive("10.0.0.2");
  const b = lab.add("10.0.0.2", { asNumber: 64512, gracefulRestart: { restartTime: 120, ...gr }, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
  for (const p of prefixes) b.speaker.originate(p);
  b.speaker.start();
  if (ready) b.speaker.ready();
  return b;
}

describe("graceful restart (RFC 4724)", () => {
  test("helper: a peer killed without NOTIFICATION keeps its routes stale until the restart timer, then they go", () => {
    const lab = pair();
    const a = lab.node("10.0.0.1");
    expect(a.sink.table.get("10.2.0.0/26")).toBe("10.0.0.2");
    crash(lab, "10.0.0.2");
    lab.run(1);
    expect(lab.state("10.0.0.1", "10.0.0.2")).not.toBe("Established");
    expect(a.sink.table.get("10.2.0.0/26")).toBe("10.0.0.2");
    expect(a.speaker.routes().every((r) => r.stale)).toBe(true);
    expect(a.speaker.peers()[0]?.gracefulRestart).toBe("helping");
    lab.run(117);
    expect(a.sink.table.size).toBe(2);
    lab.run(3);
    expect(a.sink.table.size).toBe(0);
    expect(a.speaker.routes()).toEqual([]);
    expect(a.speaker.peers()[0]?.gracefulRestart).toBe("none");
  });

  test("helper: the restarted peer's End-of-RIB purges what it did not re-announce, without a gap in forwarding", () => {
    const lab = pair();
    const a = lab.node("10.0.0.1");
    crash(lab, "10.0.0.2");
    lab.run(10);
    const batches = a.sink.batches.length;
    restartB(lab, { restarting: true, forwarding: true }, ["10.2.0.0/26"]);
    lab.run(2);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    const gr = a.speaker.session("10.0.0.2")?.negotiated?.peerGracefulRestart;
    expect(gr?.restarting).toBe(true);
    expect(gr?.families).toEqual([{ afi: 1, safi: 1, forwarding: true }]);
    expect([...a.sink.table.keys()]).toEqual(["10.2.0.0/26"]);
    expect(a.speaker.routes().map((r) => [r.prefix, r.stale])).toEqual([["10.2.0.0/26", false]]);
    // The kept route was never removed from the forwarding plane, only the one not re-announced.
    const removed = a.sink.batches.slice(batches).flatMap((b) => b.remove.map(formatPrefix));
    expect(removed).toEqual(["10.2.0.64/26"]);
    // Long after, nothing else is purged by a leftover timer.
    lab.run(300);
    expect([...a.sink.table.keys()]).toEqual(["10.2.0.0/26"]);
  });

  test("helper: a restarted peer's new OPEN replaces a connection we still thought was up", () => {
    const lab = pair();
    const a = lab.node("10.0.0.1");
    lab.net.crash("10.0.0.2", { reset: false });
    lab.node("10.0.0.2").speaker.stop();
    lab.run(5);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established"); // nothing noticed yet
    restartB(lab, { restarting: true, forwarding: true }, ["10.2.0.64/26"]);
    lab.run(3);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(a.speaker.session("10.0.0.2")?.negotiated?.peerGracefulRestart?.restarting).toBe(true);
    expect(a.logs.join("\n")).toContain("peer reconnected (graceful restart)");
    expect([...a.sink.table.keys()]).toEqual(["10.2.0.64/26"]);
  });

  test("helper: a peer that comes back without the F bit has its stale routes flushed at once", () => {
    const lab = pair();
    const a = lab.node("10.0.0.1");
    crash(lab, "10.0.0.2");
    lab.run(10);
    const batches = a.sink.batches.length;
    restartB(lab, { restarting: true, forwarding: false }, ["10.2.0.0/26"]);
    lab.run(2);
    const removed = a.sink.batches.slice(batches).flatMap((b) => b.remove.map(formatPrefix));
    expect(removed.sort()).toEqual(["10.2.0.0/26", "10.2.0.64/26"]);
    expect([...a.sink.table.keys()]).toEqual(["10.2.0.0/26"]);
  });

  test("restarting speaker: End-of-RIB waits for ready(), so the helper keeps routes not yet re-originated", () => {
    const lab = pair();
    const a = lab.node("10.0.0.1");
    crash(lab, "10.0.0.2");
    lab.run(10);
    const b = restartB(lab, { restarting: true, forwarding: true }, [], false);
    lab.run(5);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect([...a.sink.table.keys()].sort()).toEqual(["10.2.0.0/26", "10.2.0.64/26"]);
    b.speaker.setOriginated([{ prefix: "10.2.0.64/26" }]);
    lab.run(1);
    expect(a.speaker.routes().map((r) => [r.prefix, r.stale])).toEqual([
      ["10.2.0.0/26", true],
      ["10.2.0.64/26", false],
    ]);
    b.speaker.ready();
    lab.run(1);
    expect([...a.sink.table.keys()]).toEqual(["10.2.0.64/26"]);
    expect(a.speaker.peers()[0]?.gracefulRestart).toBe("none");
  });

  test("restarting speaker: the R bit is sent in the first OPEN only", () => {
    const lab = pair({ restarting: true });
    lab.node("10.0.0.2").speaker.ready();
    const n = lab.node("10.0.0.1").speaker.session("10.0.0.2")?.negotiated;
    expect(n?.peerGracefulRestart?.restarting).toBe(true);
    lab.node("10.0.0.2").speaker.session("10.0.0.1")?.stop(undefined, "reset", true);
    lab.run(10);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(lab.node("10.0.0.1").speaker.session("10.0.0.2")?.negotiated?.peerGracefulRestart?.restarting).toBe(false);
  });

  test("a silent partition: both hold timers expire (4/0), routes are withdrawn, the session comes back when healed", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, peers: [{ address: "10.0.0.2", asNumber: 64512, holdTime: 9 }] });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512, holdTime: 9 }] });
    lab.startAll();
    lab.node("10.0.0.2").speaker.originate("10.2.0.0/26");
    lab.run(2);
    const a = lab.node("10.0.0.1");
    expect(a.sink.table.size).toBe(1);
    lab.net.partition("10.0.0.1", "10.0.0.2");
    lab.run(5); // the last keepalive got through at most 3 s before: no expiry before 6 s
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    lab.run(5);
    expect(a.speaker.session("10.0.0.2")?.lastError.sent).toMatchObject({ code: 4, subcode: 0 });
    expect(lab.node("10.0.0.2").speaker.session("10.0.0.1")?.lastError.sent).toMatchObject({ code: 4, subcode: 0 });
    expect(a.sink.table.size).toBe(0); // we sent the NOTIFICATION: no graceful restart
    lab.net.heal("10.0.0.1", "10.0.0.2");
    lab.run(20);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    expect(a.sink.table.get("10.2.0.0/26")).toBe("10.0.0.2");
  });

  test("a NOTIFICATION ends the session for real: routes are removed at once", () => {
    const lab = pair();
    lab.node("10.0.0.2").speaker.stop();
    lab.run(1);
    expect(lab.node("10.0.0.1").sink.table.size).toBe(0);
  });

  test("without graceful restart on our side, a dropped peer's routes are removed at once", () => {
    const lab = new Lab();
    lab.add("10.0.0.1", { asNumber: 64512, gracefulRestart: false, peers: [{ address: "10.0.0.2", asNumber: 64512 }] });
    lab.add("10.0.0.2", { asNumber: 64512, peers: [{ address: "10.0.0.1", asNumber: 64512 }] });
    lab.startAll();
    lab.node("10.0.0.2").speaker.originate("10.2.0.0/26");
    lab.run(2);
    expect(lab.node("10.0.0.1").sink.table.size).toBe(1);
    crash(lab, "10.0.0.2");
    lab.run(1);
    expect(lab.node("10.0.0.1").sink.table.size).toBe(0);
  });
});

describe("restarting speaker: best-path selection deferral (RFC 4724 §4.1)", () => {
  const allow = { importPolicy: () => true, exportPolicy: () => true };
  /** A (restarting, deferral 60 s) with eBGP peers B and C that each originate a prefix; only B started. */
  function deferLab(a: object = {}): Lab {
    const lab = new Lab();
    lab.add("10.0.0.1", {
      asNumber: 64512,
      gracefulRestart: { restartTime: 120, restarting: true, forwarding: true, selectionDeferral: 60 },
      deferEndOfRib: false,
      peers: [
        { address: "10.0.0.2", asNumber: 64513 },
        { address: "10.0.0.3", asNumber: 64514 },
      ],
      ...allow,
      ...a,
    });
    for (const [me, as] of [["10.0.0.2", 64513], ["10.0.0.3", 64514]] as const) {
      lab.add(me, { asNumber: as, gracefulRestart: { restartTime: 120 }, peers: [{ address: "10.0.0.1", asNumber: 64512 }], ...allow });
    }
    lab.node("10.0.0.1").speaker.originate("10.1.0.0/24", { blackhole: true });
    lab.node("10.0.0.2").speaker.originate("10.2.0.0/24");
    lab.node("10.0.0.3").speaker.originate("10.3.0.0/24");
    lab.node("10.0.0.1").speaker.start();
    lab.node("10.0.0.2").speaker.start();
    return lab;
  }

  test("nothing is installed or advertised until every graceful-restart peer has sent End-of-RIB, then all at once", () => {
    const lab = deferLab();
    const [a, b] = [lab.node("10.0.0.1"), lab.node("10.0.0.2")];
    lab.run(5);
    expect(lab.state("10.0.0.1", "10.0.0.2")).toBe("Established");
    // B's End-of-RIB is in, C is not up yet: no selection.
    expect(a.speaker.selectionDeferred).toBe(true);
    expect(a.sink.table.size).toBe(0);
    expect(a.speaker.routes().every((r) => !r.best)).toBe(true);
    expect(b.sink.table.has("10.1.0.0/24")).toBe(false);
    // Not even End-of-RIB: no UPDATE at all yet.
    expect(a.speaker.peers().find((p) => p.address === "10.0.0.2")?.counters.sent.update).toBe(0);
    lab.node("10.0.0.3").speaker.start();
    lab.run(5);
    expect(a.speaker.selectionDeferred).toBe(false);
    expect(Object.fromEntries(a.sink.table)).toEqual({ "10.1.0.0/24": "blackhole", "10.2.0.0/24": "10.0.0.2", "10.3.0.0/24": "10.0.0.3" });
    // B gets A's and C's prefixes (C's through A), each once.
    expect(b.sink.table.get("10.1.0.0/24")).toBe("10.0.0.1");
    expect(b.sink.table.get("10.3.0.0/24")).toBe("10.0.0.1");
    expect(a.speaker.peers().find((p) => p.address === "10.0.0.2")?.counters.sent.prefixesAnnounced).toBe(2);
    // ... and then End-of-RIB: one more UPDATE than those that carried prefixes, none withdrawn.
    const sent = a.speaker.peers().find((p) => p.address === "10.0.0.2")!.counters.sent;
    expect(sent.prefixesWithdrawn).toBe(0);
    expect(sent.update).toBeGreaterThanOrEqual(2);
    expect(a.logs.join("\n")).toContain("best-path selection after End-of-RIB from every peer");
  });

  test("a peer that never comes up holds selection only until the deferral timer", () => {
    const lab = deferLab();
    const [a, b] = [lab.node("10.0.0.1"), lab.node("10.0.0.2")];
    lab.run(55);
    expect(a.speaker.selectionDeferred).toBe(true);
    expect(a.sink.table.size).toBe(0);
    lab.run(6);
    expect(a.speaker.selectionDeferred).toBe(false);
    expect(Object.fromEntries(a.sink.table)).toEqual({ "10.1.0.0/24": "blackhole", "10.2.0.0/24": "10.0.0.2" });
    expect(b.sink.table.get("10.1.0.0/24")).toBe("10.0.0.1");
    expect(a.logs.join("\n")).toContain("selection deferral timer ran out");
  });

  test("peers without graceful restart on our side are not waited for; without selectionDeferral nothing is deferred", () => {
    const lab = deferLab({
      peers: [
        { address: "10.0.0.2", asNumber: 64513 },
        { address: "10.0.0.3", asNumber: 64514, gracefulRestart: false },
      ],
    });
    lab.run(5);
    expect(lab.node("10.0.0.1").speaker.selectionDeferred).toBe(false);
    expect(lab.node("10.0.0.1").sink.table.get("10.2.0.0/24")).toBe("10.0.0.2");

    const plain = deferLab({ gracefulRestart: { restartTime: 120, restarting: true, forwarding: true } });
    expect(plain.node("10.0.0.1").speaker.selectionDeferred).toBe(false);
    plain.run(5);
    expect(plain.node("10.0.0.1").sink.table.get("10.2.0.0/24")).toBe("10.0.0.2");
  });
});
