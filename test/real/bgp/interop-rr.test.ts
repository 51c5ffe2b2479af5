// The birdcage speaker as an iBGP route reflector for a BIRD 2 client (192.0.2.2) and a GoBGP
// client (192.0.2.3, not listening, so both share one namespace): each client's prefix reaches the
// other with ORIGINATOR_ID = the originating client and CLUSTER_LIST = our cluster ID, as the
// clients themselves show them (`birdc show route all`, `gobgp global rib`), on IPv4 and IPv6 sessions.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { join } from "node:path";
import { describeInterop, dropLab, kernelRoutes, makeLab, peersOf, routesOf, runSpeaker, stateOf, until, writeFile, type Lab } from "./interop-lab.ts";

const describeRr = describeInterop("route reflector interop", ["bird", "birdc", "gobgpd", "gobgp"]);

describeRr("birdcage speaker as route reflector for BIRD and GoBGP clients", () => {
  let lab: Lab | undefined;
  const children: ResultPromise[] = [];
  let sock = "";
  let birdSock = "";
  const apiPort = 51051 + (process.pid % 1000);
  const gobgp = async (...args: string[]): Promise<string> =>
    String((await execa("ip", ["netns", "exec", lab!.peer, "gobgp", "-u", "127.0.0.1", "-p", String(apiPort), ...args], { reject: false, timeout: 10_000 })).stdout);
  const birdc = async (...args: string[]): Promise<string> => String((await execa("birdc", ["-s", birdSock, ...args], { reject: false, timeout: 10_000 })).stdout);

  beforeAll(async () => {
    lab = await makeLab("rr", [3]);
    sock = join(lab.dir, "bc.sock");
    birdSock = join(lab.dir, "bird.ctl");
    const birdConf = writeFile(
      lab,
      "bird.conf",
      `router id 192.0.2.2;
protocol device { scan time 10; }
protocol direct { ipv4; ipv6; interface "eth0"; }
protocol static s4 { ipv4; route 10.20.0.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:20::/48 blackhole; }
protocol bgp refl { local 192.0.2.2 as 64512; neighbor 192.0.2.1 as 64512; hold time 9; connect delay time 1; connect retry time 2; error wait time 1,5;
  ipv4 { import all; export where source = RTS_STATIC; next hop self; }; }
protocol bgp refl6 { local 2001:db8::2 as 64512; neighbor 2001:db8::1 as 64512; hold time 9; connect delay time 1; connect retry time 2; error wait time 1,5;
  ipv6 { import all; export where source = RTS_STATIC; next hop self; }; }
`,
    );
    const gobgpConf = writeFile(
      lab,
      "gobgpd.toml",
      `[global.config]
  as = 64512
  router-id = "192.0.2.3"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.1"
    peer-as = 64512
  [neighbors.transport.config]
    local-address = "192.0.2.3"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "2001:db8::1"
    peer-as = 64512
  [neighbors.transport.config]
    local-address = "2001:db8::3"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`,
    );
    await execa("ip", ["-n", lab.peer, "addr", "add", "2001:db8::3/64", "dev", "eth0", "nodad"]);
    const bcConf = writeFile(
      lab,
      "bc.yaml",
      `asNumber: 64512
routerId: 192.0.2.1
clusterId: 192.0.2.1
listen: { address: "::", port: 179 }
peers:
  - { address: 192.0.2.2, asNumber: 64512, routeReflectorClient: true, holdTime: 9, connectRetryTime: 1 }
  - { address: 192.0.2.3, asNumber: 64512, routeReflectorClient: true, holdTime: 9, passive: true }
  - { address: "2001:db8::2", asNumber: 64512, routeReflectorClient: true, holdTime: 9, connectRetryTime: 1 }
  - { address: "2001:db8::3", asNumber: 64512, routeReflectorClient: true, holdTime: 9, passive: true }
control: { socket: ${sock} }
`,
    );
    children.push(execa("ip", ["netns", "exec", lab.peer, "bird", "-f", "-c", birdConf, "-s", birdSock, "-P", join(lab.dir, "bird.pid")], { reject: false, timeout: 300_000 }));
    children.push(execa("ip", ["netns", "exec", lab.peer, "gobgpd", "-f", gobgpConf, "-p", "--pprof-disable", "--api-hosts", `127.0.0.1:${apiPort}`], { reject: false, timeout: 300_000 }));
    children.push(runSpeaker(lab.bc, bcConf));
  }, 60_000);

  afterAll(async () => {
    await dropLab(lab, children);
  }, 30_000);

  test("both clients Established; each client's prefix reflected to the other with ORIGINATOR_ID and CLUSTER_LIST", async () => {
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established" && (await stateOf(sock, "192.0.2.3")) === "Established", "both clients Established", 40_000).catch(async (e: Error) => {
      throw new Error(`${e.message}: ours ${JSON.stringify(await peersOf(sock))}; GoBGP ${await gobgp("neighbor")}; BIRD ${await birdc("show", "protocols", "all", "refl")}`);
    });
    await until(async () => (await gobgp("global", "rib", "-a", "ipv4", "add", "10.30.0.0/24")) !== null, "GoBGP add");
    await until(async () => {
      const r = await routesOf(sock);
      return r.some((x) => x.prefix === "10.20.0.0/24") && r.some((x) => x.prefix === "10.30.0.0/24");
    }, "both clients' routes on the reflector");

    await until(async () => (await birdc("show", "route", "all", "10.30.0.0/24")).includes("originator_id"), "the reflected route in BIRD");
    const inBird = await birdc("show", "route", "all", "10.30.0.0/24");
    expect(inBird).toMatch(/BGP\.originator_id: 192\.0\.2\.3/);
    expect(inBird).toMatch(/BGP\.cluster_list: 192\.0\.2\.1/);
    expect(inBird).toMatch(/BGP\.next_hop: 192\.0\.2\.3/);

    await until(async () => (await gobgp("global", "rib", "-a", "ipv4")).includes("10.20.0.0/24"), "the reflected route in GoBGP");
    const line = (await gobgp("global", "rib", "-a", "ipv4")).split("\n").find((l) => l.includes("10.20.0.0/24")) ?? "";
    expect(line).toMatch(/Originator: 192\.0\.2\.2/);
    expect(line).toMatch(/ClusterList: \[192\.0\.2\.1\]/);
    expect(line).toMatch(/^\*>?\s+10\.20\.0\.0\/24\s+192\.0\.2\.2\s/);
  }, 90_000);

  test("IPv6: the same reflection over the IPv6 sessions", async () => {
    await until(async () => (await stateOf(sock, "2001:db8::2")) === "Established" && (await stateOf(sock, "2001:db8::3")) === "Established", "both IPv6 clients Established", 40_000);
    await gobgp("global", "rib", "-a", "ipv6", "add", "2001:db8:30::/48");
    await until(async () => (await birdc("show", "route", "all", "2001:db8:30::/48")).includes("originator_id"), "the reflected IPv6 route in BIRD");
    const inBird = await birdc("show", "route", "all", "2001:db8:30::/48");
    expect(inBird).toMatch(/BGP\.originator_id: 192\.0\.2\.3/);
    expect(inBird).toMatch(/BGP\.cluster_list: 192\.0\.2\.1/);
    await until(async () => (await gobgp("global", "rib", "-a", "ipv6")).includes("2001:db8:20::/48"), "the reflected IPv6 route in GoBGP");
    const line = (await gobgp("global", "rib", "-a", "ipv6")).split("\n").find((l) => l.includes("2001:db8:20::/48")) ?? "";
    expect(line).toMatch(/Originator: 192\.0\.2\.2/);
    expect(line).toMatch(/ClusterList: \[192\.0\.2\.1\]/);
  }, 90_000);
});

