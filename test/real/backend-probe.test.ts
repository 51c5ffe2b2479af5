// Real-mode TCP/UDP probes and `df`: client A, router R, server B; A–R has MTU 1500, R–B 1400, so a
// 1450-byte packet fits A's own link and meets the small MTU one hop later. With df the client sets
// Don't Fragment (IP_PMTUDISC_DO): R cannot forward it and the probe is dropped, a packet bigger than
// A's own link is refused at once (EMSGSIZE); without df (IP_PMTUDISC_DONT) R fragments it and it
// arrives. The kernel's default (PMTU discovery, DF set) would drop the 1450-byte UDP datagram at R:
// the "df: false arrives" cases fail unless the option really is set.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { existsSync } from "node:fs";
import { exchange, PYTHON } from "../../real/backend-probe.ts";
import { addNetns, delNetns, describeWithNetns, ip, testNetnsName } from "../helpers/netns.ts";

const A = testNetnsName("dfa");
const R = testNetnsName("dfr");
const B = testNetnsName("dfb");

describeWithNetns("probe df tests")("TCP/UDP probes honour df", () => {
  beforeAll(async () => {
    if (!existsSync(PYTHON)) {
      if (process.env.CI === "true") throw new Error(`${PYTHON} is missing`);
      console.warn(`the df probes need ${PYTHON}: expecting the clear refusal instead`);
    }
    await delNetns(A, R, B);
    for (const n of [A, R, B]) await addNetns(n);
    await ip("link", "add", "bc-dfa0", "netns", A, "type", "veth", "peer", "name", "bc-dfr0", "netns", R);
    await ip("link", "add", "bc-dfr1", "netns", R, "type", "veth", "peer", "name", "bc-dfb0", "netns", B);
    await ip("-n", R, "link", "set", "bc-dfr1", "mtu", "1400");
    await ip("-n", B, "link", "set", "bc-dfb0", "mtu", "1400");
    await ip("-n", A, "address", "add", "10.201.1.2/24", "dev", "bc-dfa0");
    await ip("-n", R, "address", "add", "10.201.1.1/24", "dev", "bc-dfr0");
    await ip("-n", R, "address", "add", "10.201.2.1/24", "dev", "bc-dfr1");
    await ip("-n", B, "address", "add", "10.201.2.2/24", "dev", "bc-dfb0");
    for (const [n, dev] of [[A, "bc-dfa0"], [R, "bc-dfr0"], [R, "bc-dfr1"], [B, "bc-dfb0"]] as const) await ip("-n", n, "link", "set", dev, "up");
    await ip("-n", A, "route", "add", "default", "via", "10.201.1.1");
    await ip("-n", B, "route", "add", "default", "via", "10.201.2.1");
    await ip("netns", "exec", R, "sysctl", "-qw", "net.ipv4.ip_forward=1");
  }, 60_000);

  afterAll(async () => {
    await delNetns(A, R, B);
  });

  const probe = (protocol: "tcp" | "udp", size: number, df?: boolean, port = 5301) => exchange(protocol, A, B, "10.201.2.2", port, size, df);

  test("UDP: small packets arrive either way; 1450 bytes arrive without DF (fragmented at R) and are dropped with DF; 1600 bytes with DF are refused locally", async () => {
    if (!existsSync(PYTHON)) {
      await expect(probe("udp", 100, true)).rejects.toThrow(/needs \/usr\/bin\/python3 \(Node cannot set IP_MTU_DISCOVER/);
      return;
    }
    // The baseline: Node's client (the kernel's default, DF on what fits the first link) loses it at R.
    expect(await probe("udp", 1450, undefined, 5300)).toMatchObject({ delivered: false });
    await ip("-n", A, "route", "flush", "cache"); // forget the path MTU R reported
    expect(await probe("udp", 1450, false)).toMatchObject({ delivered: true });
    expect(await probe("udp", 1000, true)).toMatchObject({ delivered: true });
    expect(await probe("udp", 1000, false)).toMatchObject({ delivered: true });
    const dropped = await probe("udp", 1450, true, 5302);
    expect(dropped.delivered).toBe(false);
    // A remembers R's "fragmentation needed" now: the next DF datagram of that size is refused at once.
    expect(await probe("udp", 1450, true, 5303)).toMatchObject({ delivered: false, mtu: true, detail: "fail EMSGSIZE" });
    expect(await probe("udp", 1600, true, 5304)).toMatchObject({ delivered: false, mtu: true });
    expect(await probe("udp", 1600, false, 5304)).toMatchObject({ delivered: true });
  }, 120_000);

  test("TCP: the stream is cut to the path MTU whatever df says, so it arrives; the option is accepted", async () => {
    if (!existsSync(PYTHON)) return;
    expect(await probe("tcp", 1450, true, 5311)).toMatchObject({ delivered: true });
    expect(await probe("tcp", 1450, false, 5312)).toMatchObject({ delivered: true });
    expect(await probe("tcp", 100, undefined, 5313)).toMatchObject({ delivered: true });
  }, 120_000);
});
