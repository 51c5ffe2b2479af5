// A classic-pcap reader (Ethernet, optional 802.1Q/QinQ, IPv4/IPv6, TCP) with per-direction TCP
// reassembly: enough to feed captured BGP streams to the decoder. pcapng and nanosecond-resolution
// files are refused with a PcapFormatError rather than misread.
import { readFileSync } from "node:fs";

export class PcapFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PcapFormatError";
  }
}

export interface TcpSegment {
  frame: number; // 1-based, as tshark numbers frames
  /** Capture time in seconds since the epoch (microsecond resolution). */
  time: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  flags: number;
  payload: Uint8Array;
}

export interface TcpStream {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** The in-order payload of one direction of one connection. */
  data: Uint8Array;
  /** Segments that carried new data, with where their data starts in `data`. */
  segments: TcpSegment[];
  offsets: number[];
  /** Set when a sequence gap stopped reassembly: data after the gap is missing. */
  gapAtFrame?: number;
}

const SYN = 0x02;

function ipv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** Full (uncompressed) hex groups: tests and tshark's field output compare these forms. */
function ipv6(b: Uint8Array, o: number): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push((((b[o + i] ?? 0) << 8) | (b[o + i + 1] ?? 0)).toString(16));
  return words.join(":");
}

/** Why a file is not a microsecond classic pcap, or undefined when it is one (and its byte order). */
function classify(magicLE: number, path: string): { little: boolean } {
  switch (magicLE) {
    case 0xa1b2c3d4:
      return { little: true };
    case 0xd4c3b2a1:
      return { little: false };
    case 0xa1b23c4d:
    case 0x4d3cb2a1:
      throw new PcapFormatError(`${path}: nanosecond-resolution pcap is not supported; capture with tcpdump's default (microsecond) precision or convert it with "editcap -F pcap"`);
    case 0x0a0d0d0a:
      throw new PcapFormatError(`${path}: pcapng is not supported; convert it with "editcap -F pcap ${path} out.pcap" or capture with "tcpdump -w"`);
    default:
      throw new PcapFormatError(`${path}: not a classic pcap file (magic 0x${magicLE.toString(16).padStart(8, "0")})`);
  }
}

export function parseTcpSegments(file: Uint8Array, path = "<pcap>"): TcpSegment[] {
  if (file.length < 24) throw new PcapFormatError(`${path}: too short for a pcap global header (${file.length} octets)`);
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const { little } = classify(dv.getUint32(0, true), path);
  const linkType = dv.getUint32(20, little);
  if (linkType !== 1) throw new PcapFormatError(`${path}: link type ${linkType}, only Ethernet (1) is supported`);
  const out: TcpSegment[] = [];
  let o = 24;
  let frame = 0;
  while (o + 16 <= file.length) {
    const sec = dv.getUint32(o, little);
    const usec = dv.getUint32(o + 4, little);
    const inclLen = dv.getUint32(o + 8, little);
    if (o + 16 + inclLen > file.length) throw new PcapFormatError(`${path}: record ${frame + 1} is truncated (file ends inside it)`);
    const pkt = file.subarray(o + 16, o + 16 + inclLen);
    o += 16 + inclLen;
    frame++;
    const seg = tcpOf(pkt);
    if (seg) out.push({ frame, time: sec + usec / 1e6, ...seg });
  }
  return out;
}

/** The TCP segment in one Ethernet frame, or undefined for anything else or a frame cut short. */
function tcpOf(pkt: Uint8Array): Omit<TcpSegment, "frame" | "time"> | undefined {
  const pdv = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  const u16 = (at: number): number => (at + 2 <= pkt.length ? pdv.getUint16(at) : -1);
  let p = 12;
  let etherType = u16(p);
  p += 2;
  while (etherType === 0x8100 || etherType === 0x88a8) {
    etherType = u16(p + 2);
    p += 4;
  }
  let src: string;
  let dst: string;
  let proto: number;
  let l4: number;
  let l4End: number;
  if (etherType === 0x0800 && p + 20 <= pkt.length) {
    const ihl = ((pkt[p] ?? 0) & 15) * 4;
    proto = pkt[p + 9] ?? 0;
    src = ipv4(pkt, p + 12);
    dst = ipv4(pkt, p + 16);
    l4 = p + ihl;
    l4End = p + u16(p + 2);
  } else if (etherType === 0x86dd && p + 40 <= pkt.length) {
    proto = pkt[p + 6] ?? 0;
    src = ipv6(pkt, p + 8);
    dst = ipv6(pkt, p + 24);
    l4 = p + 40;
    l4End = l4 + u16(p + 4);
  } else return undefined;
  if (proto !== 6 || l4 + 20 > pkt.length) return undefined;
  const dataOff = ((pkt[l4 + 12] ?? 0) >> 4) * 4;
  return {
    src,
    dst,
    srcPort: pdv.getUint16(l4),
    dstPort: pdv.getUint16(l4 + 2),
    seq: pdv.getUint32(l4 + 4),
    flags: pkt[l4 + 13] ?? 0,
    payload: pkt.slice(Math.min(l4 + dataOff, pkt.length), Math.min(Math.max(l4End, l4 + dataOff), pkt.length)),
  };
}

export function readTcpSegments(path: string): TcpSegment[] {
  return parseTcpSegments(new Uint8Array(readFileSync(path)), path);
}

/**
 * Reassembles each direction of each connection; retransmitted bytes are dropped and segments that
 * arrive ahead of a gap wait until it is filled. A gap never filled throws, unless `onGap` is "stop",
 * which ends that direction there and records `gapAtFrame`.
 */
