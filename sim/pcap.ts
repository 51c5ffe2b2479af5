// Packet captures of a simulation: one classic libpcap file (magic a1b2c3d4, microseconds, Ethernet)
// per link attachment `element@segment`, with frames synthesized from what the simulator moved: the
// TCP segments of BGP sessions (from sim/transport.ts, as a TcpCapture) and data-plane probes (ICMP
// echo, UDP, TCP SYN; bare, in IPIP or in VXLAN). Headers carry correct lengths and IPv4/TCP/UDP/ICMP
// checksums so tshark and `birdcage bgp decode` read the files without complaint.
//
// Frames are kept in memory and written by flush(dir) at the end: the transport reports a segment on
// every link of its path at once, with later timestamps further along, so each file is sorted by time
// (stable: equal times keep the order of the calls) before it is written.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addressBytes, parseIP } from "../src/core/net/ip.ts";
import type { CapturedTcpSegment, TcpCapture } from "./transport.ts";

/** The file I/O flush() does; the default uses node:fs. */
export interface PcapIO {
  mkdir(dir: string): void;
  writeFile(path: string, bytes: Uint8Array): void;
}

export const nodePcapIO: PcapIO = {
  mkdir: (dir) => mkdirSync(dir, { recursive: true }),
  writeFile: (path, bytes) => writeFileSync(path, bytes),
};

export interface DataPacket {
  src: string;
  dst: string;
  protocol: "icmp" | "udp" | "tcp";
  /** Length of the (inner) IP packet, padded up to this; never below the headers' own size. */
  size: number;
  encap: "none" | "ipip" | "vxlan";
  /** Tunnel endpoints, required for ipip and vxlan. */
  outerSrc?: string;
  outerDst?: string;
  srcPort?: number;
  dstPort?: number;
  /** VXLAN network identifier (Calico's default 4096). */
  vni?: number;
}

export interface PcapWriterOptions {
  /** Where writeDataPacket() takes its time when none is given (e.g. the SimEngine). */
  clock?: { now(): number };
  /** Wall-clock ms of virtual time 0 in the files (default 0: 1970-01-01). */
  epochMs?: number;
  io?: PcapIO;
}

interface Rec {
  t: number;
  frame: Uint8Array;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const VXLAN_PORT = 4789;

/** A link's file name: the attachment with anything but [A-Za-z0-9._-] replaced, plus .pcap. */
export function pcapFileName(link: string): string {
  const base = link.replace(/@/g, "__").replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  return `${base || "link"}.pcap`;
}

export class PcapWriter implements TcpCapture {
  private readonly perLink = new Map<string, Rec[]>();
  private readonly addrs = new Map<string, Uint8Array>();
  private readonly macs = new Map<string, Uint8Array>();
  private ipId = 0;
  private readonly epochMs: number;
  private readonly io: PcapIO;
  private readonly clock: { now(): number } | undefined;

  constructor(options: PcapWriterOptions = {}) {
    this.epochMs = options.epochMs ?? 0;
    this.io = options.io ?? nodePcapIO;
    this.clock = options.clock;
  }

  /** One TCP segment seen on `link` at virtual time `timeMs` (the transport's TcpCapture hook). */
  tcp(link: string, timeMs: number, seg: CapturedTcpSegment): void {
    const payload = seg.payload ?? new Uint8Array(0);
    const optLen = seg.mss !== undefined ? 4 : 0;
    const l4Len = 20 + optLen + payload.length;
    const src = this.addr(seg.src);
    const dst = this.addr(seg.dst);
    const { frame, l4 } = this.ipFrame(seg.src, seg.dst, src, dst, 6, l4Len);
    const dv = view(frame);
    dv.setUint16(l4, seg.srcPort);
    dv.setUint16(l4 + 2, seg.dstPort);
    dv.setUint32(l4 + 4, seg.seq >>> 0);
    dv.setUint32(l4 + 8, seg.flags & 16 ? seg.ack >>> 0 : 0);
    frame[l4 + 12] = ((20 + optLen) / 4) << 4;
    frame[l4 + 13] = seg.flags;
    dv.setUint16(l4 + 14, seg.window);
    if (seg.mss !== undefined) {
      frame[l4 + 20] = 2;
      frame[l4 + 21] = 4;
      dv.setUint16(l4 + 22, seg.mss);
    }
    frame.set(payload, l4 + 20 + optLen);
    dv.setUint16(l4 + 16, l4Checksum(frame, l4, l4Len, src, dst, 6));
    this.push(link, timeMs, frame);
  }

