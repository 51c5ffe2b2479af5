// Shared pieces of the real interop tests: two namespaces joined by a veth pair (birdcage on
// 192.0.2.1 / 2001:db8::1, the other daemon on .2 and more), the birdcage speaker run by the CLI
// inside its namespace, bounded waits, and the checks that need a binary.
import { describe } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { queryControl } from "../../../real/bgp/daemon.ts";
import { repoRoot } from "../../helpers/paths.ts";
import { addNetns, delNetns, ip, netnsUnavailable, testNetnsName } from "../../helpers/netns.ts";

/** describe, or describe.skip with the reason printed when root, ip or a binary is missing (never with CI=true). */
export function describeInterop(what: string, binaries: string[]): typeof describe | typeof describe.skip {
  let reason = netnsUnavailable();
  for (const b of binaries) {
    if (reason) break;
    try {
      execFileSync("sh", ["-c", `command -v ${b}`], { stdio: "ignore" });
    } catch {
      reason = `${b} is not installed`;
    }
  }
  if (reason === undefined || process.env.CI === "true") return describe;
  console.warn(`skipping ${what}: ${reason}`);
  return describe.skip;
}

export interface Lab {
  dir: string;
  /** birdcage's namespace (192.0.2.1, 2001:db8::1 on eth0). */
  bc: string;
  /** the other daemon's namespace (192.0.2.2.. and 2001:db8::2.. on eth0). */
  peer: string;
}

/** Two namespaces and a veth pair; `extra` / `extraBc` add IPv4 addresses (192.0.2.N) on the peer / birdcage side. */
export async function makeLab(tag: string, extra: number[] = [], extraBc: number[] = []): Promise<Lab> {
  const lab = { dir: mkdtempSync(join(tmpdir(), `bc-${tag}-`)), bc: testNetnsName(`${tag}-bc`), peer: testNetnsName(`${tag}-pe`) };
  await addNetns(lab.bc);
  await addNetns(lab.peer);
  await ip("link", "add", "eth0", "netns", lab.bc, "type", "veth", "peer", "name", "eth0", "netns", lab.peer);
  await ip("-n", lab.bc, "addr", "add", "192.0.2.1/24", "dev", "eth0");
  await ip("-n", lab.bc, "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad");
  await ip("-n", lab.peer, "addr", "add", "192.0.2.2/24", "dev", "eth0");
  await ip("-n", lab.peer, "addr", "add", "2001:db8::2/64", "dev", "eth0", "nodad");
  for (const n of extraBc) await ip("-n", lab.bc, "addr", "add", `192.0.2.${n}/24`, "dev", "eth0");
  for (const n of extra) await ip("-n", lab.peer, "addr", "add", `192.0.2.${n}/24`, "dev", "eth0");
  await ip("-n", lab.bc, "link", "set", "eth0", "up");
  await ip("-n", lab.peer, "link", "set", "eth0", "up");
  return lab;
}

export async function dropLab(lab: Lab | undefined, children: ResultPromise[]): Promise<void> {
  for (const c of children) if (c.exitCode === null && !c.killed) c.kill("SIGKILL");
  await Promise.allSettled(children);
  if (lab) {
    await delNetns(lab.bc, lab.peer);
    rmSync(lab.dir, { recursive: true, force: true });
  }
}

/**
 * The end of a lab with a speaker and a capture: the speaker gets SIGTERM (so it sends its Cease) and
 * up to 5 s, the capture is stopped, then dropLab kills what is left and removes the namespaces.
 */
export async function closeLab(lab: Lab | undefined, children: ResultPromise[], speaker?: ResultPromise, cap?: { stop: () => Promise<string> }): Promise<void> {
  if (speaker && speaker.exitCode === null) {
    speaker.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([speaker, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer); // or jest waits for it after the last test
  }
  await cap?.stop().catch(() => undefined);
  await dropLab(lab, children);
}

export const writeFile = (lab: Lab, name: string, text: string): string => {
  const p = join(lab.dir, name);
  writeFileSync(p, text);
  return p;
};

/** `birdcage bgp speaker --config FILE` inside `ns`, as a child process (bounded lifetime). */
export function runSpeaker(ns: string, config: string): ResultPromise {
  return execa("ip", ["netns", "exec", ns, process.execPath, join(repoRoot, "bin/birdcage.js"), "bgp", "speaker", "--config", config], { reject: false, timeout: 300_000 });
}

export async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await Promise.resolve().then(cond).catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export interface PeerRow {
  address: string;
  state: string;
  lastError: string | null;
  prefixesReceived: number;
}
export interface RouteRow {
  prefix: string;
  nextHop: string;
  peer: string;
  best: boolean;
  stale: boolean;
  asPath: string;
  originatorId: string | null;
  clusterList: string[];
}

export const peersOf = async (sock: string): Promise<PeerRow[]> => (await queryControl(sock, "peers")).peers as PeerRow[];
export const routesOf = async (sock: string): Promise<RouteRow[]> => (await queryControl(sock, "routes")).routes as RouteRow[];
export const stateOf = async (sock: string, address: string): Promise<string | undefined> => (await peersOf(sock)).find((p) => p.address === address)?.state;

/** Our protocol's kernel routes in `ns`, one line each. */
export async function kernelRoutes(ns: string, family: 4 | 6, proto = 201): Promise<string> {
  return ip("-n", ns, `-${family}`, "route", "show", "proto", String(proto));
}

/** tcpdump of TCP port 179 on eth0 in `ns`; stop() ends it and returns the file. */
export async function capture(ns: string, file: string): Promise<{ stop: () => Promise<string> }> {
  const p = execa("ip", ["netns", "exec", ns, "tcpdump", "--immediate-mode", "-i", "eth0", "-s", "0", "-U", "-w", file, "tcp port 179"], { reject: false, timeout: 300_000 });
  // tcpdump says "listening on" once the capture is open.
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 3000);
    p.stderr?.on("data", (d: Buffer) => {
      if (String(d).includes("listening on")) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return {
    stop: async () => {
      p.kill("SIGINT");
      await p;
      return file;
    },
  };
}

/** tshark's verdict on a capture: BGP messages and malformed ones. */
export async function tsharkCheck(file: string): Promise<{ bgp: number; malformed: string; stderr: string }> {
  const all = await execa("tshark", ["-r", file, "-Y", "bgp"], { reject: false, timeout: 60_000 });
  const bad = await execa("tshark", ["-r", file, "-Y", "bgp && _ws.malformed"], { reject: false, timeout: 60_000 });
  return { bgp: String(all.stdout).split("\n").filter((l) => l.trim()).length, malformed: String(bad.stdout).trim(), stderr: `${String(all.stderr)}\n${String(bad.stderr)}`
      .split("\n")
      .filter((l) => l.trim() && !l.includes("This could be dangerous"))
      .join("\n") };
}
