// The birdcage speaker (the CLI daemon, in its own namespace) against BIRD 2 over a veth pair:
// eBGP on IPv4 and IPv6 reaches Established, routes flow both ways (BIRD's into birdcage's Loc-RIB
// and its kernel with protocol 201, ours into BIRD's table), the capture of the sessions has no
// packet tshark calls malformed, a wrong peer AS gets 2/2 and a too-short hold time 2/6 (as BIRD
// logs them), and after kill -9 of BIRD our speaker keeps its routes as stale until BIRD is back
// (End-of-RIB) or until BIRD's restart time runs out.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { join } from "node:path";
import { capture, describeInterop, closeLab, kernelRoutes, makeLab, routesOf, runSpeaker, stateOf, tsharkCheck, until, writeFile, peersOf, type Lab } from "./interop-lab.ts";

const describeBird = describeInterop("BIRD interop", ["bird", "birdc", "tcpdump", "tshark"]);

describeBird("birdcage speaker <-> BIRD 2 in namespaces", () => {
  let lab: Lab | undefined;
  const children: ResultPromise[] = [];
  let speaker: ResultPromise | undefined;
  let bird: ResultPromise | undefined;
  let sock = "";
  let birdSock = "";
  let birdConf = "";
  let cap: { stop: () => Promise<string> } | undefined;

  const startBird = (): ResultPromise => {
    const p = execa("ip", ["netns", "exec", lab!.peer, "bird", "-f", "-c", birdConf, "-s", birdSock, "-P", join(lab!.dir, "bird.pid")], { reject: false, timeout: 300_000 });
    children.push(p);
    return p;
  };
  const birdc = async (...args: string[]): Promise<string> => String((await execa("birdc", ["-s", birdSock, ...args], { reject: false, timeout: 10_000 })).stdout);

  beforeAll(async () => {
    lab = await makeLab("bird", [3, 4, 5], [11, 12, 13]);
    sock = join(lab.dir, "bc.sock");
    birdSock = join(lab.dir, "bird.ctl");
    birdConf = writeFile(
      lab,
      "bird.conf",
      `log "${lab.dir}/bird.log" all;
router id 192.0.2.2;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 10.20.0.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:20::/48 blackhole; }
template bgp t { local as 64513; hold time 9; connect delay time 1; connect retry time 2; error wait time 1,5; graceful restart on; graceful restart time 10; }
protocol bgp bc4 from t { local 192.0.2.2; neighbor 192.0.2.1 as 64512; ipv4 { import all; export where source ~ [ RTS_STATIC, RTS_BGP ]; }; }
protocol bgp bc6 from t { local 2001:db8::2; neighbor 2001:db8::1 as 64512; ipv6 { import all; export where source ~ [ RTS_STATIC, RTS_BGP ]; }; }
protocol bgp wrongas from t { local 192.0.2.3; neighbor 192.0.2.11 as 64512; ipv4 { import none; export none; }; }
protocol bgp bighold from t { local 192.0.2.5; neighbor 192.0.2.13 as 64512; hold time 90; min hold time 30; ipv4 { import none; export none; }; }
protocol bgp badhold from t { local 192.0.2.4; neighbor 192.0.2.12 as 64512; hold time 10; ipv4 { import none; export none; }; }
`,
    );
    const conf = writeFile(
      lab,
      "bc.yaml",
      `asNumber: 64512
routerId: 192.0.2.1
listen: { address: "::", port: 179 }
gracefulRestart: { restartTime: 120 }
import: all                       # eBGP: RFC 8212 denies without a policy
export: all
peers:
  - { address: 192.0.2.2, asNumber: 64513, holdTime: 9, connectRetryTime: 1, gracefulRestart: { restartTime: 120 } }
  - { address: "2001:db8::2", asNumber: 64513, holdTime: 9, connectRetryTime: 1 }
  - { address: 192.0.2.3, asNumber: 65999, localAddress: 192.0.2.11, connectRetryTime: 1 }
  - { address: 192.0.2.4, asNumber: 64513, localAddress: 192.0.2.12, connectRetryTime: 1, minHoldTime: 30 }
  - { address: 192.0.2.5, asNumber: 64513, localAddress: 192.0.2.13, connectRetryTime: 1, holdTime: 9 }
originate: [10.10.0.0/24, "2001:db8:10::/48"]
kernel: { install: true, protocol: 201 }
control: { socket: ${sock} }
`,
    );
    cap = await capture(lab.bc, join(lab.dir, "bird.pcap"));
    bird = startBird();
    speaker = runSpeaker(lab.bc, conf);
    children.push(speaker);
  }, 60_000);

  afterAll(async () => {
    await closeLab(lab, children, speaker, cap);
  }, 30_000);

  test("IPv4 and IPv6 sessions reach Established", async () => {
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established" && (await stateOf(sock, "2001:db8::2")) === "Established", "both sessions Established");
    const protos = await birdc("show", "protocols");
    expect(protos).toMatch(/bc4\s+BGP\s+---\s+up\s+.*Established/);
    expect(protos).toMatch(/bc6\s+BGP\s+---\s+up\s+.*Established/);
  }, 40_000);

  test("BIRD's prefixes land in our Loc-RIB and our kernel (proto 201); ours land in BIRD", async () => {
    await until(async () => {
      const r = await routesOf(sock);
      return r.some((x) => x.prefix === "10.20.0.0/24" && x.best) && r.some((x) => x.prefix === "2001:db8:20::/48" && x.best);
    }, "BIRD's routes in the Loc-RIB");
    const routes = await routesOf(sock);
    expect(routes.find((r) => r.prefix === "10.20.0.0/24")).toMatchObject({ nextHop: "192.0.2.2", peer: "192.0.2.2", asPath: "64513", best: true });
    expect(routes.find((r) => r.prefix === "2001:db8:20::/48")).toMatchObject({ nextHop: "2001:db8::2", asPath: "64513", best: true });
    await until(async () => (await kernelRoutes(lab!.bc, 4)).includes("10.20.0.0/24 via 192.0.2.2") && (await kernelRoutes(lab!.bc, 6)).includes("2001:db8:20::/48 via 2001:db8::2"), "kernel routes");
    expect(await kernelRoutes(lab!.bc, 4)).toMatch(/^10\.20\.0\.0\/24 via 192\.0\.2\.2 dev eth0/m);
    await until(async () => {
      const t = await birdc("show", "route");
      return t.includes("10.10.0.0/24") && t.includes("2001:db8:10::/48");
    }, "our routes in BIRD");
    const all = await birdc("show", "route", "all", "10.10.0.0/24");
    expect(all).toMatch(/BGP\.as_path: 64512/);
    expect(all).toMatch(/BGP\.next_hop: 192\.0\.2\.1/);
  }, 40_000);

  test("a wrong peer AS is refused with 2/2 and a hold time under our minimum with 2/6, as BIRD logs", async () => {
    let last = "";
    const peers0 = await peersOf(sock);
    await until(async () => /Bad peer AS/i.test((last = await birdc("show", "protocols", "all", "wrongas"))), "BIRD's wrongas error", 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; BIRD: ${last}; ours: ${JSON.stringify(peers0)}`);
    });
    await until(async () => /Unacceptable hold time/i.test((last = await birdc("show", "protocols", "all", "badhold"))), "BIRD's badhold error", 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; last: ${last}`);
    });
    // And the other way: BIRD with "min hold time 30" refuses our 9 s with 2/6.
    await until(async () => /NOTIFICATION received: 2\/6/.test((await peersOf(sock)).find((p) => p.address === "192.0.2.5")?.lastError ?? ""), "BIRD's 2/6 to us", 30_000);
    const peers = await peersOf(sock);
    expect(peers.find((p) => p.address === "192.0.2.3")?.state).not.toBe("Established");
    expect(peers.find((p) => p.address === "192.0.2.4")?.state).not.toBe("Established");
  }, 70_000);

  test("the capture of the sessions has BGP and no packet tshark calls malformed", async () => {
    const file = await cap!.stop();
    cap = undefined;
    const r = await tsharkCheck(file);
    expect({ bgp: r.bgp > 10, stderr: r.stderr }).toEqual({ bgp: true, stderr: "" });
    expect(r.malformed).toBe("");
  }, 60_000);

  test("graceful restart: after kill -9 of BIRD our speaker keeps its routes (stale, in the kernel) until BIRD is back", async () => {
    bird!.kill("SIGKILL");
    await bird;
    await until(async () => (await stateOf(sock, "192.0.2.2")) !== "Established", "the session to go down", 30_000);
    const stale = (await routesOf(sock)).find((r) => r.prefix === "10.20.0.0/24");
    expect(stale).toMatchObject({ stale: true, nextHop: "192.0.2.2" });
    expect(await kernelRoutes(lab!.bc, 4)).toMatch(/^10\.20\.0\.0\/24 via 192\.0\.2\.2/m);
    bird = startBird();
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established", "re-established", 40_000);
    await until(async () => (await routesOf(sock)).find((r) => r.prefix === "10.20.0.0/24")?.stale === false, "fresh route after End-of-RIB", 30_000);
    expect(await kernelRoutes(lab!.bc, 4)).toMatch(/^10\.20\.0\.0\/24 via 192\.0\.2\.2/m);
  }, 120_000);

  test("graceful restart: when BIRD stays away, its routes go when its restart time (10 s) runs out", async () => {
    bird!.kill("SIGKILL");
    await bird;
    await until(async () => (await routesOf(sock)).find((r) => r.prefix === "10.20.0.0/24")?.stale === true, "the route marked stale", 30_000);
    expect(await kernelRoutes(lab!.bc, 4)).toMatch(/^10\.20\.0\.0\/24 via 192\.0\.2\.2/m);
    await until(async () => !(await routesOf(sock)).some((r) => r.prefix === "10.20.0.0/24") && !(await kernelRoutes(lab!.bc, 4)).includes("10.20.0.0/24"), "the stale route purged", 40_000);
    bird = startBird();
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established", "re-established", 40_000);
    await until(async () => (await routesOf(sock)).some((r) => r.prefix === "10.20.0.0/24"), "BIRD's route back", 30_000);
  }, 120_000);

  test("SIGTERM: the speaker sends Cease, flushes its kernel routes and removes its socket", async () => {
    // BIRD's log, not `show protocols`: BIRD retries at once and its next "Connection refused" would
    // replace the Cease as the protocol's last error before a slow poll sees it.
    const logFile = `${lab!.dir}/bird.log`;
    const before = existsSync(logFile) ? readFileSync(logFile, "utf8").length : 0;
    speaker!.kill("SIGTERM");
    const r = await speaker!;
    expect(r.exitCode).toBe(0);
    expect(await kernelRoutes(lab!.bc, 4)).toBe("");
    expect(await kernelRoutes(lab!.bc, 6)).toBe("");
    await until(async () => /bc4: Received: Administrative shutdown/i.test(readFileSync(logFile, "utf8").slice(before)), "BIRD's Cease", 15_000);
  }, 30_000);
});
