// `birdcage bgp decode`: the real captures in ../shared/fixtures/pcap, the malformed negative control,
// and the files it must refuse (pcapng, nanosecond pcap, not a pcap).
import { describe, expect, test, afterAll } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCli, spawnCli } from "../helpers/cli.ts";
import { sharedDir } from "../helpers/paths.ts";
import { tcpStreamPcap } from "../helpers/pcap.ts";
import { encodeMessage, MessageType } from "../../src/core/bgp/wire/index.ts";
import { parsePrefix } from "../../src/core/net/ip.ts";

const pcapDir = resolve(sharedDir, "fixtures/pcap");
const have = existsSync(resolve(pcapDir, "malformed.pcap"));
if (!have && process.env.CI !== "true") console.warn(`skipping bgp decode capture tests: ${pcapDir} not found`);
const describeCaptures = have || process.env.CI === "true" ? describe : describe.skip;

interface Row {
  frame: number;
  type: string;
  src: string;
  dst: string;
  malformed?: boolean;
  notification?: { code: number; subcode: number; name: string };
  [k: string]: unknown;
}

async function decode(file: string): Promise<{ messages: Row[]; malformed: number; incomplete: unknown[] }> {
  const r = await runCli(["bgp", "decode", file, "--output", "json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { messages: Row[]; malformed: number; incomplete: unknown[] };
}

const tmp = mkdtempSync(join(tmpdir(), "bc-decode-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describeCaptures("bgp decode on real captures", () => {
  test("malformed.pcap: the valid KEEPALIVE, then each malformed message with its NOTIFICATION", async () => {
    const out = await decode(resolve(pcapDir, "malformed.pcap"));
    expect(out.messages.map((m) => [m.frame, m.type, m.notification ? `${m.notification.code}/${m.notification.subcode}` : "ok"])).toEqual([
      [1, "KEEPALIVE", "ok"],
      [2, "KEEPALIVE", "1/1"],
      [3, "KEEPALIVE", "1/2"],
      [4, "UPDATE", "3/10"],
      [5, "OPEN", "2/0"],
    ]);
    expect(out.messages[2]?.notification?.name).toBe("Message Header Error / Bad Message Length (1/2)");
    expect(out.malformed).toBe(4);
  });

  test("bird-gobgp-frr-exabgp.pcap: every message, none malformed, OPEN/UPDATE/NOTIFICATION fields", async () => {
    const out = await decode(resolve(pcapDir, "bird-gobgp-frr-exabgp.pcap"));
    expect(out.malformed).toBe(0);
    expect(out.incomplete).toEqual([]);
    const types = new Set(out.messages.map((m) => m.type));
    expect([...types].sort()).toEqual(["KEEPALIVE", "NOTIFICATION", "OPEN", "UPDATE"]);
    const frames = out.messages.map((m) => m.frame);
    expect(frames).toEqual([...frames].sort((a, b) => a - b));
    const bird = out.messages.find((m) => m.type === "OPEN" && m.bgpId === "192.0.2.1");
    expect(bird).toMatchObject({ asNumber: 65000, holdTime: 90, version: 4 });
    expect((bird?.capabilities as { code: number }[]).map((c) => c.code)).toEqual([1, 2, 64, 65, 70, 71]);
    // MP_REACH with FRR's 32-octet next hop (global + link-local), reflected by BIRD.
    const v6 = out.messages.filter((m) => (m.attributes as { mpReach?: { nextHops: string[]; nlri: string[] } } | undefined)?.mpReach?.nlri.includes("2001:db8:3::/122"));
    expect(v6.some((m) => (m.attributes as { mpReach: { nextHops: string[] } }).mpReach.nextHops.length === 2)).toBe(true);
    const reflected = out.messages.find((m) => (m.attributes as { originatorId?: string } | undefined)?.originatorId === "192.0.2.3");
    expect(reflected?.attributes).toMatchObject({ clusterList: ["192.0.2.1"] });
    expect(out.messages.filter((m) => m.endOfRib === "ipv6-unicast").length).toBeGreaterThan(0);
    expect(out.messages.find((m) => m.type === "NOTIFICATION")).toMatchObject({ code: 6, name: expect.stringMatching(/^Cease/) });
    expect(out.messages[0]?.src).toMatch(/^192\.0\.2\.\d:\d+$/);
    expect(out.messages.some((m) => m.src.startsWith("[2001:db8::1]:"))).toBe(true);
  });

  test("as4-old-speaker.pcap: 2-octet session, AS4_PATH shown, Bad Peer AS NOTIFICATION", async () => {
    const out = await decode(resolve(pcapDir, "as4-old-speaker.pcap"));
    const upd = out.messages.find((m) => m.type === "UPDATE" && !m.endOfRib);
    expect(upd?.attributes).toMatchObject({ asPath: "23456 23456 65010", as4Path: "4200000001 4200000002 65010" });
    expect(out.messages.find((m) => m.type === "NOTIFICATION")).toMatchObject({ code: 2, subcode: 2 });
  });

  test("table output through the launcher", async () => {
    const r = await spawnCli(["bgp", "decode", resolve(pcapDir, "malformed.pcap")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("MALFORMED -> NOTIFICATION UPDATE Message Error / Invalid Network Field (3/10)");
    expect(r.stdout).toContain("5 messages, 4 malformed");
  });
});

// tshark is a decoder we did not write: per frame, the same message types in the same order.
const haveTshark = ((): boolean => {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!haveTshark && process.env.CI !== "true") console.warn("skipping bgp decode tshark cross-check: tshark not installed");
const describeTshark = (haveTshark && have) || process.env.CI === "true" ? describe : describe.skip;

describeTshark("bgp decode agrees with tshark", () => {
  test.each(["bird-gobgp-frr-exabgp.pcap", "as4-old-speaker.pcap"])("%s: message types per frame", async (file) => {
    const out = execFileSync("tshark", ["-r", resolve(pcapDir, file), "-Y", "bgp", "-T", "fields", "-e", "frame.number", "-e", "bgp.type", "-E", "occurrence=a", "-E", "aggregator=,"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const theirs = out.trim().split("\n").map((l) => l.replace("\t", " "));
    const names: Record<string, number> = { OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, "ROUTE-REFRESH": 5 };
    const byFrame = new Map<number, number[]>();
    for (const m of (await decode(resolve(pcapDir, file))).messages) byFrame.set(m.frame, [...(byFrame.get(m.frame) ?? []), names[m.type] ?? 0]);
    expect([...byFrame].map(([f, types]) => `${f} ${types.join(",")}`)).toEqual(theirs);
  });

  test("real pcapng and nanosecond files written by editcap are refused with exit 2", async () => {
    for (const [format, re] of [["pcapng", /pcapng is not supported/], ["nsecpcap", /nanosecond-resolution/]] as const) {
      const out = join(tmp, `malformed.${format}`);
      execFileSync("editcap", ["-F", format, resolve(pcapDir, "malformed.pcap"), out], { stdio: "ignore" });
      const r = await runCli(["bgp", "decode", out]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
    }
  });
});

describe("bgp decode on generated captures", () => {
  test("treat-as-withdraw UPDATEs are shown with their RFC 7606 action; a truncated tail is reported", async () => {
    const good = encodeMessage({
      type: MessageType.UPDATE,
      withdrawn: [],
      nlri: [parsePrefix("10.1.0.0/26")],
      attrs: { origin: 0, asPath: [], nextHop: { family: 4, value: 0xc0000201n }, localPref: 100 },
    });
    const bad = Uint8Array.from(good);
    // LOCAL_PREF is the last attribute: make its length 3 (malformed → treat-as-withdraw, RFC 7606 §7.5).
    const lp = bad.length - 5 - 4; // flags,type,len then 4 octets, before the 5-octet NLRI
    expect(bad[lp - 2]).toBe(5);
    bad[lp - 1] = 3;
    const fixed = Uint8Array.from([...bad.subarray(0, lp + 3), ...bad.subarray(lp + 4)]);
    fixed[16] = fixed.length >> 8;
    fixed[17] = fixed.length & 255;
    fixed[22] = (fixed[22] ?? 0) - 1; // total path attribute length
    const file = join(tmp, "taw.pcap");
    writeFileSync(file, tcpStreamPcap([good, fixed, good.subarray(0, 30)]));
    const out = await decode(file);
    expect(out.messages.map((m) => m.errorAction ?? "accept")).toEqual(["accept", "treat-as-withdraw"]);
    expect(out.messages[1]?.issues).toMatchObject([{ code: 3, subcode: 5 }]);
    expect(out.incomplete).toHaveLength(1);
  });

  test.each([
    ["pcapng", Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, ...new Array<number>(20).fill(0)), /pcapng is not supported/],
    ["nanosecond pcap", Uint8Array.of(0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, ...new Array<number>(12).fill(0), 1, 0, 0, 0), /nanosecond-resolution pcap is not supported/],
    ["not a pcap", new TextEncoder().encode("hello, this is not a capture file at all"), /not a classic pcap file/],
    ["too short", Uint8Array.of(0xd4, 0xc3), /too short/],
  ])("%s: clear error, exit 2", async (name, bytes, re) => {
    const file = join(tmp, `${name.replaceAll(" ", "-")}.bin`);
    writeFileSync(file, bytes);
    const r = await runCli(["bgp", "decode", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(r.stdout).toBe("");
  });

  test("a missing file: exit 2", async () => {
    const r = await runCli(["bgp", "decode", join(tmp, "nope.pcap")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no such file");
  });
});
