// The FIB: longest-prefix match over IPv4 and IPv6, owners per prefix, shared entries, ECMP hashing.
import { describe, expect, test } from "@jest/globals";
import { EntryInterner, Fib, flowHash, pickNextHop, type FibEntry } from "../../../sim/net/fib.ts";
import { formatPrefix, parseIP, parsePrefix } from "../../../src/core/net/ip.ts";

const P = (s: string) => parsePrefix(s);
const via = (nh: string, owner: FibEntry["owner"] = "agent"): FibEntry => ({ kind: "unicast", nextHops: [parseIP(nh)], encap: "none", owner, source: owner === "agent" ? "bgp" : "static" });
const nhOf = (e: FibEntry | undefined) => (e === undefined ? undefined : e.nextHops.map((h) => h.value.toString()).join(","));

describe("Fib longest-prefix match", () => {
  test("IPv4: the most specific of /0, /16, /24, /26, /32 wins; matchedLen says which", () => {
    const f = new Fib();
    f.set(P("0.0.0.0/0"), via("192.168.1.1"));
    f.set(P("10.1.0.0/16"), via("192.168.1.2"));
    f.set(P("10.1.3.0/24"), via("192.168.1.3"));
    f.set(P("10.1.3.0/26"), via("192.168.1.4"));
    f.set(P("10.1.3.5/32"), via("192.168.1.5"));
    const at = (a: string) => {
      const e = f.lookup(parseIP(a));
      return [e?.nextHops[0] !== undefined ? String(Number(e.nextHops[0].value) & 255) : undefined, f.matchedLen];
    };
    expect(at("10.1.3.5")).toEqual(["5", 32]);
    expect(at("10.1.3.6")).toEqual(["4", 26]);
    expect(at("10.1.3.64")).toEqual(["3", 24]);
    expect(at("10.1.200.1")).toEqual(["2", 16]);
    expect(at("8.8.8.8")).toEqual(["1", 0]);
    expect(at("255.255.255.255")).toEqual(["1", 0]);
    expect(f.size).toBe(5);
  });

  test("addresses with the top bit set (int32 keys are negative) match their prefixes", () => {
    const f = new Fib();
    f.set(P("192.168.0.0/16"), via("10.0.0.1"));
    f.set(P("255.255.255.0/24"), via("10.0.0.2"));
    expect(nhOf(f.lookup(parseIP("192.168.77.1")))).toBe(String(parseIP("10.0.0.1").value));
    expect(nhOf(f.lookup(parseIP("255.255.255.255")))).toBe(String(parseIP("10.0.0.2").value));
    expect(f.lookup(parseIP("127.0.0.1"))).toBeUndefined();
    expect(f.matchedLen).toBe(-1);
  });

  test("IPv6 and IPv4 tables are separate", () => {
    const f = new Fib();
    f.set(P("::/0"), via("fd00::1"));
    f.set(P("fd00:10::/64"), via("fd00::2"));
    f.set(P("fd00:10::/122"), via("fd00::3"));
    expect(nhOf(f.lookup(parseIP("fd00:10::5")))).toBe(String(parseIP("fd00::3").value));
    expect(f.matchedLen).toBe(122);
    expect(nhOf(f.lookup(parseIP("fd00:10::1:0")))).toBe(String(parseIP("fd00::2").value));
    expect(f.lookup(parseIP("10.0.0.1"))).toBeUndefined();
    expect(f.lookup(parseIP("2001:db8::1"))?.nextHops[0]).toEqual(parseIP("fd00::1"));
  });

  test("removing the last route of a length falls back to shorter ones", () => {
    const f = new Fib();
    f.set(P("10.0.0.0/8"), via("1.1.1.1"));
    f.set(P("10.1.0.0/16"), via("2.2.2.2"));
    expect(f.lookup(parseIP("10.1.0.1"))?.nextHops[0]).toEqual(parseIP("2.2.2.2"));
    expect(f.delete(P("10.1.0.0/16"), "agent")).toBe(true);
    expect(f.delete(P("10.1.0.0/16"), "agent")).toBe(false);
    expect(f.lookup(parseIP("10.1.0.1"))?.nextHops[0]).toEqual(parseIP("1.1.1.1"));
    expect(f.matchedLen).toBe(8);
    expect(f.size).toBe(1);
  });

  test("several owners of one prefix: the preferred one is active, removing it uncovers the next", () => {
    const f = new Fib();
    f.set(P("10.1.3.0/26"), via("192.168.1.2", "bgp"));
    f.set(P("10.1.3.0/26"), via("192.168.1.3", "static"));
    expect(f.get(P("10.1.3.0/26"))?.owner).toBe("static");
    expect(f.getAll(P("10.1.3.0/26")).map((e) => e.owner)).toEqual(["static", "bgp"]);
    expect(f.size).toBe(2);
    // Replacing the same owner's route does not add one.
    f.set(P("10.1.3.0/26"), via("192.168.1.4", "static"));
    expect(f.size).toBe(2);
    expect(f.lookup(parseIP("10.1.3.1"))?.nextHops[0]).toEqual(parseIP("192.168.1.4"));
    expect(f.delete(P("10.1.3.0/26"), "agent")).toBe(false);
    expect(f.delete(P("10.1.3.0/26"), "static")).toBe(true);
    expect(f.lookup(parseIP("10.1.3.1"))?.owner).toBe("bgp");
  });

  test("IPv6 owners too; tables with their own registry", () => {
    const f = new Fib(new EntryInterner());
    f.set(P("fd00:10::/122"), via("fd00::2", "bgp"));
    f.set(P("fd00:10::/122"), via("fd00::1", "static"));
    expect(f.lookup(parseIP("fd00:10::1"))?.owner).toBe("static");
    expect(f.delete(P("fd00:10::/122"), "static")).toBe(true);
    expect(f.lookup(parseIP("fd00:10::1"))?.owner).toBe("bgp");
    expect(f.delete(P("fd00:10::/122"), "static")).toBe(false);
    expect(f.delete(P("fd00:10::/122"), "bgp")).toBe(true);
    expect(f.lookup(parseIP("fd00:10::1"))).toBeUndefined();
    expect(f.size).toBe(0);
  });

  test("entries lists active routes with their prefixes; gen moves on every change", () => {
    const f = new Fib();
    const g0 = f.gen;
    f.set(P("10.1.3.0/26"), via("192.168.1.2"));
    f.set(P("200.0.0.0/8"), via("192.168.1.2"));
    f.set(P("fd00::/64"), via("fd00::1"));
    expect(f.gen).toBeGreaterThan(g0);
    expect([...f.entries()].map((x) => formatPrefix(x.prefix)).sort()).toEqual(["10.1.3.0/26", "200.0.0.0/8", "fd00::/64"]);
    const g1 = f.gen;
    f.delete(P("200.0.0.0/8"), "agent");
    expect(f.gen).toBeGreaterThan(g1);
  });
});

