// A small classic-pcap reader (Ethernet, optional 802.1Q, IPv4/IPv6, TCP) with per-direction TCP
// reassembly, enough to feed captured BGP streams to the decoder.
import { readFileSync } from "node:fs";

export interface TcpSegment {
  frame: number; // 1-based, as tshark numbers frames
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
}

const SYN = 0x02;

function ipv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6(b: Uint8Array, o: number): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push((((b[o + i] ?? 0) << 8) | (b[o + i + 1] ?? 0)).toString(16));
  return words.join(":");
}

export function readTcpSegments(path: string): TcpSegment[] {
  const file = new Uint8Array(readFileSync(path));
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = dv.getUint32(0, true);
  let little: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) little = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) little = false;
  else throw new Error(`${path}: not a classic pcap file (magic 0x${magic.toString(16)})`);
  const linkType = dv.getUint32(20, little);
  if (linkType !== 1) throw new Error(`${path}: link type ${linkType}, only Ethernet (1) is supported`);
  const out: TcpSegment[] = [];
  let o = 24;
  let frame = 0;
  while (o + 16 <= file.length) {
    const inclLen = dv.getUint32(o + 8, little);
    const pkt = file.subarray(o + 16, o + 16 + inclLen);
    o += 16 + inclLen;
    frame++;
    const pdv = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
    let p = 12;
    let etherType = pdv.getUint16(p);
    p += 2;
    while (etherType === 0x8100 || etherType === 0x88a8) {
      etherType = pdv.getUint16(p + 2);
      p += 4;
    }
    let src: string;
    let dst: string;
    let proto: number;
    let l4: number;
    let l4End: number;
    if (etherType === 0x0800) {
      const ihl = ((pkt[p] ?? 0) & 15) * 4;
      proto = pkt[p + 9] ?? 0;
      src = ipv4(pkt, p + 12);
      dst = ipv4(pkt, p + 16);
      l4 = p + ihl;
      l4End = p + pdv.getUint16(p + 2);
    } else if (etherType === 0x86dd) {
      proto = pkt[p + 6] ?? 0;
      src = ipv6(pkt, p + 8);
      dst = ipv6(pkt, p + 24);
      l4 = p + 40;
      l4End = l4 + pdv.getUint16(p + 4);
    } else continue;
    if (proto !== 6) continue;
    const dataOff = ((pkt[l4 + 12] ?? 0) >> 4) * 4;
    out.push({
      frame,
      src,
      dst,
      srcPort: pdv.getUint16(l4),
      dstPort: pdv.getUint16(l4 + 2),
      seq: pdv.getUint32(l4 + 4),
      flags: pkt[l4 + 13] ?? 0,
      payload: pkt.slice(l4 + dataOff, Math.min(l4End, pkt.length)),
    });
  }
  return out;
}

/** Reassembles each direction of each connection; retransmitted bytes are dropped, gaps are an error. */
export function tcpStreams(segments: readonly TcpSegment[]): TcpStream[] {
  const streams: TcpStream[] = [];
  const open = new Map<string, { s: TcpStream; next: number | undefined; parts: Uint8Array[] }>();
  const finish = (st: { s: TcpStream; parts: Uint8Array[] }): void => {
    const total = st.parts.reduce((n, x) => n + x.length, 0);
    const data = new Uint8Array(total);
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
        s: { src: seg.src, dst: seg.dst, srcPort: seg.srcPort, dstPort: seg.dstPort, data: new Uint8Array(0), segments: [], offsets: [] },
        next: undefined,
        parts: [],
      };
      open.set(key, st);
    }
    if (seg.flags & SYN) {
      st.next = (seg.seq + 1) >>> 0;
      continue;
    }
    if (seg.payload.length === 0) continue;
    st.next ??= seg.seq; // capture started mid-connection
    const ahead = (seg.seq - st.next) | 0;
    if (ahead > 0) throw new Error(`frame ${seg.frame}: ${ahead}-octet gap in ${key}`);
    const skip = -ahead;
    if (skip >= seg.payload.length) continue; // pure retransmission
    st.s.offsets.push(st.parts.reduce((n, x) => n + x.length, 0));
    st.parts.push(seg.payload.subarray(skip));
    st.s.segments.push(seg);
    st.next = (st.next + seg.payload.length - skip) >>> 0;
  }
  for (const st of open.values()) finish(st);
  return streams.filter((s) => s.data.length > 0);
}

/** The frame whose segment holds octet `offset` of the stream (where a message ending there completed). */
export function frameAt(stream: TcpStream, offset: number): number {
  let lo = 0;
  for (let i = 0; i < stream.offsets.length; i++) if ((stream.offsets[i] ?? 0) <= offset) lo = i;
  return stream.segments[lo]?.frame ?? -1;
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