  /** A data-plane probe on `link` (at `timeMs`, default the clock's now), optionally tunnelled. */
  writeDataPacket(link: string, p: DataPacket, timeMs?: number): void {
    const t = timeMs ?? this.clock?.now() ?? 0;
    const inner = this.innerPacket(p);
    if (p.encap === "none") {
      this.push(link, t, this.ether(p.src, p.dst, inner));
      return;
    }
    if (p.outerSrc === undefined || p.outerDst === undefined) throw new Error(`${p.encap} packet needs outerSrc and outerDst`);
    const osrc = this.addr(p.outerSrc);
    const odst = this.addr(p.outerDst);
    if (osrc.length !== odst.length) throw new Error(`tunnel endpoints ${p.outerSrc} and ${p.outerDst} are of different families`);
    if (p.encap === "ipip") {
      const { frame, l4 } = this.ipFrame(p.outerSrc, p.outerDst, osrc, odst, inner.length === 0 || (inner[0] as number) >> 4 === 4 ? 4 : 41, inner.length);
      frame.set(inner, l4);
      this.push(link, t, frame);
      return;
    }
    // VXLAN: outer UDP to 4789, 8-octet header with the I flag and the VNI, then an inner Ethernet frame.
    const innerEth = this.ether(p.src, p.dst, inner);
    const udpLen = 8 + 8 + innerEth.length;
    const { frame, l4 } = this.ipFrame(p.outerSrc, p.outerDst, osrc, odst, 17, udpLen);
    const dv = view(frame);
    dv.setUint16(l4, 49152 + (hash(`${p.src}>${p.dst}`) % 16384)); // flow entropy, as the kernel does
    dv.setUint16(l4 + 2, VXLAN_PORT);
    dv.setUint16(l4 + 4, udpLen);
    frame[l4 + 8] = 0x08;
    dv.setUint32(l4 + 12, ((p.vni ?? 4096) & 0xffffff) << 8);
    frame.set(innerEth, l4 + 16);
    dv.setUint16(l4 + 6, osrc.length === 4 ? 0 : udpChecksum(frame, l4, udpLen, osrc, odst));
    this.push(link, t, frame);
  }

  /** The links seen so far, sorted. */
  get links(): string[] {
    return [...this.perLink.keys()].sort();
  }

  packetCount(link?: string): number {
    if (link !== undefined) return this.perLink.get(link)?.length ?? 0;
    let n = 0;
    for (const r of this.perLink.values()) n += r.length;
    return n;
  }

