// `birdcage bgp speaker` and `birdcage bgp show`: config errors at file:line:col with exit 2, and
// end to end on loopback: two speakers as child processes (127.0.0.1 and 127.0.0.2, eBGP) reach
// Established, exchange their originated prefixes, are inspected through their control sockets,
// and on SIGTERM send Cease and remove their socket file.
import { afterAll, describe, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { queryControl } from "../../real/bgp/daemon.ts";
import { runCli, spawnCli } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/paths.ts";

const dir = mkdtempSync(join(tmpdir(), "bc-bgp-speaker-"));
const children: ResultPromise[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await Promise.allSettled(children);
  rmSync(dir, { recursive: true, force: true });
});

const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const until = async (cond: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe("bgp speaker config", () => {
  test("every problem is reported at file:line:col and the exit code is 2", async () => {
    const f = file(
      "bad.yaml",
      ["asNumber: 64512", "routerId: 300.1.1.1", "peers:", "  - { address: 127.0.0.2, asNumber: x, holdTime: 2 }", "originate: [10.1.0.1/24]", "kernel: { install: true, protocol: 12 }", "bogus: 1", ""].join("\n"),
    );
    const r = await runCli(["bgp", "speaker", "--config", f]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${f}:2:11: routerId: .*dotted quad`)),
      expect.stringMatching(new RegExp(`^${f}:4:37: peers\\[0\\]\\.asNumber: expected a number`)),
      expect.stringMatching(new RegExp(`^${f}:4:50: peers\\[0\\]\\.holdTime: hold time must be 0 or 3-65535`)),
      expect.stringMatching(new RegExp(`^${f}:5:13: originate\\[0\\]: expected a prefix`)),
      expect.stringMatching(new RegExp(`^${f}:6:36: kernel\\.protocol: protocol 12 is BIRD's`)),
      expect.stringMatching(new RegExp(`^${f}:7:1: bogus: unknown field`)),
    ]);
  });

  test("YAML syntax errors, duplicate peers and a missing file are bad input", async () => {
    const syntax = await runCli(["bgp", "speaker", "--config", file("syntax.yaml", "asNumber: [1\n")]);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/syntax\.yaml:\d+:\d+: invalid YAML/);
    const dup = await runCli([
      "bgp",
      "speaker",
      "--config",
      file("dup.yaml", "asNumber: 1\nrouterId: 10.0.0.1\npeers:\n  - { address: 10.0.0.2, asNumber: 2 }\n  - { address: 10.0.0.2, asNumber: 3 }\n"),
    ]);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/dup\.yaml:5:16: peers\[1\]\.address: 10\.0\.0\.2 is also peers\[0\]/);
    const policy = await runCli([
      "bgp",
      "speaker",
      "--config",
      file("policy.yaml", "asNumber: 1\nrouterId: 10.0.0.1\nimport: accept\npeers:\n  - { address: 10.0.0.2, asNumber: 2, export: { prefixes: [{ prefix: 10.0.0.0/8, le: 4 }] } }\n"),
    ]);
    expect(policy.code).toBe(2);
    expect(policy.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/policy\.yaml:3:9: import: expected all, none, a filter rule \(mapping\) or a list of rules, got string "accept"$/),
      expect.stringMatching(/policy\.yaml:5:86: peers\[0\]\.export\.prefixes\[0\]\.le: le must be between the prefix length 8 and 32$/),
    ]);
    const missing = await runCli(["bgp", "speaker", "--config", join(dir, "nope.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no such file/);
  });

  test("a BGP port in use or a live control socket: cannot start, exit 2, nothing left behind", async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as net.AddressInfo).port;
    const sock = join(dir, "busy.sock");
    try {
      const r = await runCli(["bgp", "speaker", "--config", file("busy.yaml", `asNumber: 64512\nrouterId: 127.0.0.1\nlisten: { address: 127.0.0.1, port: ${port} }\ncontrol: { socket: ${sock} }\n`)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot start: .*EADDRINUSE/);
      expect(existsSync(sock)).toBe(false);
      // A live socket (here a plain unix server) is not taken over.
      const live = net.createServer((c) => c.end());
      await new Promise<void>((res) => live.listen(sock, res));
      const r2 = await runCli(["bgp", "speaker", "--config", file("live.yaml", `asNumber: 64512\nrouterId: 127.0.0.1\ncontrol: { socket: ${sock} }\n`)]);
      expect(r2.code).toBe(2);
      expect(r2.stderr).toMatch(/another process is listening/);
      await new Promise((res) => live.close(res));
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  test("bgp show against a socket nobody listens on is exit 2", async () => {
    const r = await runCli(["bgp", "show", "peers", "--socket", join(dir, "none.sock")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/none\.sock/);
  });
});

describe("bgp speaker on loopback, two child processes", () => {
  test("Established, routes both ways, bgp show peers/routes, SIGTERM sends Cease and removes the socket", async () => {
    const port = await freePort();
    const sockA = join(dir, "a.sock");
    const sockB = join(dir, "b.sock");
    const cfg = (me: string, peer: string, as: number, peerAs: number, prefix: string, sock: string, passive: boolean): string =>
      [
        `asNumber: ${as}`,
        `routerId: ${me}`,
        `listen: { address: ${me}, port: ${port} }`,
        // eBGP: RFC 8212 needs a policy each way; A sets it speaker-wide, B on the peer.
        ...(passive ? [] : ["import: all", "export: all"]),
        "peers:",
        `  - { address: ${peer}, asNumber: ${peerAs}, port: ${port}, localAddress: ${me}, holdTime: 9, passive: ${passive}${passive ? ", import: all, export: all" : ""} }`,
        `originate: [${prefix}]`,
        `control: { socket: ${sock} }`,
        "",
      ].join("\n");
    const fa = file("a.yaml", cfg("127.0.0.1", "127.0.0.2", 64512, 64513, "10.1.0.0/24", sockA, false));
    const fb = file("b.yaml", cfg("127.0.0.2", "127.0.0.1", 64513, 64512, "10.2.0.0/24", sockB, true));
    const run = (f: string): ResultPromise => {
      const c = execa(process.execPath, [join(repoRoot, "bin/birdcage.js"), "bgp", "speaker", "--config", f], { reject: false, timeout: 120_000 });
      children.push(c);
      return c;
    };
    const a = run(fa);
    const b = run(fb);
    const established = async (sock: string): Promise<boolean> => ((await queryControl(sock, "peers")).peers as { state: string }[])[0]?.state === "Established";
    await until(async () => (await established(sockA)) && (await established(sockB)), "both sessions Established");
    const hasRoute = async (sock: string, prefix: string): Promise<boolean> => ((await queryControl(sock, "routes")).routes as { prefix: string }[]).some((r) => r.prefix === prefix);
    await until(async () => (await hasRoute(sockA, "10.2.0.0/24")) && (await hasRoute(sockB, "10.1.0.0/24")), "routes both ways");

    const peers = await spawnCli(["bgp", "show", "peers", "--socket", sockA, "--output", "json"]);
    expect(peers.code).toBe(0);
    const p = (JSON.parse(peers.stdout) as { peers: Record<string, unknown>[] }).peers;
    expect(p).toEqual([expect.objectContaining({ address: "127.0.0.2", asNumber: 64513, state: "Established", prefixesReceived: 1, prefixesSent: 1, import: "all", export: "all" })]);
    expect(typeof p[0]?.uptime).toBe("number");

    const routes = await spawnCli(["bgp", "show", "routes", "--socket", sockA, "--output", "json"]);
    expect(routes.code).toBe(0);
    const rs = (JSON.parse(routes.stdout) as { routes: Record<string, unknown>[] }).routes;
    expect(rs.find((r) => r.prefix === "10.2.0.0/24")).toEqual(
      expect.objectContaining({ nextHop: "127.0.0.2", asPath: "64513", best: true, peer: "127.0.0.2", communities: [], originatorId: null, clusterList: [] }),
    );
    expect(rs.find((r) => r.prefix === "10.1.0.0/24")).toEqual(expect.objectContaining({ best: true, peer: "local" }));

    const table = await spawnCli(["bgp", "show", "peers", "--socket", sockB]);
    expect(table.stdout).toMatch(/^ADDRESS\s+AS\s+STATE\s+UPTIME\s+RECEIVED\s+SENT\s+IMPORT\s+EXPORT\n127\.0\.0\.1\s+64512\s+Established\s+\d+\s+1\s+1\s+all\s+all\s*$/);

    // SIGTERM to A: exit 0, its socket gone; B saw the Cease and lost A's route.
    a.kill("SIGTERM");
    const ra = await a;
    expect(ra.exitCode).toBe(0);
    expect(String(ra.stderr)).toMatch(/SIGTERM: stopping/);
    expect(String(ra.stderr)).toMatch(/NOTIFICATION 6\/2 sent/);
    expect(existsSync(sockA)).toBe(false);
    await until(async () => !(await hasRoute(sockB, "10.2.0.0/24").then(() => hasRoute(sockB, "10.1.0.0/24"))), "A's route withdrawn on B");
    const bPeers = (await queryControl(sockB, "peers")).peers as { state: string; lastError: string | null }[];
    expect(bPeers[0]?.state).not.toBe("Established");
    expect(bPeers[0]?.lastError ?? "").toMatch(/6\/2|Cease/);
    b.kill("SIGINT");
    expect((await b).exitCode).toBe(0);
    expect(existsSync(sockB)).toBe(false);
  }, 120_000);
});
