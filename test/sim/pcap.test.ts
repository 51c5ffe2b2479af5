// PcapWriter: captures of simulated BGP sessions and data probes, read back by our own pcap reader and
// BGP decoder (real/capture) and, when installed, by tshark, which must find nothing malformed.
import { describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeBgpCapture, decodeBgpCaptureBytes } from "../../real/capture/bgp-messages.ts";
import { parseTcpSegments } from "../../real/capture/pcap.ts";
import { SimEngine } from "../../sim/engine.ts";
import { type DataPacket, PcapWriter, pcapFileName, type PcapIO } from "../../sim/pcap.ts";
import { SimTransportNetwork } from "../../sim/transport.ts";
import { Speaker } from "../../src/core/bgp/speaker.ts";
import { MessageType } from "../../src/core/bgp/wire/index.ts";
import { runCli } from "../helpers/cli.ts";
import { TableUnderlay } from "./underlay-table.ts";

const haveTshark = ((): boolean => {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!haveTshark && process.env.CI !== "true") console.warn("skipping the tshark checks of sim captures: tshark not installed (apt-get install tshark)");
const testTshark = haveTshark || process.env.CI === "true" ? test : test.skip;

/** tshark's output for a display filter, with checksum validation on. */
function tshark(file: string, filter: string, fields?: string[]): string {
  const args = ["-r", file, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-Y", filter];
  if (fields) args.push("-T", "fields", ...fields.flatMap((f) => ["-e", f]));
  return execFileSync("tshark", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
}

const BAD = "_ws.malformed || tcp.checksum.status == 2 || ip.checksum.status == 2 || udp.checksum.status == 2 || icmp.checksum.status == 2 || icmpv6.checksum.status == 2";

/** Two speakers (IPv4 or IPv6 session) over a two-attachment LAN, captured, then stopped cleanly. */
function capturedSession(opts: { v6?: boolean; loss?: number; routes?: number; seed?: number } = {}) {
  const engine = new SimEngine({ seed: opts.seed ?? 1 });
  const [a, b] = opts.v6 ? ["fd00::1", "fd00::2"] : ["10.0.0.1", "10.0.0.2"];
  const underlay = new TableUnderlay()
    .host("a", a as string)
    .host("b", b as string)
    .link("a", "b", { latencyMs: 2, ...(opts.loss ? { loss: opts.loss } : {}), links: [{ element: "node-a", segment: "lan" }, { element: "node-b", segment: "lan" }] });
  const writer = new PcapWriter({ clock: engine, epochMs: Date.UTC(2026, 0, 1) });
  const net = new SimTransportNetwork(engine, underlay, { capture: writer });
  const speakers = [
    ["a", a, b, 0],
    ["b", b, a, 1],
  ].map(([host, me, peer, i]) => {
    const s = new Speaker(
      {
        asNumber: 64512,
        routerId: i === 0 ? "192.0.2.1" : "192.0.2.2",
        listen: { address: me as string },
        peers: [{ address: peer as string, asNumber: 64512 }],
      },
      { clock: engine.clock("bgp-timer"), transport: net.transport(host as string) },
    );
    for (let k = 0; k < (opts.routes ?? 50); k++) s.originate(opts.v6 ? `fd10:${i}:${k.toString(16)}::/64` : `10.${100 + (i as number)}.${k >> 2}.${(k & 3) * 64}/26`, { blackhole: true });
    return s;
  });
  for (const s of speakers) s.start();
  engine.run({ until: 70_000 });
  for (const s of speakers) s.stop();
  engine.run({ until: 80_000 });
  return { writer, net, engine };
}

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "bc-simpcap-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("PcapWriter with the simulated transport", () => {
  test.each([
    ["IPv4", false],
    ["IPv6", true],
  ])("a %s BGP session: every message in each link's file decodes, and they are exactly the messages sent", (_name, v6) => {
    const { writer, net } = capturedSession({ v6 });
    expect(writer.links).toEqual(["node-a@lan", "node-b@lan"]);
    const sent = net.stats().sent;
    for (const link of writer.links) {
      const decoded = decodeBgpCaptureBytes(writer.fileBytes(link), link);
      expect(decoded.incomplete).toEqual([]);
      expect(decoded.messages.filter((m) => m.error)).toEqual([]);
      // Both directions cross both attachments of the LAN: each file holds the whole conversation.
      const types = decoded.messages.map((m) => m.message?.type);
      expect(types.length).toBe(sent.messages);
      expect(types.filter((t) => t === MessageType.OPEN).length).toBe(sent.open);
      expect(types.filter((t) => t === MessageType.UPDATE).length).toBe(sent.update);
      expect(types.filter((t) => t === MessageType.KEEPALIVE).length).toBe(sent.keepalive);
      expect(types.filter((t) => t === MessageType.NOTIFICATION).length).toBe(sent.notification);
    }
  });

  test("`birdcage bgp decode` reads a flushed capture: every message, none malformed, nothing incomplete", async () => {
    const { writer, net } = capturedSession();
    const dir = mkdtempSync(join(tmpdir(), "bc-simpcap-"));
    try {
      const [file] = writer.flush(dir);
      const r = await runCli(["bgp", "decode", file as string, "--output", "json"]);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { messages: { type: string }[]; malformed: number; incomplete: unknown[] };
      expect(out.malformed).toBe(0);
      expect(out.incomplete).toEqual([]);
      expect(out.messages.length).toBe(net.stats().sent.messages);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("timestamps are virtual time after the epoch, in order, and a handshake opens each connection", () => {
    const { writer } = capturedSession();
    const segs = parseTcpSegments(writer.fileBytes("node-a@lan"));
    const t0 = Date.UTC(2026, 0, 1) / 1000;
    expect(segs[0]?.time).toBe(t0);
    expect(segs[0]?.flags).toBe(0x02); // SYN
    for (let i = 1; i < segs.length; i++) expect((segs[i]?.time ?? 0) >= (segs[i - 1]?.time ?? 0)).toBe(true);
    expect(segs[segs.length - 1]?.time).toBeLessThanOrEqual(t0 + 80);
    expect(segs.some((s) => s.flags === 0x12)).toBe(true); // SYN-ACK
    expect(segs.some((s) => s.flags & 0x01)).toBe(true); // FIN
  });

  test("with 10% loss, the first link sees the retransmissions and the decoder still reads every message", () => {
    const { writer, net } = capturedSession({ loss: 0.1, seed: 5, routes: 400 });
    expect(net.stats().tcp.retransmissions).toBeGreaterThan(0);
    // Lost segments reach only the sender's own attachment: the sender's side has the whole a→b stream.
    const decoded = decodeBgpCaptureBytes(writer.fileBytes("node-a@lan"));
    const aToB = decoded.messages.filter((m) => m.src === "10.0.0.1" && m.message);
    expect(aToB.length).toBe(net.stats().perHost["a"]?.messages);
    expect(decoded.messages.filter((m) => m.error)).toEqual([]);
  });

  test("flush writes one sanitised file per link through the I/O given", () => {
    const files = new Map<string, Uint8Array>();
    const dirs: string[] = [];
    const io: PcapIO = { mkdir: (d) => dirs.push(d), writeFile: (p, b) => files.set(p, b) };
    const w = new PcapWriter({ io });
    const probe: DataPacket = { src: "10.1.0.1", dst: "10.1.1.1", protocol: "icmp", size: 84, encap: "none" };
    w.writeDataPacket("node-1@eth0", probe, 5);
    w.writeDataPacket("../etc/passwd@x y", probe, 1);
    expect(w.flush("/out")).toEqual(["/out/__etc_passwd__x_y.pcap", "/out/node-1__eth0.pcap"]);
    expect(dirs).toEqual(["/out"]);
    expect(pcapFileName("a/b@c")).toBe("a_b__c.pcap");
    const f = files.get("/out/node-1__eth0.pcap") as Uint8Array;
    expect([...f.subarray(0, 4)]).toEqual([0xd4, 0xc3, 0xb2, 0xa1]); // a1b2c3d4 little-endian
    expect(f.length).toBe(24 + 16 + 14 + 84);
  });

  test("data probes: lengths, padding and the IPv4 header checksum are right in every encapsulation", () => {
    const w = new PcapWriter();
    const frames: { p: DataPacket; innerOffset: number }[] = [
      { p: { src: "10.1.0.1", dst: "10.1.1.1", protocol: "icmp", size: 1000, encap: "none" }, innerOffset: 14 },
      { p: { src: "10.1.0.1", dst: "10.1.1.1", protocol: "udp", size: 500, encap: "ipip", outerSrc: "10.0.0.1", outerDst: "10.0.0.2" }, innerOffset: 34 },
      { p: { src: "10.1.0.1", dst: "10.1.1.1", protocol: "tcp", size: 1400, encap: "vxlan", outerSrc: "10.0.0.1", outerDst: "10.0.0.2" }, innerOffset: 14 + 20 + 8 + 8 + 14 },
    ];
    frames.forEach((f, i) => w.writeDataPacket("l@s", f.p, i));
    const file = w.fileBytes("l@s");
    let o = 24;
    for (const f of frames) {
      const len = new DataView(file.buffer, file.byteOffset + o + 8, 4).getUint32(0, true);
      const frame = file.subarray(o + 16, o + 16 + len);
      expect(len).toBe(f.innerOffset + f.p.size);
      const ip = frame.subarray(f.innerOffset);
      expect((ip[2] as number) * 256 + (ip[3] as number)).toBe(f.p.size);
      // The one's-complement sum over a header with its checksum is 0xffff.
      let s = 0;
      for (let k = 0; k < 20; k += 2) s += (ip[k] as number) * 256 + (ip[k + 1] as number);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      expect(s).toBe(0xffff);
      o += 16 + len;
    }
    expect(() => w.writeDataPacket("l@s", { src: "10.1.0.1", dst: "10.1.1.1", protocol: "udp", size: 100, encap: "vxlan" })).toThrow(/outerSrc/);
  });

  testTshark("tshark: no malformed packet and no bad checksum in the BGP captures; the CLI decoder agrees", () => {
    withDir((dir) => {
      const a = capturedSession({ routes: 300 });
      const b = capturedSession({ v6: true, routes: 300 });
      const files = [...a.writer.flush(join(dir, "v4")), ...b.writer.flush(join(dir, "v6"))];
      expect(files).toHaveLength(4);
      for (const file of files) {
        // One tshark pass per file: per frame, BGP message types, malformed marks, expert severities, checksums.
        const rows = tshark(file, "", ["frame.number", "bgp.type", "_ws.malformed", "_ws.expert.severity", "tcp.flags.reset", "tcp.checksum.status", "ip.checksum.status"])
          .trim()
          .split("\n")
          .map((l) => l.split("\t"));
        expect(rows.filter((r) => r[2] !== "" || r[5]?.includes("2") || r[6]?.includes("2"))).toEqual([]);
        // No warnings either (out-of-order, previous segment not captured, dup ACKs...) in a lossless run;
        // the RSTs refusing the connections tried while the other speaker was stopping are expected.
        expect(rows.filter((r) => r[4] !== "1" && (r[3] ?? "").split(",").some((x) => Number(x) >= 6291456))).toEqual([]);
        const bgp = rows.flatMap((r) => (r[1] ? r[1].split(",") : []));
        expect(bgp.length).toBe(decodeBgpCapture(file).messages.length);
        expect(bgp.length).toBeGreaterThan(10);
      }
      expect(readdirSync(join(dir, "v4")).sort()).toEqual(["node-a__lan.pcap", "node-b__lan.pcap"]);
    });
  });

  testTshark("tshark: data probes decode with the right protocols, VXLAN VNI 4096 and good checksums", () => {
    withDir((dir) => {
      const w = new PcapWriter();
      const probes: DataPacket[] = [];
      for (const protocol of ["icmp", "udp", "tcp"] as const) {
        for (const encap of ["none", "ipip", "vxlan"] as const) {
          probes.push({ src: "10.1.0.1", dst: "10.1.1.1", protocol, size: 300, encap, outerSrc: "10.0.0.1", outerDst: "10.0.0.2", dstPort: 8080 });
          probes.push({ src: "fd10::1", dst: "fd10:1::1", protocol, size: 300, encap, outerSrc: "fd00::1", outerDst: "fd00::2", dstPort: 8080 });
        }
      }
      probes.forEach((p, i) => w.writeDataPacket("probe@lan", p, i));
      const [file] = w.flush(dir);
      expect(tshark(file as string, BAD)).toBe("");
      const rows = tshark(file as string, "", ["frame.number", "vxlan.vni", "ip.proto", "ipv6.nxt", "icmp.type", "icmpv6.type", "udp.dstport", "tcp.flags.syn"])
        .trim()
        .split("\n")
        .map((l) => l.split("\t"));
      expect(rows).toHaveLength(probes.length);
      probes.forEach((p, i) => {
        const [, vni, ipProto, v6Next, icmpType, icmp6Type, udpPort, syn] = rows[i] as string[];
        expect(vni).toBe(p.encap === "vxlan" ? "4096" : "");
        const protos = `${ipProto},${v6Next}`;
        if (p.encap === "ipip") expect(protos).toMatch(p.src.includes(":") ? /41/ : /(^|,)4(,|$)/);
        if (p.protocol === "icmp") expect(icmpType || icmp6Type).toBe(p.src.includes(":") ? "128" : "8");
        if (p.protocol === "udp") expect(udpPort?.split(",")).toContain("8080");
        if (p.protocol === "tcp") expect(syn).toMatch(/1|True/);
      });
    });
  });
});
