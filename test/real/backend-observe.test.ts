// Kernel routes (`ip -j route show` entries as Linux prints them) read as the simulator's route observations.
import { afterAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunCounters, routeObservation, sortRoutes } from "../../real/backend-observe.ts";
import { ControlServer } from "../../real/control-socket.ts";

describe("routeObservation", () => {
  test("the node's own block (proto 201 blackhole) is ipam", () => {
    expect(routeObservation("n1", { type: "blackhole", dst: "10.1.195.0/26", protocol: "201" })).toEqual({ node: "n1", prefix: "10.1.195.0/26", kind: "blackhole", nextHops: [], encap: "none", source: "ipam" });
  });

  test("a pod route (cali* device, host route without a length) is a local workload route /32", () => {
    expect(routeObservation("n1", { dst: "10.1.195.1", dev: "cali1b4c0d3e5f6", protocol: "202", scope: "link" })).toEqual({ node: "n1", prefix: "10.1.195.1/32", kind: "local", nextHops: [], encap: "none", source: "workload" });
    expect(routeObservation("n1", { dst: "fd00::5", dev: "cali1b4c0d3e5f6", protocol: "202" }, true)?.prefix).toBe("fd00::5/128");
  });

  test("BGP routes carry their next hop and the tunnel device's encapsulation", () => {
    expect(routeObservation("n1", { dst: "10.1.140.128/26", gateway: "192.168.2.10", dev: "vxlan.calico", protocol: "201" })).toEqual({ node: "n1", prefix: "10.1.140.128/26", kind: "unicast", nextHops: ["192.168.2.10"], encap: "vxlan", source: "bgp" });
    expect(routeObservation("n1", { dst: "10.1.140.128/26", gateway: "192.168.2.10", dev: "tunl0", protocol: "201" })?.encap).toBe("ipip");
    expect(routeObservation("n1", { dst: "10.1.143.64/26", gateway: "192.168.1.11", dev: "eth0", protocol: "201" })?.encap).toBe("none");
  });

  test("ECMP next hops are all listed, sorted", () => {
    const r = routeObservation("r1", { dst: "10.9.0.0/24", protocol: "201", nexthops: [{ gateway: "10.0.0.3", dev: "eth0" }, { gateway: "10.0.0.2", dev: "eth0" }] });
    expect(r?.nextHops).toEqual(["10.0.0.2", "10.0.0.3"]);
  });

  test("connected subnets are connected; the default and other routes are static", () => {
    expect(routeObservation("n1", { dst: "192.168.1.0/24", dev: "eth0", protocol: "kernel", scope: "link" })).toEqual({ node: "n1", prefix: "192.168.1.0/24", kind: "unicast", nextHops: [], encap: "none", source: "connected" });
    expect(routeObservation("n1", { dst: "default", gateway: "192.168.1.1", dev: "eth0" })).toEqual({ node: "n1", prefix: "0.0.0.0/0", kind: "unicast", nextHops: ["192.168.1.1"], encap: "none", source: "static" });
    expect(routeObservation("n1", { dst: "default", gateway: "fe80::1", dev: "eth0" }, true)?.prefix).toBe("::/0");
  });

  test("an entry without a destination is ignored; sortRoutes orders by node, then prefix", () => {
    expect(routeObservation("n1", {})).toBeUndefined();
    const a = routeObservation("n2", { dst: "10.0.0.0/8", dev: "eth0", protocol: "kernel" })!;
    const b = routeObservation("n1", { dst: "192.168.0.0/16", dev: "eth0", protocol: "kernel" })!;
    const c = routeObservation("n1", { dst: "10.0.0.0/8", dev: "eth0", protocol: "kernel" })!;
    expect(sortRoutes([a, b, c]).map((r) => `${r.node} ${r.prefix}`)).toEqual(["n1 10.0.0.0/8", "n1 192.168.0.0/16", "n2 10.0.0.0/8"]);
  });
});

describe("RunCounters: BGP messages sent by the run's daemons, read over their control sockets", () => {
  const dir = mkdtempSync(join(tmpdir(), "bc-counters-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A control socket answering `counters` as an agent does, with whatever `sent` holds at the time. */
  async function daemon(name: string, sent: { messages: number; update?: number; keepalive?: number; open?: number; bytes: number }): Promise<{ server: ControlServer; socket: string; sent: typeof sent }> {
    const socket = join(dir, `${name}.sock`);
    const holder = { sent };
    const server = new ControlServer(socket, (c) => (c === "counters" ? { counters: { sent: holder.sent, received: {} } } : { error: "no" }), () => undefined);
    await server.start();
    return {
      server,
      socket,
      get sent() {
        return holder.sent;
      },
      set sent(v) {
        holder.sent = v;
      },
    };
  }

  test("sums every running daemon, keeps a stopped one's last reading, and never goes down when one restarts", async () => {
    const a = await daemon("a", { messages: 10, open: 1, update: 4, keepalive: 5, bytes: 400 });
    const b = await daemon("b", { messages: 3, open: 1, update: 1, keepalive: 1, bytes: 100 });
    const c = new RunCounters();
    try {
      const sources = [
        { name: "a", socket: a.socket, running: true },
        { name: "b", socket: b.socket, running: true },
      ];
      expect(await c.read(sources)).toEqual({ bgpMessages: { total: 13, open: 2, update: 5, keepalive: 6, notification: 0, routeRefresh: 0 }, bgpBytes: 500 });
      // b stops: its last reading still counts.
      expect((await c.read([sources[0]!, { ...sources[1]!, running: false }])).bgpMessages.total).toBe(13);
      // b restarts and counts from zero again: the earlier process's 3 messages are kept.
      b.sent = { messages: 2, open: 1, keepalive: 1, bytes: 60 };
      const r = await c.read(sources);
      expect(r.bgpMessages).toEqual({ total: 15, open: 3, update: 5, keepalive: 7, notification: 0, routeRefresh: 0 });
      expect(r.bgpBytes).toBe(560);
    } finally {
      await a.server.stop();
      await b.server.stop();
    }
  });

  test("a daemon that answers without counters is an error naming it", async () => {
    const socket = join(dir, "old.sock");
    const server = new ControlServer(socket, () => ({ error: "unknown command" }), () => undefined);
    await server.start();
    try {
      await expect(new RunCounters().read([{ name: "node-9", socket, running: true }])).rejects.toThrow(/node-9: no counters/);
    } finally {
      await server.stop();
    }
  });
});