describeRr("birdcage speaker as client of a BIRD route reflector (with a GoBGP client beside it)", () => {
  let lab: Lab | undefined;
  const children: ResultPromise[] = [];
  let sock = "";
  let birdSock = "";
  const apiPort = 52051 + (process.pid % 1000);
  const gobgp = async (...args: string[]): Promise<string> =>
    String((await execa("ip", ["netns", "exec", lab!.peer, "gobgp", "-u", "127.0.0.1", "-p", String(apiPort), ...args], { reject: false, timeout: 10_000 })).stdout);

  beforeAll(async () => {
    lab = await makeLab("rrc", [3]);
    sock = join(lab.dir, "bc.sock");
    birdSock = join(lab.dir, "bird.ctl");
    const birdConf = writeFile(
      lab,
      "bird.conf",
      `router id 192.0.2.2;
protocol device { scan time 10; }
protocol direct { ipv4; interface "eth0"; }
template bgp c { local 192.0.2.2 as 64512; rr client; rr cluster id 192.0.2.2; hold time 9; connect delay time 1; connect retry time 2; error wait time 1,5;
  ipv4 { import all; export where source = RTS_BGP; }; }
protocol bgp bc from c { neighbor 192.0.2.1 as 64512; }
protocol bgp gob from c { neighbor 192.0.2.3 as 64512; passive on; }
`,
    );
    const gobgpConf = writeFile(
      lab,
      "gobgpd.toml",
      `[global.config]
  as = 64512
  router-id = "192.0.2.3"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.2"
    peer-as = 64512
  [neighbors.transport.config]
    local-address = "192.0.2.3"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`,
    );
    const bcConf = writeFile(
      lab,
      "bc.yaml",
      `asNumber: 64512
routerId: 192.0.2.1
listen: { address: 0.0.0.0, port: 179 }
peers:
  - { address: 192.0.2.2, asNumber: 64512, holdTime: 9, connectRetryTime: 1 }
originate: [10.10.0.0/24]
kernel: { install: true }
control: { socket: ${sock} }
`,
    );
    children.push(execa("ip", ["netns", "exec", lab.peer, "bird", "-f", "-c", birdConf, "-s", birdSock, "-P", join(lab.dir, "bird.pid")], { reject: false, timeout: 300_000 }));
    children.push(execa("ip", ["netns", "exec", lab.peer, "gobgpd", "-f", gobgpConf, "-p", "--pprof-disable", "--api-hosts", `127.0.0.1:${apiPort}`], { reject: false, timeout: 300_000 }));
    children.push(runSpeaker(lab.bc, bcConf));
  }, 60_000);

  afterAll(async () => {
    await dropLab(lab, children);
  }, 30_000);

  test("GoBGP's prefix reaches us through BIRD with ORIGINATOR_ID and CLUSTER_LIST, into our kernel; ours reaches GoBGP", async () => {
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established", "Established with the reflector", 40_000);
    await until(async () => (await gobgp("neighbor")).includes("Establ"), "GoBGP Established with the reflector", 40_000);
    await gobgp("global", "rib", "-a", "ipv4", "add", "10.30.0.0/24");
    await until(async () => (await routesOf(sock)).some((r) => r.prefix === "10.30.0.0/24"), "GoBGP's route on our speaker");
    expect((await routesOf(sock)).find((r) => r.prefix === "10.30.0.0/24")).toMatchObject({ nextHop: "192.0.2.3", peer: "192.0.2.2", best: true, originatorId: "192.0.2.3", clusterList: ["192.0.2.2"] });
    await until(async () => (await kernelRoutes(lab!.bc, 4)).includes("10.30.0.0/24 via 192.0.2.3"), "the reflected route in our kernel");
    await until(async () => (await gobgp("global", "rib", "-a", "ipv4")).includes("10.10.0.0/24"), "our route in GoBGP");
    const line = (await gobgp("global", "rib", "-a", "ipv4")).split("\n").find((l) => l.includes("10.10.0.0/24")) ?? "";
    expect(line).toMatch(/Originator: 192\.0\.2\.1/);
    expect(line).toMatch(/ClusterList: \[192\.0\.2\.2\]/);
  }, 90_000);
});
