import { describe, expect, test } from "@jest/globals";
import {
  assignFromBlock,
  attributeJson,
  freeCount,
  makeAttribute,
  newBlock,
  ordinalAddress,
  parseBlock,
  releaseFromBlock,
  serializeBlock,
} from "../../../src/core/ipam/block.ts";
import { affinityKey, blockKey, handleKey, parseAffinityKey, parseBlockKey } from "../../../src/core/ipam/keys.ts";
import { parsePrefix } from "../../../src/core/net/ip.ts";

const cidr = parsePrefix("10.1.3.0/26");
const fresh = () => newBlock(cidr, "10.1.3.0/26", "host:node-1", "2026-01-01T00:00:00.000Z", 1000);
const pod = (n: number) => makeAttribute(`k8s-pod-network.c${n}`, { pod: `p${n}`, namespace: "default", node: "node-1" });

describe("datastore keys (Calico's etcd layout)", () => {
  test("block, affinity and handle keys", () => {
    expect(blockKey(cidr)).toBe("/calico/ipam/v2/assignment/ipv4/block/10.1.3.0-26");
    expect(affinityKey("node-1", cidr)).toBe("/calico/ipam/v2/host/node-1/ipv4/block/10.1.3.0-26");
    expect(handleKey("k8s-pod-network.abc")).toBe("/calico/ipam/v2/handle/k8s-pod-network.abc");
    expect(blockKey(parsePrefix("fd00::/122"))).toBe("/calico/ipam/v2/assignment/ipv6/block/fd00::-122");
    expect(parseBlockKey("/calico/ipam/v2/assignment/ipv4/block/10.1.3.0-26")).toEqual(cidr);
    expect(parseAffinityKey("/calico/ipam/v2/host/node-1/ipv4/block/10.1.3.0-26")).toEqual({ host: "node-1", cidr });
    expect(parseAffinityKey("/calico/ipam/v2/host/node-1")).toBeUndefined();
  });
});