describe("shared entries and ECMP", () => {
  test("the interner gives one frozen object for equal routes", () => {
    const i = new EntryInterner();
    const a = i.intern(via("192.168.1.2"));
    const b = i.intern(via("192.168.1.2"));
    const c = i.intern({ ...via("192.168.1.2"), encap: "ipip" });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(Object.isFrozen(a)).toBe(true);
    expect(i.size).toBe(2);
    // route() by parts gives the same shared objects, on its fast path (one IPv4 hop) and off it.
    expect(i.route("unicast", [parseIP("192.168.1.2")], "none", "agent", "bgp")).toBe(a);
    expect(i.route("unicast", [parseIP("192.168.1.2")], "ipip", "agent", "bgp")).toBe(c);
    expect(i.route("unicast", [parseIP("192.168.1.2")], "ipip", "bgp", "bgp")).not.toBe(c);
    const two = i.route("unicast", [parseIP("192.168.1.2"), parseIP("192.168.1.3")], "none", "agent", "bgp");
    expect(i.intern({ kind: "unicast", nextHops: [parseIP("192.168.1.2"), parseIP("192.168.1.3")], encap: "none", owner: "agent", source: "bgp" })).toBe(two);
    expect(i.route("local", [], "none", "workload", "workload", "cali1")).toEqual({ kind: "local", nextHops: [], encap: "none", owner: "workload", source: "workload", device: "cali1" });
  });

  test("flowHash is deterministic per 5-tuple and spreads flows over next hops", () => {
    const e: FibEntry = { kind: "unicast", nextHops: ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map(parseIP), encap: "none", owner: "agent", source: "bgp" };
    const src = parseIP("10.1.1.5").value;
    const dst = parseIP("10.1.3.5").value;
    expect(flowHash(src, dst, 6, 40000, 80)).toBe(flowHash(src, dst, 6, 40000, 80));
    expect(flowHash(src, dst, 6, 40000, 80)).not.toBe(flowHash(src, dst, 6, 40001, 80));
    const counts = new Map<bigint, number>();
    for (let port = 30000; port < 33000; port++) {
      const nh = pickNextHop(e, flowHash(src, dst, 6, port, 80))!;
      counts.set(nh.value, (counts.get(nh.value) ?? 0) + 1);
    }
    expect(counts.size).toBe(3);
    for (const n of counts.values()) expect(n).toBeGreaterThan(700); // 1000 each if even
    // IPv6 addresses hash over all their words.
    expect(flowHash(parseIP("fd00::1").value, parseIP("fd00::2").value, 17)).not.toBe(flowHash(parseIP("fd01::1").value, parseIP("fd00::2").value, 17));
  });
});
