import { describe, expect, test } from "@jest/globals";
import { Ipam, isIpamError } from "../../../src/core/ipam/index.ts";
import { json, newStore } from "./helpers.ts";

const pools = [{ name: "p", cidr: "10.1.0.0/24", blockSize: 28 }];

describe("assignIP (a given address, Calico's AssignIP)", () => {
  test("claims the address's block for the host when nobody has it, with handle and attributes", async () => {
    const ds = newStore();
    const ipam = new Ipam(ds, { pools });
    expect(await ipam.assignIP({ address: "10.1.0.37", host: "n1", handleId: "k8s-pod-network.default.fixed", attrs: { pod: "fixed", namespace: "default" } })).toEqual({ address: "10.1.0.37", borrowed: false });
    expect(await ipam.affineBlocks("n1")).toEqual(["10.1.0.32/28"]);
    expect(await ipam.lookup("10.1.0.37")).toMatchObject({ allocated: true, handleId: "k8s-pod-network.default.fixed", attributes: { node: "n1", pod: "fixed", namespace: "default" } });
    const block = (await json(ds, "/calico/ipam/v2/assignment/ipv4/block/10.1.0.32-28")) as { allocations: (number | null)[]; unallocated: number[] };
    expect(block.allocations[5]).toBe(0);
    expect(block.unallocated).not.toContain(5);
    expect(block.unallocated).toHaveLength(15);
    expect(await ipam.addressesByHandle("k8s-pod-network.default.fixed")).toEqual(["10.1.0.37"]);
    // The block's other addresses stay usable by autoAssign, which skips the taken one.
    const r = await ipam.autoAssign({ host: "n1", num4: 15 });
    expect(r.ipv4).not.toContain("10.1.0.37");
    expect(r.ipv4).toHaveLength(15);
    await ipam.releaseByHandle("k8s-pod-network.default.fixed");
    expect((await ipam.lookup("10.1.0.37")).allocated).toBe(false);
  });

  test("an address in another host's block is borrowed; in use, outside the pools, or strict affinity: refused", async () => {
    const ds = newStore();
    const ipam = new Ipam(ds, { pools });
    await ipam.assignIP({ address: "10.1.0.1", host: "n1" });
    expect(await ipam.assignIP({ address: "10.1.0.2", host: "n2", handleId: "h2" })).toEqual({ address: "10.1.0.2", borrowed: true });
    expect((await ipam.borrowedAddresses("n2")).map((b) => b.address)).toEqual(["10.1.0.2"]);
    const err = async (p: Promise<unknown>) => p.then(() => "ok", (e: unknown) => (isIpamError(e) ? e.message : String(e)));
    expect(await err(ipam.assignIP({ address: "10.1.0.2", host: "n1" }))).toBe("Address 10.1.0.2 already assigned in block 10.1.0.0/28");
    expect(await err(ipam.assignIP({ address: "10.9.0.2", host: "n1" }))).toBe("The provided IP address 10.9.0.2 is not in a configured pool");
    const strict = new Ipam(ds, { pools, config: { strictAffinity: true } });
    expect(await err(strict.assignIP({ address: "10.1.0.3", host: "n2" }))).toMatch(/not affine to host n2 \(strict affinity\)/);
  });
});
