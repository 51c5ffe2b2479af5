// Host endpoints on real packets: a node namespace whose interface `eth1` is a HostEndpoint and a
// client namespace on the other end of it, both with an IPv4 and an IPv6 address. With the
// rendered ruleset loaded in the node, TCP to a failsafe port (22) still connects, other ports are
// dropped until a policy allows them, and connections the node opens are dropped except to
// outbound failsafe ports — over both families, each observation equal to PolicySet.evaluate.
// Done with nftables, and with iptables-restore + ip6tables-restore when they are installed.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { PolicySet, type Policy, type PolicySetInput } from "../../../src/core/policy/index.ts";
import { IPTABLES_HOST_HOOKS, renderIptables } from "../../../src/core/policy/render/iptables.ts";
import { NFT_TABLE, renderNft } from "../../../src/core/policy/render/nft.ts";
import { planNode } from "../../../src/core/policy/render/plan.ts";
import { hasCommand, labSkipReason } from "./lab.ts";

const reason = labSkipReason();
const suite = reason === undefined || process.env.CI === "true" ? describe : describe.skip;
if (reason !== undefined && process.env.CI !== "true") console.warn(`skipping host endpoint tests: ${reason}`);

const sfx = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
const NODE_NS = `bc-hn-${sfx}`;
const CLIENT_NS = `bc-hc-${sfx}`;
const NODE_IP = "10.99.0.1";
const CLIENT_IP = "10.99.0.2";
const NODE_IP6 = "fd00:99::1";
const CLIENT_IP6 = "fd00:99::2";
const NODE_PORTS = [22, 8080, 8081];
const CLIENT_PORTS = [179, 9090];

// Listens on the given TCP ports; exits when stdin closes, or after 5 minutes.
const SERVER = `
const net = require("node:net");
const ports = JSON.parse(process.argv[1]); let n = 0;
for (const p of ports) net.createServer((s) => { s.on("error", () => {}); s.end("ok"); }).listen(p, "::", () => { if (++n === ports.length) process.stdout.write("ready\\n"); });
process.stdin.on("end", () => process.exit(0)); process.stdin.resume();
setTimeout(() => process.exit(0), 300000).unref();
`;
// Connects to each [ip, port]; prints 1 (connected) or 0 (timed out / refused) per target.
const CLIENT = `
const net = require("node:net");
const [targets, ms] = JSON.parse(process.argv[1]);
const one = ([host, port]) => new Promise((res) => {
  const s = net.connect({ host, port }); const t = setTimeout(() => { s.destroy(); res(0); }, ms);
  s.on("connect", () => { clearTimeout(t); s.destroy(); res(1); }); s.on("error", () => { clearTimeout(t); res(0); });
});
Promise.all(targets.map(one)).then((r) => process.stdout.write(r.join("")));
`;

const servers: ResultPromise[] = [];
const inNs = (ns: string, cmd: string, args: readonly string[], input?: string) => execa("ip", ["netns", "exec", ns, cmd, ...args], { input: input ?? "", reject: false });

