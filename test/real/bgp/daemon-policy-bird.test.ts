// RFC 8212 and the policy language of `birdcage bgp speaker`, for real: three birdcage daemons in one
// namespace, each with an eBGP session to BIRD 2 in the other (BIRD imports everything and exports
// its static routes). The daemon without a policy warns at start and neither takes BIRD's routes nor
// sends its own; the one with `import: all` / `export: all` exchanges everything; the one with
// prefix-list filters takes exactly the matching prefixes (IPv4 and IPv6, into its kernel too) and
// sends exactly the matching ones, with the communities its filters add.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { join } from "node:path";
import { spawnCli } from "../../helpers/cli.ts";
import { closeLab, describeInterop, kernelRoutes, makeLab, peersOf, routesOf, runSpeaker, stateOf, until, writeFile, type Lab } from "./interop-lab.ts";

const describeBird = describeInterop("speaker policy against BIRD", ["bird", "birdc"]);

/** BIRD's statics: what a filter may take or leave. */
const BIRD4 = ["10.20.0.0/16", "10.20.1.0/24", "10.20.2.0/25", "10.30.0.0/24"];
const BIRD6 = ["2001:db8:20::/48", "2001:db8:20:1::/64", "2001:db8:30::/64"];

describeBird("speaker import/export policy against BIRD 2 in namespaces (RFC 8212, prefix lists)", () => {
  let lab: Lab | undefined;
  const children: ResultPromise[] = [];
  const speakers: ResultPromise[] = [];
  const logs = new Map<string, string>();
  let birdSock = "";
  const sock = (name: string): string => join(lab!.dir, `${name}.sock`);
  const birdc = async (...args: string[]): Promise<string> => String((await execa("birdc", ["-s", birdSock, ...args], { reject: false, timeout: 10_000 })).stdout);
  /** The prefixes BIRD has from one of its protocols. */
  const birdGot = async (proto: string): Promise<string[]> =>
    (await birdc("show", "route", "protocol", proto))
      .split("\n")
      .map((l) => /^([0-9a-f.:]+\/\d+)\s/.exec(l)?.[1])
      .filter((p): p is string => p !== undefined)
      .sort();
  const fromPeer = async (name: string, peer: string): Promise<string[]> =>
    (await routesOf(sock(name)))
      .filter((r) => r.peer === peer)
      .map((r) => r.prefix)
      .sort();

  beforeAll(async () => {
    // BIRD: 192.0.2.2 (to "deny"), .3 (to "all"), .4 and 2001:db8::2 (to "filter").
    // birdcage: 192.0.2.1 ("deny"), .11 ("all"), .12 and 2001:db8::1 ("filter").
    lab = await makeLab("pol", [3, 4], [11, 12]);
    birdSock = join(lab.dir, "bird.ctl");
    const statics = (rs: string[]): string => rs.map((r) => `route ${r} blackhole;`).join(" ");
    const birdConf = writeFile(
      lab,
      "bird.conf",
      `log "${lab.dir}/bird.log" all;
router id 192.0.2.2;
protocol device { scan time 10; }
protocol static s4 { ipv4; ${statics(BIRD4)} }
protocol static s6 { ipv6; ${statics(BIRD6)} }
template bgp t { local as 64513; hold time 9; connect delay time 1; connect retry time 2; error wait time 1,5; }
protocol bgp deny4 from t { local 192.0.2.2; neighbor 192.0.2.1 as 64512; ipv4 { import all; export where source = RTS_STATIC; }; }
protocol bgp all4 from t { local 192.0.2.3; neighbor 192.0.2.11 as 64512; ipv4 { import all; export where source = RTS_STATIC; }; }
protocol bgp filt4 from t { local 192.0.2.4; neighbor 192.0.2.12 as 64512; ipv4 { import all; export where source = RTS_STATIC; }; }
protocol bgp filt6 from t { local 2001:db8::2; neighbor 2001:db8::1 as 64512; ipv6 { import all; export where source = RTS_STATIC; }; }
`,
    );
    children.push(execa("ip", ["netns", "exec", lab.peer, "bird", "-f", "-c", birdConf, "-s", birdSock, "-P", join(lab.dir, "bird.pid")], { reject: false, timeout: 300_000 }));
    // The daemons only connect out (no listen: they share the namespace and port 179).
    const common = (name: string, routerId: string): string => `asNumber: 64512\nrouterId: ${routerId}\ncontrol: { socket: ${sock(name)} }\n`;
    const configs = {
      deny: `${common("deny", "192.0.2.1")}peers:
  - { address: 192.0.2.2, asNumber: 64513, localAddress: 192.0.2.1, holdTime: 9, connectRetryTime: 1 }
originate: [10.10.0.0/24]
`,
      all: `${common("all", "192.0.2.11")}import: all
export: all
peers:
  - { address: 192.0.2.3, asNumber: 64513, localAddress: 192.0.2.11, holdTime: 9, connectRetryTime: 1 }
originate: [10.11.0.0/24]
`,
      filter: `${common("filter", "192.0.2.12")}import:
  prefixes:
    - { prefix: 10.20.0.0/16, ge: 24, le: 24 }
    - { prefix: "2001:db8:20::/48", ge: 64 }
  set: { localPref: 250, communities: { add: ["64512:7"] } }
export:
  prefixes: [10.12.1.0/24, { prefix: "2001:db8:12::/48", ge: 64, le: 64 }]
  set: { communities: { add: ["64512:99"] } }
peers:
  - { address: 192.0.2.4, asNumber: 64513, localAddress: 192.0.2.12, holdTime: 9, connectRetryTime: 1 }
  - { address: "2001:db8::2", asNumber: 64513, localAddress: "2001:db8::1", holdTime: 9, connectRetryTime: 1 }
originate: [10.12.0.0/24, 10.12.1.0/24, "2001:db8:12::/48", "2001:db8:12:1::/64"]
kernel: { install: true, protocol: 201 }
`,
    };
    for (const [name, text] of Object.entries(configs)) {
      const p = runSpeaker(lab.bc, writeFile(lab, `${name}.yaml`, text));
      logs.set(name, "");
      p.stderr?.on("data", (d: Buffer) => logs.set(name, logs.get(name) + String(d)));
      children.push(p);
      speakers.push(p);
    }
  }, 60_000);

  afterAll(async () => {
    for (const s of speakers) if (s.exitCode === null) s.kill("SIGTERM");
    await Promise.race([Promise.allSettled(speakers), new Promise((r) => setTimeout(r, 5000).unref())]);
    await closeLab(lab, children);
  }, 30_000);

  test("every session reaches Established, policy or not", async () => {
    await until(
      async () =>
        (await stateOf(sock("deny"), "192.0.2.2")) === "Established" &&
        (await stateOf(sock("all"), "192.0.2.3")) === "Established" &&
        (await stateOf(sock("filter"), "192.0.2.4")) === "Established" &&
        (await stateOf(sock("filter"), "2001:db8::2")) === "Established",
      "four sessions Established",
      40_000,
    );
  }, 45_000);

  test("import: all / export: all: BIRD's routes arrive and ours reach BIRD", async () => {
    await until(async () => (await fromPeer("all", "192.0.2.3")).length === BIRD4.length, "BIRD's IPv4 statics on the 'all' daemon");
    expect(await fromPeer("all", "192.0.2.3")).toEqual([...BIRD4].sort());
    await until(async () => (await birdGot("all4")).length === 1, "our route in BIRD");
    expect(await birdGot("all4")).toEqual(["10.11.0.0/24"]);
  }, 40_000);

  test("prefix-list filters: exactly the matching prefixes each way, IPv4 and IPv6, with the set attributes", async () => {
    await until(async () => (await fromPeer("filter", "2001:db8::2")).length === 1 && (await fromPeer("filter", "192.0.2.4")).length === 1, "the filtered routes");
    await until(async () => (await birdGot("filt4")).length === 1 && (await birdGot("filt6")).length === 1, "our filtered routes in BIRD");
    // BIRD sent every static (its received count), the filter took only the matching ones.
    const peers = await peersOf(sock("filter"));
    expect(peers.map((p) => [p.address, p.prefixesReceived])).toEqual([
      ["192.0.2.4", BIRD4.length],
      ["2001:db8::2", BIRD6.length],
    ]);
    expect(await fromPeer("filter", "192.0.2.4")).toEqual(["10.20.1.0/24"]);
    expect(await fromPeer("filter", "2001:db8::2")).toEqual(["2001:db8:20:1::/64"]);
    const r = (await routesOf(sock("filter"))).find((x) => x.prefix === "10.20.1.0/24") as unknown as { localPref: number; communities: string[] };
    expect(r).toMatchObject({ localPref: 250, communities: ["64512:7"] });
    expect((await kernelRoutes(lab!.bc, 4)).trim().split("\n").map((l) => l.split(" ")[0])).toEqual(["10.20.1.0/24"]);
    expect((await kernelRoutes(lab!.bc, 6)).trim().split("\n").map((l) => l.split(" ")[0])).toEqual(["2001:db8:20:1::/64"]);
    expect(await birdGot("filt4")).toEqual(["10.12.1.0/24"]);
    expect(await birdGot("filt6")).toEqual(["2001:db8:12:1::/64"]);
    expect(await birdc("show", "route", "all", "10.12.1.0/24")).toMatch(/BGP\.community: \(64512,99\)/);
  }, 40_000);

  test("no policy on an eBGP peer: RFC 8212, nothing either way, and a warning naming the peer", async () => {
    // The other daemons' exchanges are done (tests above), and BIRD has sent this one all its statics.
    await until(async () => (await peersOf(sock("deny")))[0]?.prefixesReceived === BIRD4.length, "BIRD's statics received by the 'deny' daemon");
    expect((await peersOf(sock("deny")))[0]).toMatchObject({ state: "Established", prefixesReceived: BIRD4.length, prefixesSent: 0 });
    expect((await peersOf(sock("deny")))[0]).toHaveProperty("prefixesAccepted", 0);
    expect(await fromPeer("deny", "192.0.2.2")).toEqual([]);
    expect(await birdGot("deny4")).toEqual([]);
    expect(await birdc("show", "protocols", "all", "deny4")).toMatch(/Routes:\s+0 imported, \d+ exported/);
    expect(logs.get("deny")).toContain("eBGP peer 192.0.2.2 (AS 64513) has no import policy: RFC 8212 denies all routes from it; set import: all");
    expect(logs.get("deny")).toContain("eBGP peer 192.0.2.2 (AS 64513) has no export policy: RFC 8212 sends it no routes; set export: all");
    expect(logs.get("all")).not.toContain("RFC 8212");
    expect(logs.get("filter")).not.toContain("RFC 8212");
  }, 40_000);

  test("bgp show peers --output json reports the policy in force per peer", async () => {
    const show = async (name: string): Promise<{ address: string; import: string; export: string }[]> => {
      const r = await spawnCli(["bgp", "show", "peers", "--socket", sock(name), "--output", "json"]);
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout) as { peers: { address: string; import: string; export: string }[] }).peers;
    };
    expect((await show("deny")).map((p) => [p.address, p.import, p.export])).toEqual([["192.0.2.2", "rfc8212-deny", "rfc8212-deny"]]);
    expect((await show("all")).map((p) => [p.address, p.import, p.export])).toEqual([["192.0.2.3", "all", "all"]]);
    expect((await show("filter")).map((p) => [p.address, p.import, p.export])).toEqual([
      ["192.0.2.4", "filter", "filter"],
      ["2001:db8::2", "filter", "filter"],
    ]);
  }, 30_000);
});
