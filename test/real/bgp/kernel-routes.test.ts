// The kernel route writer against a real kernel: a test namespace with a veth pair, 1,000 routes
// installed through apply(), replaced, removed and flushed, with routes of other protocols present.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { parseIP, parsePrefix, type Prefix } from "../../../src/core/net/ip.ts";
import type { RouteEntry } from "../../../src/core/bgp/ports.ts";
import { DEFAULT_ROUTE_PROTOCOL, KernelRouteWriter, type RouteWriteError } from "../../../real/bgp/kernel-routes.ts";
import { addNetns, delNetns, describeWithNetns, ip, testNetnsName } from "../../helpers/netns.ts";

const ns = testNetnsName("routes");
const PROTO = DEFAULT_ROUTE_PROTOCOL;

interface JsonRoute {
  dst: string;
  type?: string;
  gateway?: string;
  protocol?: string;
  metric?: number;
  nexthops?: { gateway: string }[];
}

async function routes(family: "-4" | "-6", ...filter: string[]): Promise<JsonRoute[]> {
  return JSON.parse(await ip("-n", ns, family, "-j", "route", "show", ...filter)) as JsonRoute[];
}
const ours = async (): Promise<JsonRoute[]> => [...(await routes("-4", "proto", String(PROTO))), ...(await routes("-6", "proto", String(PROTO)))];
const view = (r: JsonRoute): string =>
  `${r.type === "blackhole" ? "blackhole " : ""}${r.dst}${r.gateway ? ` via ${r.gateway}` : ""}${r.nexthops ? ` ecmp ${r.nexthops.map((h) => h.gateway).join(",")}` : ""}`;

const v4 = (i: number): Prefix => parsePrefix(`10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`);
const via = (...a: string[]): RouteEntry["nextHops"] => a.map(parseIP);

