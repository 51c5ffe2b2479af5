// The birdcage speaker (the CLI daemon, in its own namespace) against FRR 8 (zebra + bgpd -n) over a
// veth pair: eBGP on IPv4 and IPv6 reaches Established, FRR's prefixes land in our Loc-RIB and kernel
// (protocol 201) and ours in FRR's table, our message counters agree with FRR's own, and the capture
// has no packet tshark calls malformed.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { chownSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { capture, describeInterop, closeLab, kernelRoutes, makeLab, peersOf, routesOf, runSpeaker, stateOf, tsharkCheck, until, writeFile, type Lab } from "./interop-lab.ts";
import type { PeerCounters } from "../../../src/core/bgp/index.ts";

const FRR = "/usr/lib/frr";
const describeFrr = describeInterop("FRR interop", [`${FRR}/bgpd`, `${FRR}/zebra`, "vtysh", "tcpdump", "tshark"]);

describeFrr("birdcage speaker <-> FRR in namespaces", () => {
  let lab: Lab | undefined;
  const children: ResultPromise[] = [];
  let speaker: ResultPromise | undefined;
  let sock = "";
  let cap: { stop: () => Promise<string> } | undefined;
  const vtysh = async (cmd: string): Promise<string> =>
    String((await execa("ip", ["netns", "exec", lab!.peer, "vtysh", "--vty_socket", lab!.dir, "-c", cmd], { reject: false, timeout: 10_000 })).stdout);
  const vtyshJson = async (cmd: string): Promise<Record<string, unknown>> => {
    try {
      return JSON.parse(await vtysh(cmd)) as Record<string, unknown>;
    } catch {
      return {};
    }
  };

  beforeAll(async () => {
    // FRR is passive towards 192.0.2.1, so the IPv4 session is always the one connection we open and
    // the counters test compares like with like: after a connection collision (RFC 4271 §6.8) our
    // counters include the losing connection's OPEN and Cease, while FRR drops the per-connection
    // peer it made for it, counters and all. The IPv6 session keeps both sides connecting.
    lab = await makeLab("frr");
    sock = join(lab.dir, "bc.sock");
    writeFile(lab, "zebra.conf", `hostname frr\nlog file ${join(lab.dir, "zebra.log")}\n`);
    writeFile(
      lab,
      "bgpd.conf",
      `frr defaults traditional
hostname frr
log file ${join(lab.dir, "bgpd.log")}
!
router bgp 64515
 bgp router-id 192.0.2.2
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor 192.0.2.1 remote-as 64512
 neighbor 192.0.2.1 passive
 neighbor 192.0.2.1 timers 3 9
 neighbor 2001:db8::1 remote-as 64512
 neighbor 2001:db8::1 timers 3 9
 neighbor 2001:db8::1 timers connect 1
 !
 address-family ipv4 unicast
  network 10.40.0.0/24
  neighbor 192.0.2.1 activate
  neighbor 192.0.2.1 route-map ALLOW in
  neighbor 192.0.2.1 route-map ALLOW out
 exit-address-family
 !
 address-family ipv6 unicast
  network 2001:db8:40::/48
  neighbor 2001:db8::1 activate
  neighbor 2001:db8::1 route-map ALLOW in
  neighbor 2001:db8::1 route-map ALLOW out
 exit-address-family
!
route-map ALLOW permit 10
!
`,
    );
    const bcConf = writeFile(
      lab,
      "bc.yaml",
      `asNumber: 64512
routerId: 192.0.2.1
listen: { address: "::", port: 179 }
import: all                       # eBGP: RFC 8212 denies without a policy
export: all
peers:
  - { address: 192.0.2.2, asNumber: 64515, holdTime: 9, connectRetryTime: 1 }
  - { address: "2001:db8::2", asNumber: 64515, holdTime: 9, connectRetryTime: 1 }
originate: [10.10.0.0/24, "2001:db8:10::/48"]
kernel: { install: true, netns: ${lab.bc} }
control: { socket: ${sock} }
`,
    );
    // FRR drops to user frr: it must own its directory (and reach it).
    execFileSync("chmod", ["755", lab.dir]);
    chownSync(lab.dir, Number(execFileSync("id", ["-u", "frr"]).toString().trim()), Number(execFileSync("id", ["-g", "frr"]).toString().trim()));
    cap = await capture(lab.bc, join(lab.dir, "frr.pcap"));
    const daemon = (name: string, extra: string[]): void => {
      const d = execa("ip", ["netns", "exec", lab!.peer, `${FRR}/${name}`, "-f", join(lab!.dir, `${name}.conf`), "-i", join(lab!.dir, `${name}.pid`), "-z", join(lab!.dir, "zserv.api"), "--vty_socket", lab!.dir, ...extra], {
        reject: false,
        timeout: 300_000,
      });
      children.push(d);
    };
    daemon("zebra", []);
    await until(async () => (await vtysh("show version")).includes("FRRouting"), "zebra up", 15_000).catch(() => undefined);
    daemon("bgpd", ["-n"]); // no FIB install: only the BGP table matters here
    speaker = runSpeaker(lab.bc, bcConf);
    children.push(speaker);
  }, 60_000);

  afterAll(async () => {
    await closeLab(lab, children, speaker, cap);
  }, 30_000);

  test("IPv4 and IPv6 sessions reach Established on both sides", async () => {
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established" && (await stateOf(sock, "2001:db8::2")) === "Established", "both sessions Established", 40_000);
    const summary = await vtyshJson("show bgp neighbors json");
    expect((summary["192.0.2.1"] as { bgpState?: string } | undefined)?.bgpState).toBe("Established");
    expect((summary["2001:db8::1"] as { bgpState?: string } | undefined)?.bgpState).toBe("Established");
  }, 60_000);

  test("FRR's prefixes land in our Loc-RIB and kernel (proto 201); ours land in FRR's table", async () => {
    await until(async () => {
      const r = await routesOf(sock);
      return r.some((x) => x.prefix === "10.40.0.0/24") && r.some((x) => x.prefix === "2001:db8:40::/48");
    }, "FRR's routes in the Loc-RIB");
    const routes = await routesOf(sock);
    expect(routes.find((r) => r.prefix === "10.40.0.0/24")).toMatchObject({ nextHop: "192.0.2.2", peer: "192.0.2.2", asPath: "64515", best: true });
    // FRR sends a 32-octet next hop (global + link-local) on a shared link; we use the global one.
    expect(routes.find((r) => r.prefix === "2001:db8:40::/48")).toMatchObject({ nextHop: "2001:db8::2", asPath: "64515", best: true });
    await until(async () => (await kernelRoutes(lab!.bc, 4)).includes("10.40.0.0/24 via 192.0.2.2") && (await kernelRoutes(lab!.bc, 6)).includes("2001:db8:40::/48 via 2001:db8::2"), "kernel routes");
    await until(async () => (await vtysh("show bgp ipv4 unicast 10.10.0.0/24")).includes("64512") && (await vtysh("show bgp ipv6 unicast 2001:db8:10::/48")).includes("64512"), "our routes in FRR");
    expect(await vtysh("show bgp ipv4 unicast 10.10.0.0/24")).toMatch(/192\.0\.2\.1 from 192\.0\.2\.1/);
  }, 60_000);

  test("our message counters agree with FRR's (OPENs, UPDATEs both ways)", async () => {
    type Stats = { opensSent: number; opensRecv: number; updatesSent: number; updatesRecv: number; keepalivesSent: number; keepalivesRecv: number };
    const theirs = async (): Promise<Stats | undefined> => ((await vtyshJson("show bgp neighbors 192.0.2.1 json"))["192.0.2.1"] as { messageStats?: Stats } | undefined)?.messageStats;
    const ours = async (): Promise<PeerCounters | undefined> => ((await peersOf(sock)).find((p) => p.address === "192.0.2.2") as unknown as { counters?: PeerCounters } | undefined)?.counters;
    // UPDATE counts settle once both tables are exchanged; keepalives keep moving, so they are not compared.
    let last = "";
    await until(async () => {
      const [t, o] = [await theirs(), await ours()];
      last = JSON.stringify({ frr: t, birdcage: o ? { sent: o.sent, received: o.received } : undefined });
      return !!t && !!o && t.updatesRecv === o.sent.update && t.updatesSent === o.received.update && t.opensSent === o.received.open && t.opensRecv === o.sent.open;
    }, "the counts to agree", 20_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${last}`);
    });
    const o = (await ours())!;
    expect(o.received.update).toBeGreaterThanOrEqual(2); // FRR's prefix and its End-of-RIB
    expect(o.received.prefixesAnnounced).toBeGreaterThanOrEqual(1);
    expect(o.sent.prefixesAnnounced).toBeGreaterThanOrEqual(1);
    expect(o.received.keepalive).toBeGreaterThanOrEqual(1);
  }, 40_000);

  test("the capture of the sessions has BGP and no packet tshark calls malformed", async () => {
    const file = await cap!.stop();
    cap = undefined;
    const r = await tsharkCheck(file);
    expect({ bgp: r.bgp > 6, stderr: r.stderr }).toEqual({ bgp: true, stderr: "" });
    expect(r.malformed).toBe("");
  }, 60_000);

  test("SIGTERM: Cease to FRR, our kernel routes flushed", async () => {
    speaker!.kill("SIGTERM");
    expect((await speaker!).exitCode).toBe(0);
    expect(await kernelRoutes(lab!.bc, 4)).toBe("");
    await until(async () => ((await vtyshJson("show bgp neighbors json"))["192.0.2.1"] as { bgpState?: string } | undefined)?.bgpState !== "Established", "FRR sees the session down", 15_000);
    expect(await vtysh("show bgp neighbors 192.0.2.1")).toMatch(/Cease|Administrative Shutdown|Notification/i);
  }, 30_000);
});