  /** The pcap file of one link as bytes (records sorted by time). */
  fileBytes(link: string): Uint8Array {
    const recs = this.perLink.get(link) ?? [];
    // Array.prototype.sort is stable: equal times keep the order the segments were reported in.
    recs.sort((a, b) => a.t - b.t);
    let size = 24;
    for (const r of recs) size += 16 + r.frame.length;
    const out = new Uint8Array(size);
    const dv = view(out);
    dv.setUint32(0, 0xa1b2c3d4, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setUint32(16, 262144, true);
    dv.setUint32(20, 1, true); // LINKTYPE_ETHERNET
    let o = 24;
    for (const r of recs) {
      const us = Math.round((this.epochMs + r.t) * 1000);
      dv.setUint32(o, Math.floor(us / 1e6), true);
      dv.setUint32(o + 4, us % 1e6, true);
      dv.setUint32(o + 8, r.frame.length, true);
      dv.setUint32(o + 12, r.frame.length, true);
      out.set(r.frame, o + 16);
      o += 16 + r.frame.length;
    }
    return out;
  }

  /** Writes one file per link into `dir` (created if needed); returns the paths written, sorted. */
  flush(dir: string): string[] {
    this.io.mkdir(dir);
    const names = new Map<string, string>();
    const out: string[] = [];
    for (const link of this.links) {
      let name = pcapFileName(link);
      // Two links may sanitise to the same name: number the later one.
      for (let k = 2; [...names.values()].includes(name); k++) name = pcapFileName(`${link}-${k}`);
      names.set(link, name);
      const path = join(dir, name);
      this.io.writeFile(path, this.fileBytes(link));
      out.push(path);
    }
    return out;
  }

  // ---- frames

  private push(link: string, t: number, frame: Uint8Array): void {
    let recs = this.perLink.get(link);
    if (!recs) this.perLink.set(link, (recs = []));
    recs.push({ t, frame });
  }

  private addr(a: string): Uint8Array {
    let b = this.addrs.get(a);
    if (!b) {
      b = addressBytes(parseIP(a));
      this.addrs.set(a, b);
    }
    return b;
  }

  /** A locally administered MAC derived from the address, so each host keeps one across files. */
  private mac(a: string): Uint8Array {
    let m = this.macs.get(a);
    if (!m) {
      const h = hash(a);
      m = new Uint8Array([0x02, 0x42, h >>> 24, (h >>> 16) & 255, (h >>> 8) & 255, h & 255]);
      this.macs.set(a, m);
    }
    return m;
  }

  private ether(src: string, dst: string, ipPacket: Uint8Array): Uint8Array {
    const frame = new Uint8Array(14 + ipPacket.length);
    frame.set(this.mac(dst), 0);
    frame.set(this.mac(src), 6);
    view(frame).setUint16(12, (ipPacket[0] as number) >> 4 === 6 ? ETH_IPV6 : ETH_IPV4);
    frame.set(ipPacket, 14);
    return frame;
  }

  /** An Ethernet frame with an IP header for `l4Len` octets of protocol `proto`; l4 is where they go. */
  private ipFrame(srcText: string, dstText: string, src: Uint8Array, dst: Uint8Array, proto: number, l4Len: number): { frame: Uint8Array; l4: number } {
    const v4 = src.length === 4;
    const ipLen = (v4 ? 20 : 40) + l4Len;
    const frame = new Uint8Array(14 + ipLen);
    frame.set(this.mac(dstText), 0);
    frame.set(this.mac(srcText), 6);
    const dv = view(frame);
    dv.setUint16(12, v4 ? ETH_IPV4 : ETH_IPV6);
    writeIp(frame, 14, src, dst, proto, ipLen, (this.ipId = (this.ipId + 1) & 0xffff));
    return { frame, l4: 14 + (v4 ? 20 : 40) };
  }

  /** The inner IP packet of a probe, `size` octets long when that is above the headers' size. */
  private innerPacket(p: DataPacket): Uint8Array {
    const src = this.addr(p.src);
    const dst = this.addr(p.dst);
    if (src.length !== dst.length) throw new Error(`probe ${p.src} > ${p.dst}: addresses of different families`);
    const v4 = src.length === 4;
    const ipHdr = v4 ? 20 : 40;
    const l4Min = p.protocol === "tcp" ? 20 : 8;
    const ipLen = Math.max(Math.floor(p.size), ipHdr + l4Min);
    const l4Len = ipLen - ipHdr;
    const pkt = new Uint8Array(ipLen);
    const proto = p.protocol === "tcp" ? 6 : p.protocol === "udp" ? 17 : v4 ? 1 : 58;
    writeIp(pkt, 0, src, dst, proto, ipLen, (this.ipId = (this.ipId + 1) & 0xffff));
    const dv = view(pkt);
    const l4 = ipHdr;
    // Padding stays zero: a pattern would look like a malformed request to dissectors (HTTP on port 80).
    if (p.protocol === "icmp") {
      pkt[l4] = v4 ? 8 : 128; // echo request
      dv.setUint16(l4 + 4, 0x6263); // identifier "bc"
      dv.setUint16(l4 + 6, this.ipId);
      dv.setUint16(l4 + 2, v4 ? checksum(pkt, l4, l4Len, 0) : l4Checksum(pkt, l4, l4Len, src, dst, 58));
    } else if (p.protocol === "udp") {
      dv.setUint16(l4, p.srcPort ?? 33434);
      dv.setUint16(l4 + 2, p.dstPort ?? 33434);
      dv.setUint16(l4 + 4, l4Len);
      dv.setUint16(l4 + 6, udpChecksum(pkt, l4, l4Len, src, dst));
    } else {
      dv.setUint16(l4, p.srcPort ?? 40000);
      dv.setUint16(l4 + 2, p.dstPort ?? 80);
      dv.setUint32(l4 + 4, hash(`${p.src}>${p.dst}`));
      pkt[l4 + 12] = 5 << 4;
      pkt[l4 + 13] = 0x02; // SYN
      dv.setUint16(l4 + 14, 65535);
      dv.setUint16(l4 + 16, l4Checksum(pkt, l4, l4Len, src, dst, 6));
    }
    return pkt;
  }
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function writeIp(buf: Uint8Array, o: number, src: Uint8Array, dst: Uint8Array, proto: number, ipLen: number, id: number): void {
  const dv = view(buf);
  if (src.length === 4) {
    buf[o] = 0x45;
    dv.setUint16(o + 2, ipLen);
    dv.setUint16(o + 4, id);
    dv.setUint16(o + 6, 0x4000); // DF
    buf[o + 8] = 64;
    buf[o + 9] = proto;
    buf.set(src, o + 12);
    buf.set(dst, o + 16);
    dv.setUint16(o + 10, checksum(buf, o, 20, 0));
  } else {
    buf[o] = 0x60;
    dv.setUint16(o + 4, ipLen - 40);
    buf[o + 6] = proto;
    buf[o + 7] = 64;
    buf.set(src, o + 8);
    buf.set(dst, o + 24);
  }
}

/** Sum of 16-bit big-endian words (odd length padded with zero), not yet folded or inverted. */
function sum16(buf: Uint8Array, o: number, len: number, acc: number): number {
  let s = acc;
  const end = o + len - 1;
  let i = o;
  for (; i < end; i += 2) s += ((buf[i] as number) << 8) | (buf[i + 1] as number);
  if (i === end) s += (buf[i] as number) << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** The Internet checksum of buf[o, o+len) plus `acc` (RFC 1071). */
function checksum(buf: Uint8Array, o: number, len: number, acc: number): number {
  return ~fold(sum16(buf, o, len, acc)) & 0xffff;
}

/** TCP/UDP/ICMPv6 checksum with the IPv4 or IPv6 pseudo-header; the checksum field must be zero. */
function l4Checksum(buf: Uint8Array, o: number, len: number, src: Uint8Array, dst: Uint8Array, proto: number): number {
  let acc = sum16(src, 0, src.length, 0);
  acc = sum16(dst, 0, dst.length, acc);
  acc += proto + len; // folding later adds the length's two 16-bit halves
  return checksum(buf, o, len, acc);
}

/** UDP: a computed zero is sent as 0xffff (zero means "no checksum"). */
function udpChecksum(buf: Uint8Array, o: number, len: number, src: Uint8Array, dst: Uint8Array): number {
  return l4Checksum(buf, o, len, src, dst, 17) || 0xffff;
}

/** FNV-1a, for MACs and flow entropy. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
