// IPAM under real concurrency: 8 hosts, each an Ipam client with its own etcd connection, allocating
// at the same time from one etcd. Every address must be handed out once, and the blocks in etcd must
// say exactly what the clients said they handed out.
import { afterEach, describe, expect, test } from "@jest/globals";
import { EtcdDatastore } from "../../../real/datastore/etcd.ts";
import { compareWithDatastore, duplicateAddresses, runIpamLoad } from "../../../real/ipam-load.ts";
import type { AllocatorHost, IpamLoadResult } from "../../../real/ipam-load.ts";
import { checkIpam } from "../../../src/core/ipam/index.ts";
import { describeWithEtcd } from "../../helpers/etcd.ts";

const HOSTS = 8;
let nsCounter = 0;

describeWithEtcd("IPAM on etcd with 8 concurrent hosts", (etcd) => {
  const stores: EtcdDatastore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  /** One namespace for the run; one client (connection) per host plus one for checking. */
  const connect = (): { hosts: AllocatorHost[]; checker: EtcdDatastore } => {
    const namespace = `ipam-race-${process.pid}-${nsCounter++}`;
    const open = () => {
      const s = new EtcdDatastore({ endpoints: etcd.endpoint(), namespace, requestTimeoutMs: 20_000 });
      stores.push(s);
      return s;
    };
    return { hosts: Array.from({ length: HOSTS }, (_, i) => ({ host: `node-${i + 1}`, store: open() })), checker: open() };
  };

  async function expectConsistent(checker: EtcdDatastore, r: IpamLoadResult): Promise<void> {
    expect([...duplicateAddresses(r.allocations).keys()]).toEqual([]);
    const d = await compareWithDatastore(checker, r.allocations);
    expect(d).toEqual({ missing: [], extra: [], wrongHandle: [], wrongAffinity: [] });
    const report = await checkIpam(checker, { liveHandles: r.allocations.map((a) => a.handleId) });
    expect(report.leaked).toEqual([]);
    expect(report.handleMismatches).toEqual([]);
    expect(report.affinityMismatches).toEqual([]);
    expect(report.ok).toBe(true);
  }

  test("a /16 pool with /26 blocks: 8 x 640 = 5,120 addresses, no duplicates, etcd agrees", async () => {
    const { hosts, checker } = connect();
    const r = await runIpamLoad({ hosts, pools: [{ name: "big", cidr: "10.1.0.0/16", blockSize: 26 }], perHost: 640 });
    expect(r.allocations).toHaveLength(HOSTS * 640);
    await expectConsistent(checker, r);
    // Plenty of room: every host keeps to its own blocks.
    expect(r.allocations.filter((a) => a.borrowed)).toEqual([]);
    const hostsPerBlock = new Map<string, Set<string>>();
    for (const a of r.allocations) {
      const block = a.address.split(".").slice(0, 3).join(".") + "/" + (Number(a.address.split(".")[3]) >> 6);
      hostsPerBlock.set(block, (hostsPerBlock.get(block) ?? new Set()).add(a.host));
    }
    for (const holders of hostsPerBlock.values()) expect(holders.size).toBe(1);
  }, 240_000);

  test("a tiny pool (/24 = four /26 blocks) drained by 8 hosts with 2 workers each: all 256 handed out once, with borrowing", async () => {
    const { hosts, checker } = connect();
    const r = await runIpamLoad({ hosts, pools: [{ name: "tiny", cidr: "10.9.0.0/24", blockSize: 26 }], perHost: "untilExhausted", workersPerHost: 2 });
    expect(r.allocations).toHaveLength(256);
    expect(new Set(r.allocations.map((a) => a.address)).size).toBe(256);
    expect(r.exhaustedWorkers).toBe(HOSTS * 2);
    // Four blocks, eight hosts: at least four hosts own no block and must have borrowed.
    const borrowers = new Set(r.allocations.filter((a) => a.borrowed).map((a) => a.host));
    expect(borrowers.size).toBeGreaterThanOrEqual(4);
    await expectConsistent(checker, r);
  }, 240_000);

  test("a small pool (/22 = sixteen /26 blocks) with 8 hosts x 2 workers taking 100 each: they contend for blocks, no duplicates", async () => {
    const { hosts, checker } = connect();
    const r = await runIpamLoad({ hosts, pools: [{ name: "small", cidr: "10.8.0.0/22", blockSize: 26 }], perHost: 100, workersPerHost: 2 });
    expect(r.allocations).toHaveLength(800);
    await expectConsistent(checker, r);
  }, 240_000);
});

describe("the load driver itself", () => {
  test("duplicateAddresses finds an address handed out twice", () => {
    const a = { host: "h1", handleId: "x", address: "10.0.0.1", borrowed: false, latencyMs: 1 };
    const dup = duplicateAddresses([a, { ...a, host: "h2", handleId: "y" }, { ...a, address: "10.0.0.2" }]);
    expect([...dup.keys()]).toEqual(["10.0.0.1"]);
    expect(dup.get("10.0.0.1")!.map((x) => x.host)).toEqual(["h1", "h2"]);
  });
});