describeWithNetns("kernel route writer tests")("KernelRouteWriter in a namespace", () => {
  const errors: RouteWriteError[] = [];
  let w: KernelRouteWriter;

  beforeAll(async () => {
    await delNetns(ns);
    await addNetns(ns);
    await ip("-n", ns, "link", "add", "bct0", "type", "veth", "peer", "name", "bct1");
    await ip("-n", ns, "link", "set", "bct0", "up");
    await ip("-n", ns, "link", "set", "bct1", "up");
    await ip("-n", ns, "addr", "add", "10.99.0.1/24", "dev", "bct0");
    await ip("-n", ns, "addr", "add", "2001:db8:99::1/64", "dev", "bct0", "nodad");
    // Routes that are not ours: BIRD's (proto 12), boot (ip route add) and static.
    await ip("-n", ns, "route", "add", "10.200.0.0/24", "via", "10.99.0.9", "proto", "bird");
    await ip("-n", ns, "route", "add", "10.201.0.0/24", "via", "10.99.0.9");
    await ip("-n", ns, "route", "add", "blackhole", "10.202.0.0/24", "proto", "static");
    await ip("-n", ns, "-6", "route", "add", "2001:db8:200::/64", "via", "2001:db8:99::9", "proto", "bird");
    // Same prefix as one of ours, another protocol, another metric: must survive our remove and flush.
    await ip("-n", ns, "route", "add", "10.100.0.5/32", "via", "10.99.0.9", "proto", "bird", "metric", "50");
    w = new KernelRouteWriter({ netns: ns, onError: (e) => errors.push(e) });
  });

  afterAll(async () => {
    await delNetns(ns);
  });

  // (`ip -j route show` leaves "proto boot" out, so ask for each protocol by name.)
  const others = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const proto of ["bird", "boot", "static"]) {
      for (const fam of ["-4", "-6"] as const) out.push(...(await routes(fam, "proto", proto)).map((r) => `${proto} ${view(r)}${r.metric ? ` metric ${r.metric}` : ""}`));
    }
    return out.sort();
  };
  let othersBefore: string[] = [];

  test("1,000 routes: IPv4 and IPv6, unicast, blackhole and ECMP, applied in batches", async () => {
    othersBefore = await others();
    expect(othersBefore).toHaveLength(5);
    const add: RouteEntry[] = [];
    for (let i = 0; i < 990; i++) add.push({ prefix: v4(i), kind: "unicast", nextHops: via("10.99.0.2") });
    add.push({ prefix: parsePrefix("10.110.0.0/26"), kind: "blackhole", nextHops: [] });
    add.push({ prefix: parsePrefix("10.110.1.0/24"), kind: "unicast", nextHops: via("10.99.0.2", "10.99.0.3") });
    add.push({ prefix: parsePrefix("10.110.2.0/24"), kind: "unicast", nextHops: via("10.99.0.2", "10.99.0.3", "10.99.0.4") });
    add.push({ prefix: parsePrefix("2001:db8:1::/122"), kind: "unicast", nextHops: via("2001:db8:99::2") });
    add.push({ prefix: parsePrefix("2001:db8:2::/64"), kind: "blackhole", nextHops: [] });
    add.push({ prefix: parsePrefix("2001:db8:3::/64"), kind: "unicast", nextHops: via("2001:db8:99::2", "2001:db8:99::3") });
    for (let i = 0; i < 4; i++) add.push({ prefix: parsePrefix(`2001:db8:10:${i}::/64`), kind: "unicast", nextHops: via("2001:db8:99::5") });
    expect(add).toHaveLength(1000);
    // Several apply() calls in one tick, as the speaker makes them, join one batch.
    for (let i = 0; i < add.length; i += 100) w.apply({ add: add.slice(i, i + 100), remove: [] });
    await w.settled();
    expect(errors).toEqual([]);
    expect(w.stats.batches).toBe(1);
    const got = (await ours()).map(view);
    expect(got).toHaveLength(1000);
    expect(got).toContain("10.100.0.0 via 10.99.0.2");
    expect(got).toContain("10.100.3.221 via 10.99.0.2");
    expect(got).toContain("blackhole 10.110.0.0/26");
    expect(got).toContain("10.110.1.0/24 ecmp 10.99.0.2,10.99.0.3");
    expect(got).toContain("10.110.2.0/24 ecmp 10.99.0.2,10.99.0.3,10.99.0.4");
    expect(got).toContain("2001:db8:1::/122 via 2001:db8:99::2");
    expect(got).toContain("blackhole 2001:db8:2::/64");
    expect(got).toContain("2001:db8:3::/64 ecmp 2001:db8:99::2,2001:db8:99::3");
    expect(await others()).toEqual(othersBefore);
  });

  test("replace: new next hops, unicast to blackhole and back, in place (no duplicates)", async () => {
    const add: RouteEntry[] = [];
    for (let i = 0; i < 100; i++) add.push({ prefix: v4(i), kind: "unicast", nextHops: via("10.99.0.7") });
    add.push({ prefix: parsePrefix("10.110.0.0/26"), kind: "unicast", nextHops: via("10.99.0.2") });
    add.push({ prefix: parsePrefix("10.110.1.0/24"), kind: "blackhole", nextHops: [] });
    add.push({ prefix: parsePrefix("2001:db8:3::/64"), kind: "unicast", nextHops: via("2001:db8:99::4") });
    w.apply({ add, remove: [] });
    await w.settled();
    expect(errors).toEqual([]);
    const got = (await ours()).map(view);
    expect(got).toHaveLength(1000);
    expect(got).toContain("10.100.0.5 via 10.99.0.7");
    expect(got).toContain("10.100.0.99 via 10.99.0.7");
    expect(got).toContain("10.100.0.100 via 10.99.0.2");
    expect(got).toContain("10.110.0.0/26 via 10.99.0.2");
    expect(got).toContain("blackhole 10.110.1.0/24");
    expect(got).toContain("2001:db8:3::/64 via 2001:db8:99::4");
  });

  test("remove: exactly the named prefixes; already-gone ones are not errors; other protocols untouched", async () => {
    const remove: Prefix[] = [];
    for (let i = 0; i < 500; i++) remove.push(v4(i));
    remove.push(parsePrefix("2001:db8:2::/64"), parsePrefix("10.200.0.0/24"), parsePrefix("10.201.0.0/24"), parsePrefix("10.250.0.0/24"));
    w.apply({ add: [], remove });
    await w.settled();
    expect(errors).toEqual([]);
    const got = (await ours()).map(view);
    expect(got).toHaveLength(499);
    expect(got).not.toContain("10.100.0.5 via 10.99.0.7");
    expect(got).toContain("10.100.1.244 via 10.99.0.2"); // i = 500
    expect(got).not.toContain("blackhole 2001:db8:2::/64");
    expect(await others()).toEqual(othersBefore);
  });

  test("a route the kernel refuses is reported with its prefix; the rest of the batch is applied", async () => {
    const before = errors.length;
    w.apply({
      add: [
        { prefix: parsePrefix("10.120.0.0/24"), kind: "unicast", nextHops: via("192.168.77.1") }, // no route to the gateway
        { prefix: parsePrefix("10.120.1.0/24"), kind: "unicast", nextHops: via("10.99.0.2") },
      ],
      remove: [],
    });
    await w.settled();
    expect(errors.slice(before)).toEqual([
      { op: "replace", prefix: "10.120.0.0/24", command: `route replace 10.120.0.0/24 via 192.168.77.1 proto ${PROTO}`, message: expect.stringMatching(/gateway|unreachable/i) },
    ]);
    expect((await ours()).map(view)).toContain("10.120.1.0/24 via 10.99.0.2");
    errors.length = before;
  });

  test("write() reports a batch's outcome directly", async () => {
    const r = await w.write({ add: [{ prefix: parsePrefix("10.121.0.0/24"), kind: "blackhole", nextHops: [] }], remove: [parsePrefix("10.120.1.0/24")] });
    expect(r).toMatchObject({ commands: 2, errors: [] });
    const got = (await ours()).map(view);
    expect(got).toContain("blackhole 10.121.0.0/24");
    expect(got).not.toContain("10.120.1.0/24 via 10.99.0.2");
  });

  test("flush removes every route with our protocol and nothing else", async () => {
    expect((await ours()).length).toBeGreaterThan(400);
    expect(await w.flush()).toEqual([]);
    expect(await ours()).toEqual([]);
    expect(await others()).toEqual(othersBefore);
  });

  test("another protocol number and table are honoured", async () => {
    const w2 = new KernelRouteWriter({ netns: ns, protocol: 222, table: 100 });
    w2.apply({ add: [{ prefix: parsePrefix("10.130.0.0/24"), kind: "unicast", nextHops: via("10.99.0.2") }], remove: [] });
    await w2.settled();
    expect((await routes("-4", "table", "100", "proto", "222")).map(view)).toEqual(["10.130.0.0/24 via 10.99.0.2"]);
    expect(await ours()).toEqual([]);
    await w2.flush();
    expect(await routes("-4", "table", "100")).toEqual([]);
  });

  test("refuses BIRD's and boot's protocol numbers and bad namespace names", () => {
    expect(() => new KernelRouteWriter({ protocol: 12 })).toThrow(/BIRD/);
    expect(() => new KernelRouteWriter({ protocol: 3 })).toThrow(/boot/);
    expect(() => new KernelRouteWriter({ protocol: 256 })).toThrow(/1-255/);
    expect(() => new KernelRouteWriter({ netns: "a b" })).toThrow(/namespace/);
  });
});