export function tcpStreams(segments: readonly TcpSegment[], options: { onGap?: "throw" | "stop" } = {}): TcpStream[] {
  interface Open {
    key: string;
    s: TcpStream;
    next: number | undefined;
    parts: Uint8Array[];
    length: number;
    ahead: TcpSegment[];
  }
  const streams: TcpStream[] = [];
  const open = new Map<string, Open>();
  const append = (st: Open, seg: TcpSegment): boolean => {
    const next = st.next ?? seg.seq;
    const ahead = (seg.seq - next) | 0;
    if (ahead > 0) return false;
    st.next = next;
    const skip = -ahead;
    if (skip >= seg.payload.length) return true; // pure retransmission
    st.s.offsets.push(st.length);
    st.parts.push(seg.payload.subarray(skip));
    st.length += seg.payload.length - skip;
    st.s.segments.push(seg);
    st.next = (next + seg.payload.length - skip) >>> 0;
    return true;
  };
  const finish = (st: Open): void => {
    if (st.ahead.length > 0) {
      const first = st.ahead.reduce((a, b) => (((a.seq - b.seq) | 0) <= 0 ? a : b));
      const gap = ((first.seq - (st.next ?? first.seq)) | 0) >>> 0;
      if (options.onGap !== "stop") throw new PcapFormatError(`frame ${first.frame}: ${gap}-octet gap in ${st.key}`);
      st.s.gapAtFrame = first.frame;
    }
    const data = new Uint8Array(st.length);
    let o = 0;
    for (const x of st.parts) {
      data.set(x, o);
      o += x.length;
    }
    st.s.data = data;
    streams.push(st.s);
  };
  for (const seg of segments) {
    const key = `${seg.src}|${seg.srcPort}|${seg.dst}|${seg.dstPort}`;
    let st = open.get(key);
    if (st && seg.flags & SYN) {
      finish(st);
      st = undefined;
    }
    if (!st) {
      st = {
        key,
        s: { src: seg.src, dst: seg.dst, srcPort: seg.srcPort, dstPort: seg.dstPort, data: new Uint8Array(0), segments: [], offsets: [] },
        next: undefined,
        parts: [],
        length: 0,
        ahead: [],
      };
      open.set(key, st);
    }
    if (seg.flags & SYN) {
      st.next = (seg.seq + 1) >>> 0;
      continue;
    }
    if (seg.payload.length === 0) continue;
    if (!append(st, seg)) {
      st.ahead.push(seg);
      continue;
    }
    // The new data may have filled a gap: take whatever waiting segments now fit.
    for (let progressed = true; progressed && st.ahead.length > 0; ) {
      progressed = false;
      for (let i = 0; i < st.ahead.length; i++) {
        if (append(st, st.ahead[i] as TcpSegment)) {
          st.ahead.splice(i, 1);
          progressed = true;
          break;
        }
      }
    }
  }
  for (const st of open.values()) finish(st);
  return streams.filter((s) => s.data.length > 0);
}

/** The frame whose segment holds octet `offset` of the stream (where a message ending there completed). */
export function frameAt(stream: TcpStream, offset: number): number {
  return segmentAt(stream, offset)?.frame ?? -1;
}

/** The segment holding octet `offset` of the stream (binary search over the segment offsets). */
export function segmentAt(stream: TcpStream, offset: number): TcpSegment | undefined {
  let lo = 0;
  let hi = stream.offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((stream.offsets[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return stream.segments[lo];
}

/**
 * Writes payloads as one TCP stream (IPv4 src:40000 → dst:179, consecutive sequence numbers, no
 * handshake) in a classic Ethernet pcap, so an independent decoder such as tshark can read them.
 */
export function tcpStreamPcap(payloads: readonly Uint8Array[], src = [192, 0, 2, 1], dst = [192, 0, 2, 2]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const global = new DataView(new ArrayBuffer(24));
  global.setUint32(0, 0xa1b2c3d4, true);
  global.setUint16(4, 2, true);
  global.setUint16(6, 4, true);
  global.setUint32(16, 262144, true);
  global.setUint32(20, 1, true);
  chunks.push(new Uint8Array(global.buffer));
  let seq = 1000;
  payloads.forEach((payload, i) => {
    const frame = new Uint8Array(14 + 20 + 20 + payload.length);
    const dv = new DataView(frame.buffer);
    frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
    dv.setUint16(12, 0x0800);
    const ip = 14;
    frame[ip] = 0x45;
    dv.setUint16(ip + 2, 40 + payload.length);
    dv.setUint16(ip + 4, i + 1);
    dv.setUint16(ip + 6, 0x4000);
    frame[ip + 8] = 64;
    frame[ip + 9] = 6;
    frame.set(src, ip + 12);
    frame.set(dst, ip + 16);
    let sum = 0;
    for (let k = 0; k < 20; k += 2) sum += dv.getUint16(ip + k);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    dv.setUint16(ip + 10, ~sum & 0xffff);
    const tcp = ip + 20;
    dv.setUint16(tcp, 40000);
    dv.setUint16(tcp + 2, 179);
    dv.setUint32(tcp + 4, seq);
    dv.setUint32(tcp + 8, 1);
    frame[tcp + 12] = 5 << 4;
    frame[tcp + 13] = 0x18; // PSH, ACK
    dv.setUint16(tcp + 14, 65535);
    frame.set(payload, tcp + 20);
    seq += payload.length;
    const rec = new DataView(new ArrayBuffer(16));
    rec.setUint32(0, 1_700_000_000 + i, true);
    rec.setUint32(8, frame.length, true);
    rec.setUint32(12, frame.length, true);
    chunks.push(new Uint8Array(rec.buffer), frame);
  });
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