describe("allocation block", () => {
  test("a new block has every ordinal free, in order, and serialises as Calico's AllocationBlock", () => {
    const b = fresh();
    expect(freeCount(b)).toBe(64);
    const obj = JSON.parse(serializeBlock(b));
    expect(obj).toEqual({
      cidr: "10.1.3.0/26",
      affinity: "host:node-1",
      affinity_claim_time: "2026-01-01T00:00:00.000Z",
      allocations: new Array(64).fill(null),
      unallocated: Array.from({ length: 64 }, (_, i) => i),
      attributes: [],
      sequenceNumber: 1000,
      sequenceNumberForAllocation: {},
      deleted: false,
    });
  });

  test("assignment pops the head of the free list (the .0 address first) and records attributes", () => {
    const { block, ordinals } = assignFromBlock(fresh(), 2, "node-1", pod(1), true);
    expect(ordinals).toEqual([0, 1]);
    expect(ordinalAddress(block, 1)).toBe("10.1.3.1");
    const obj = JSON.parse(serializeBlock(block));
    expect(obj.allocations.slice(0, 3)).toEqual([0, 0, null]);
    expect(obj.unallocated[0]).toBe(2);
    expect(obj.attributes).toEqual([{ handle_id: "k8s-pod-network.c1", secondary: { namespace: "default", node: "node-1", pod: "p1" } }]);
    expect(obj.sequenceNumberForAllocation).toEqual({ "0": 1000, "1": 1000 });
  });

  test("an attribute's memoised JSON is exactly JSON.stringify of it, keys sorted as Go marshals maps", () => {
    const a = makeAttribute('k8s-pod-network.q"x\\', { pod: "p\n1", namespace: "ns", "zz/key": "v", node: "n" });
    expect(Object.keys(a.secondary!)).toEqual(["namespace", "node", "pod", "zz/key"]);
    expect(attributeJson(a)).toBe(JSON.stringify(a));
    expect(attributeJson(makeAttribute(undefined, { type: "ipipTunnelAddress" }))).toBe('{"secondary":{"type":"ipipTunnelAddress"}}');
    expect(attributeJson(makeAttribute("h", {}))).toBe('{"handle_id":"h"}');
  });

  test("identical attributes are shared, different ones appended", () => {
    let b = assignFromBlock(fresh(), 1, "node-1", pod(1), true).block;
    b = assignFromBlock(b, 1, "node-1", pod(1), true).block;
    b = assignFromBlock(b, 1, "node-1", pod(2), true).block;
    expect(b.attributes.length).toBe(2);
    expect(b.allocations.slice(0, 3)).toEqual([0, 0, 1]);
  });

  test("release appends to the tail (FIFO) and compacts unreferenced attributes", () => {
    let b = fresh();
    for (let i = 0; i < 64; i++) b = assignFromBlock(b, 1, "node-1", pod(i), true).block;
    expect(freeCount(b)).toBe(0);
    const r = releaseFromBlock(b, [{ ordinal: 10 }, { ordinal: 5 }]);
    expect(r.released).toEqual([10, 5]);
    expect(r.block.unallocated).toEqual([10, 5]);
    expect(r.handles).toEqual(new Map([["k8s-pod-network.c10", 1], ["k8s-pod-network.c5", 1]]));
    expect(r.block.attributes.length).toBe(62);
    // the attribute of ordinal 11 moved down two places after compaction, and still names c11
    expect(r.block.attributes[r.block.allocations[11]!]?.handle_id).toBe("k8s-pod-network.c11");
    const next = assignFromBlock(r.block, 1, "node-1", pod(99), true);
    expect(next.ordinals).toEqual([10]);
    const again = releaseFromBlock(r.block, [{ ordinal: 10 }]);
    expect(again.released).toEqual([]);
    expect(again.notAllocated).toEqual([10]);
  });

  test("release checks the handle and sequence number when asked", () => {
    const b = assignFromBlock(fresh(), 1, "node-1", pod(1), true).block;
    expect(() => releaseFromBlock(b, [{ ordinal: 0, handleId: "other" }])).toThrow(/not assigned to handle other/);
    expect(() => releaseFromBlock(b, [{ ordinal: 0, sequenceNumber: 999 }])).toThrow(/sequence number 1000, not 999/);
    expect(releaseFromBlock(b, [{ ordinal: 0, handleId: "k8s-pod-network.c1", sequenceNumber: 1000 }]).released).toEqual([0]);
  });

  test("strict affinity refuses to assign from a block affine to another host", () => {
    expect(() => assignFromBlock(fresh(), 1, "node-2", pod(1), true)).toThrow(/not affine to host node-2/);
    expect(assignFromBlock(fresh(), 1, "node-2", pod(1), false).ordinals).toEqual([0]);
  });

  test("serialisation round-trips and equals JSON.stringify of the same fields", () => {
    let b = fresh();
    for (let i = 0; i < 5; i++) b = assignFromBlock(b, 1, "node-1", pod(i), true).block;
    b = releaseFromBlock(b, [{ ordinal: 2 }]).block;
    const text = serializeBlock(b);
    const back = parseBlock(blockKey(cidr), text);
    expect(serializeBlock(back)).toBe(text);
    expect(JSON.stringify(JSON.parse(text))).toBe(text);
    expect(back.unallocated.slice(-1)).toEqual([2]);
  });

  test("corrupt blocks are rejected with the key named", () => {
    const key = blockKey(cidr);
    expect(() => parseBlock(key, "{")).toThrow(/block \/calico\/ipam\/v2\/assignment\/ipv4\/block\/10.1.3.0-26: invalid JSON/);
    const obj = JSON.parse(serializeBlock(fresh()));
    expect(() => parseBlock(key, JSON.stringify({ ...obj, cidr: "10.9.9.0/26" }))).toThrow(/does not match the key/);
    expect(() => parseBlock(key, JSON.stringify({ ...obj, allocations: [0, ...obj.allocations.slice(1)] }))).toThrow(/missing attribute/);
    expect(() => parseBlock(key, JSON.stringify({ ...obj, unallocated: [0, 0] }))).toThrow(/repeated ordinal/);
  });
});
