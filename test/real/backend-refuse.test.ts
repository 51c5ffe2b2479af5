// What RealBackend refuses before touching anything (no root needed): resources and observations
// before start. (Pools and BGP resources at run time are accepted: the agents watch them in etcd,
// test/real/agent/daemon.test.ts and scenarios/cluster-changes.yaml in test/real/scenarios.test.ts.)
import { describe, expect, test } from "@jest/globals";
import { RealBackend } from "../../real/backend.ts";
import type { AnyResource } from "../../src/core/model/index.ts";

const pool = { apiVersion: "projectcalico.org/v3", kind: "IPPool", metadata: { name: "extra" }, spec: { cidr: "10.9.0.0/16" } } as unknown as AnyResource;
const peer = { apiVersion: "projectcalico.org/v3", kind: "BGPPeer", metadata: { name: "tor" }, spec: { peerIP: "192.168.1.1", asNumber: 65001 } } as unknown as AnyResource;

describe("RealBackend refusals", () => {
  test("IPPool / BGPPeer changes before start are refused: nothing to write them to", async () => {
    const b = new RealBackend();
    await expect(b.applyResources([pool, peer])).rejects.toThrow("the real backend is not started");
    await expect(b.deleteResources([pool])).rejects.toThrow("the real backend is not started");
  });

  test("before start: no routes, no probes; stop() is harmless and idempotent", async () => {
    const b = new RealBackend();
    expect(b.now()).toBe(0);
    expect(b.runId).toBeUndefined();
    await expect(b.routes()).rejects.toThrow("the real backend is not started");
    await expect(b.probe({ from: { pod: "a/b" }, to: { pod: "c/d" }, protocol: "icmp" })).rejects.toThrow("the real backend is not started");
    await b.stop();
    await b.stop();
    expect(b.timeline()).toEqual([]);
  });
});