async function serve(ns: string, ports: readonly number[]): Promise<void> {
  const proc = execa("ip", ["netns", "exec", ns, process.execPath, "-e", SERVER, JSON.stringify(ports)], { stdin: "pipe", reject: false });
  servers.push(proc);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server in ${ns} did not start`)), 15_000);
    proc.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/** Connect from `ns` to each port of `ip`; a port seen closed is tried again with a longer timeout. */
async function connects(ns: string, ip: string, ports: readonly number[]): Promise<boolean[]> {
  const run = async (list: readonly number[], ms: number): Promise<boolean[]> => {
    const r = await execa("ip", ["netns", "exec", ns, process.execPath, "-e", CLIENT, JSON.stringify([list.map((p) => [ip, p]), ms])], { timeout: ms + 20_000 });
    return [...String(r.stdout)].map((b) => b === "1");
  };
  const first = await run(ports, 400);
  const retry = ports.filter((_, i) => !first[i]);
  const second = retry.length > 0 ? await run(retry, 1500) : [];
  return ports.map((p, i) => first[i]! || second[retry.indexOf(p)] === true);
}

const hep = { kind: "host" as const, name: "node-1-eth1", node: "node-1", interfaceName: "eth1", ips: [NODE_IP, NODE_IP6], labels: { role: "node" } };
const allow8080: Policy = {
  kind: "GlobalNetworkPolicy",
  name: "node-web",
  spec: {
    selector: "role == 'node'",
    types: ["Ingress"],
    ingress: [
      { action: "Allow", protocol: "TCP", source: { nets: ["10.99.0.0/24"] }, destination: { ports: [8080] } },
      { action: "Allow", protocol: "TCP", source: { nets: ["fd00:99::/64"] }, destination: { ports: [8080] } },
    ],
  },
};
const CASES: { name: string; input: PolicySetInput }[] = [
  { name: "no policy: default deny except failsafe ports", input: { endpoints: [hep] } },
  { name: "a policy allows 8080 from the client's subnet", input: { endpoints: [hep], policies: [allow8080] } },
];

type Verdicts = { inbound: boolean[]; outbound: boolean[]; inbound6: boolean[]; outbound6: boolean[] };

/** What the evaluator says for the probes: client -> node ports, node -> client ports, per family. */
function expected(set: PolicySet): Verdicts {
  const eva = (src: string, dst: string, ports: readonly number[]) => ports.map((port) => set.evaluate({ src, dst, protocol: "TCP", dstPort: port }).allowed);
  return { inbound: eva(CLIENT_IP, NODE_IP, NODE_PORTS), outbound: eva(NODE_IP, CLIENT_IP, CLIENT_PORTS), inbound6: eva(CLIENT_IP6, NODE_IP6, NODE_PORTS), outbound6: eva(NODE_IP6, CLIENT_IP6, CLIENT_PORTS) };
}

/** What real connections do. */
async function observed(): Promise<Verdicts> {
  return {
    inbound: await connects(CLIENT_NS, NODE_IP, NODE_PORTS),
    outbound: await connects(NODE_NS, CLIENT_IP, CLIENT_PORTS),
    inbound6: await connects(CLIENT_NS, NODE_IP6, NODE_PORTS),
    outbound6: await connects(NODE_NS, CLIENT_IP6, CLIENT_PORTS),
  };
}

suite("host endpoints on real packets (root, network namespaces)", () => {
  beforeAll(async () => {
    for (const ns of [NODE_NS, CLIENT_NS]) await execa("ip", ["netns", "add", ns]);
    await execa("ip", ["link", "add", "eth1", "netns", NODE_NS, "type", "veth", "peer", "name", "eth0", "netns", CLIENT_NS]);
    await execa("ip", ["-n", NODE_NS, "-batch", "-"], { input: `link set lo up\nlink set eth1 up\naddr add ${NODE_IP}/24 dev eth1\naddr add ${NODE_IP6}/64 dev eth1 nodad\n` });
    await execa("ip", ["-n", CLIENT_NS, "-batch", "-"], { input: `link set lo up\nlink set eth0 up\naddr add ${CLIENT_IP}/24 dev eth0\naddr add ${CLIENT_IP6}/64 dev eth0 nodad\n` });
    await serve(NODE_NS, NODE_PORTS);
    await serve(CLIENT_NS, CLIENT_PORTS);
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) s.stdin?.end();
    await Promise.allSettled(servers);
    for (const ns of [NODE_NS, CLIENT_NS]) await execa("ip", ["netns", "delete", ns], { reject: false });
  });

  test("without a ruleset everything connects (the probes can see an open port)", async () => {
    expect(await observed()).toEqual({ inbound: [true, true, true], outbound: [true, true], inbound6: [true, true, true], outbound6: [true, true] });
  }, 60_000);

  for (const c of CASES) {
    test(`nftables: ${c.name}`, async () => {
      const set = new PolicySet(c.input);
      const want = expected(set);
      const r = await inNs(NODE_NS, "nft", ["-f", "-"], renderNft(planNode(set, { node: "node-1" })));
      expect(r.stderr).toBe("");
      try {
        expect(await observed()).toEqual(want);
      } finally {
        await inNs(NODE_NS, "nft", ["delete", "table", "inet", NFT_TABLE]);
      }
    }, 60_000);
  }

  test("the evaluator's verdicts are the ones the cases expect (failsafe 22 in and 179 out; 8080 only with the policy)", () => {
    const none = { inbound: [true, false, false], outbound: [true, false] };
    expect(expected(new PolicySet(CASES[0]!.input))).toEqual({ ...none, inbound6: none.inbound, outbound6: none.outbound });
    const web = { inbound: [true, true, false], outbound: [true, false] };
    expect(expected(new PolicySet(CASES[1]!.input))).toEqual({ ...web, inbound6: web.inbound, outbound6: web.outbound });
  });

  const ipt = hasCommand("iptables-restore") && hasCommand("ip6tables-restore") && hasCommand("ipset");
  (ipt || process.env.CI === "true" ? test : test.skip)("iptables-restore and ip6tables-restore: the same verdicts", async () => {
    const set = new PolicySet(CASES[1]!.input);
    const plan = planNode(set, { node: "node-1" });
    const tools = [
      [4, "iptables"],
      [6, "ip6tables"],
    ] as const;
    for (const [family, tool] of tools) {
      const out = renderIptables(plan, family);
      expect((await inNs(NODE_NS, "ipset", ["restore", "-exist"], out.ipset)).stderr).toBe("");
      const r = await inNs(NODE_NS, `${tool}-restore`, ["--noflush"], out.iptables);
      expect(r.stderr).toBe("");
      for (const hook of IPTABLES_HOST_HOOKS) expect((await inNs(NODE_NS, tool, [...hook])).exitCode).toBe(0);
    }
    try {
      expect(await observed()).toEqual(expected(set));
    } finally {
      for (const [, tool] of tools) for (const hook of IPTABLES_HOST_HOOKS) await inNs(NODE_NS, tool, ["-D", hook[1], "-j", hook[4]]);
    }
  }, 90_000);
});
