// The birdcage speaker (the CLI daemon, in its own namespace) against GoBGP over a veth pair:
// eBGP on IPv4 and IPv6 reaches Established, GoBGP's prefixes land in our Loc-RIB and our kernel
// (protocol 201), ours in GoBGP's global RIB, a wrong peer AS and a short hold time get NOTIFICATION
// 2/2 and 2/6 (as tshark decodes them), and the capture has no packet tshark calls malformed.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { join } from "node:path";
import { capture, describeInterop, closeLab, kernelRoutes, makeLab, peersOf, routesOf, type PeerRow, runSpeaker, stateOf, tsharkCheck, until, writeFile, type Lab } from "./interop-lab.ts";

const describeGobgp = describeInterop("GoBGP interop", ["gobgpd", "gobgp", "tcpdump", "tshark"]);

describeGobgp("birdcage speaker <-> GoBGP in namespaces", () => {
  let lab: Lab | undefined;
  const children: ResultPromise[] = [];
  let speaker: ResultPromise | undefined;
  let sock = "";
  let gobgpLog = "";
  let gobgpConf = "";
  let gobgpd: ResultPromise | undefined;
  const startGobgpd = (): ResultPromise => {
    const d = execa("ip", ["netns", "exec", lab!.peer, "gobgpd", "-f", gobgpConf, "-p", "--pprof-disable", "--api-hosts", `127.0.0.1:${apiPort}`], { reject: false, timeout: 300_000 });
    children.push(d);
    d.stdout?.on("data", (x: Buffer) => (gobgpLog += String(x)));
    d.stderr?.on("data", (x: Buffer) => (gobgpLog += String(x)));
    return d;
  };
  let cap: { stop: () => Promise<string> } | undefined;
  // The gRPC API on loopback inside GoBGP's own namespace, so no other gobgpd can clash with it.
  const apiPort = 50051 + (process.pid % 1000);
  const gobgp = async (...args: string[]): Promise<string> =>
    String((await execa("ip", ["netns", "exec", lab!.peer, "gobgp", "-u", "127.0.0.1", "-p", String(apiPort), ...args], { reject: false, timeout: 10_000 })).stdout);

  beforeAll(async () => {
    lab = await makeLab("gobgp", [3, 4], [11, 12]);
    sock = join(lab.dir, "bc.sock");
    const neighbor = (addr: string, family: string, local: string, hold = 9, gr = false): string => `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${addr}"
    peer-as = 64512
  [neighbors.transport.config]
    local-address = "${local}"
  [neighbors.timers.config]
    hold-time = ${hold}
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "${family}"
${gr ? `    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 60
` : ""}`;
    const conf = writeFile(
      lab,
      "gobgpd.toml",
      `[global.config]
  as = 64514
  router-id = "192.0.2.2"
${neighbor("192.0.2.1", "ipv4-unicast", "192.0.2.2", 9, true)}${neighbor("2001:db8::1", "ipv6-unicast", "2001:db8::2")}${neighbor("192.0.2.11", "ipv4-unicast", "192.0.2.3")}${neighbor("192.0.2.12", "ipv4-unicast", "192.0.2.4", 10)}`,
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
  - { address: 192.0.2.2, asNumber: 64514, holdTime: 9, connectRetryTime: 1 }
  - { address: "2001:db8::2", asNumber: 64514, holdTime: 9, connectRetryTime: 1 }
  - { address: 192.0.2.3, asNumber: 65999, localAddress: 192.0.2.11, connectRetryTime: 1 }
  - { address: 192.0.2.4, asNumber: 64514, localAddress: 192.0.2.12, connectRetryTime: 1, minHoldTime: 30 }
originate: [10.10.0.0/24, "2001:db8:10::/48"]
kernel: { install: true, netns: ${lab.bc} }   # the daemon runs in it too; this takes the ip -n NS path
control: { socket: ${sock} }
`,
    );
    cap = await capture(lab.bc, join(lab.dir, "gobgp.pcap"));
    gobgpConf = conf;
    gobgpd = startGobgpd();
    speaker = runSpeaker(lab.bc, bcConf);
    children.push(speaker);
  }, 60_000);

  afterAll(async () => {
    await closeLab(lab, children, speaker, cap);
  }, 30_000);

  test("IPv4 and IPv6 sessions reach Established on both sides", async () => {
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established" && (await stateOf(sock, "2001:db8::2")) === "Established", "both sessions Established", 40_000);
    await until(async () => (await gobgp("neighbor")).split("\n").filter((l) => /Establ/.test(l)).length === 2, "GoBGP sees both Established");
  }, 60_000);

  test("GoBGP's prefixes land in our Loc-RIB and kernel (proto 201); ours land in GoBGP's RIB", async () => {
    await gobgp("global", "rib", "-a", "ipv4", "add", "10.30.0.0/24");
    await gobgp("global", "rib", "-a", "ipv6", "add", "2001:db8:30::/48");
    await until(async () => {
      const r = await routesOf(sock);
      return r.some((x) => x.prefix === "10.30.0.0/24") && r.some((x) => x.prefix === "2001:db8:30::/48");
    }, "GoBGP's routes in the Loc-RIB");
    const routes = await routesOf(sock);
    expect(routes.find((r) => r.prefix === "10.30.0.0/24")).toMatchObject({ nextHop: "192.0.2.2", peer: "192.0.2.2", asPath: "64514", best: true });
    expect(routes.find((r) => r.prefix === "2001:db8:30::/48")).toMatchObject({ nextHop: "2001:db8::2", asPath: "64514", best: true });
    await until(async () => (await kernelRoutes(lab!.bc, 4)).includes("10.30.0.0/24 via 192.0.2.2") && (await kernelRoutes(lab!.bc, 6)).includes("2001:db8:30::/48 via 2001:db8::2"), "kernel routes");
    await until(async () => (await gobgp("global", "rib", "-a", "ipv4")).includes("10.10.0.0/24") && (await gobgp("global", "rib", "-a", "ipv6")).includes("2001:db8:10::/48"), "our routes in GoBGP");
    const v4 = (await gobgp("global", "rib", "-a", "ipv4")).split("\n").find((l) => l.includes("10.10.0.0/24")) ?? "";
    expect(v4).toMatch(/192\.0\.2\.1\s+64512\s/);
    // A withdrawal on GoBGP's side leaves our Loc-RIB and kernel.
    await gobgp("global", "rib", "-a", "ipv4", "del", "10.30.0.0/24");
    await until(async () => !(await routesOf(sock)).some((r) => r.prefix === "10.30.0.0/24") && !(await kernelRoutes(lab!.bc, 4)).includes("10.30.0.0/24"), "withdrawal");
  }, 60_000);

  test("a wrong peer AS and a hold time under our minimum are refused (the 2/2 and 2/6 on the wire are checked with the capture)", async () => {
    let last: PeerRow[] = [];
    await until(async () => {
      last = await peersOf(sock);
      // After our 2/2 GoBGP idles and refuses reconnects, so the last error may be that; the
      // NOTIFICATIONs themselves are checked in the capture below.
      return last.find((p) => p.address === "192.0.2.3")?.lastError != null && /hold time 10 < 30/.test(last.find((p) => p.address === "192.0.2.4")?.lastError ?? "");
    }, "both refused", 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; ours: ${JSON.stringify(last)}; GoBGP: ${gobgpLog.split("\n").filter((l) => /192\.0\.2\.1[12]/.test(l)).slice(-6).join("\n")}`);
    });
  }, 60_000);

  test("the capture of the sessions has BGP and no packet tshark calls malformed", async () => {
    const file = await cap!.stop();
    cap = undefined;
    const r = await tsharkCheck(file);
    expect({ bgp: r.bgp > 10, stderr: r.stderr }).toEqual({ bgp: true, stderr: "" });
    expect(r.malformed).toBe("");
    // tshark's own decoding of the NOTIFICATIONs we sent for the wrong AS and the short hold time.
    const notes = await execa("tshark", ["-r", file, "-Y", "bgp.type == 3", "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "bgp.notify.major_error", "-e", "bgp.notify.minor_error_open"], { reject: false });
    const rows = String(notes.stdout).split("\n").map((l) => l.trim().split("\t").join(" "));
    expect(rows).toContain("192.0.2.11 192.0.2.3 2 2");
    expect(rows).toContain("192.0.2.12 192.0.2.4 2 6");
  }, 60_000);

  test("graceful restart: after kill -9 of gobgpd its route stays (stale, in the kernel); the restarted GoBGP no longer has it, so it goes", async () => {
    await gobgp("global", "rib", "-a", "ipv4", "add", "10.31.0.0/24");
    await until(async () => (await routesOf(sock)).some((r) => r.prefix === "10.31.0.0/24"), "10.31.0.0/24 on our speaker");
    gobgpd!.kill("SIGKILL");
    await gobgpd;
    await until(async () => (await stateOf(sock, "192.0.2.2")) !== "Established", "the session to go down", 30_000);
    expect((await routesOf(sock)).find((r) => r.prefix === "10.31.0.0/24")).toMatchObject({ stale: true, nextHop: "192.0.2.2" });
    expect(await kernelRoutes(lab!.bc, 4)).toMatch(/^10\.31\.0\.0\/24 via 192\.0\.2\.2/m);
    gobgpd = startGobgpd();
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established", "re-established", 40_000);
    await until(async () => !(await routesOf(sock)).some((r) => r.prefix === "10.31.0.0/24") && !(await kernelRoutes(lab!.bc, 4)).includes("10.31.0.0/24"), "the stale route purged", 30_000);
  }, 120_000);

  test("SIGTERM: Cease to GoBGP, our kernel routes flushed", async () => {
    speaker!.kill("SIGTERM");
    expect((await speaker!).exitCode).toBe(0);
    expect(await kernelRoutes(lab!.bc, 4)).toBe("");
    expect(await kernelRoutes(lab!.bc, 6)).toBe("");
    await until(async () => (await gobgp("neighbor")).split("\n").filter((l) => /Establ/.test(l)).length === 0, "GoBGP sees the sessions down", 15_000);
  }, 30_000);
});
