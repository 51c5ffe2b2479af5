// Every BGP message in a classic pcap: TCP per direction reassembled, framed, decoded with what the
// connection's two OPENs negotiated (4-octet AS, ADD-PATH, Extended Message). A malformed message
// comes back with the BgpWireError it deserves instead of a decoded message; after a header error
// (bad marker or length) the stream is resynchronised at the next marker, which a live session would
// not do (it sends the NOTIFICATION and closes), but which lets a capture be read to its end.
import {
  BgpWireError,
  checkHeader,
  decodeMessage,
  findCapability,
  HEADER_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  type Message,
  MessageType,
  negotiateAddPath,
  type OpenMessage,
} from "../../src/core/bgp/wire/index.ts";
import { parseTcpSegments, readTcpSegments, segmentAt, tcpStreams, type TcpSegment, type TcpStream } from "./pcap.ts";

export const BGP_PORT = 179;

export interface CapturedMessage {
  /** Frame holding the message's last octet (where it became complete). */
  frame: number;
  time: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** Offset of the message in its direction's byte stream. */
  offset: number;
  bytes: Uint8Array;
  /** Exactly one of message and error is set. */
  message?: Message;
  error?: BgpWireError;
  /** Octets skipped after a header error to find the next marker (0 when none were). */
  skipped?: number;
}

export interface CaptureDecode {
  messages: CapturedMessage[];
  /** Directions whose capture ended inside a message, or stopped at a sequence gap. */
  incomplete: { src: string; srcPort: number; dst: string; dstPort: number; reason: string }[];
}

const connKey = (s: { src: string; srcPort: number; dst: string; dstPort: number }): string =>
  [`${s.src}|${s.srcPort}`, `${s.dst}|${s.dstPort}`].sort().join("<>");
const dirKey = (s: { src: string; srcPort: number; dst: string; dstPort: number }): string => `${s.src}|${s.srcPort}>${s.dst}|${s.dstPort}`;

/** The first OPEN in a direction's stream, if it starts with one that decodes. */
function firstOpen(data: Uint8Array): OpenMessage | undefined {
  try {
    const len = checkHeader(data, 0, MAX_MESSAGE_LENGTH);
    if (data[18] !== MessageType.OPEN || data.length < len) return undefined;
    const m = decodeMessage(data.subarray(0, len));
    return m.type === MessageType.OPEN ? m : undefined;
  } catch {
    return undefined;
  }
}

export function decodeBgpSegments(segments: readonly TcpSegment[]): CaptureDecode {
  const bgp = segments.filter((s) => s.srcPort === BGP_PORT || s.dstPort === BGP_PORT);
  const streams = tcpStreams(bgp, { onGap: "stop" });
  const opens = new Map<string, OpenMessage>();
  for (const s of streams) {
    const open = firstOpen(s.data);
    if (open && !opens.has(dirKey(s))) opens.set(dirKey(s), open);
  }
  const out: CapturedMessage[] = [];
  const incomplete: CaptureDecode["incomplete"] = [];
  for (const s of streams) {
    const mine = opens.get(dirKey(s));
    const theirs = opens.get(dirKey({ src: s.dst, srcPort: s.dstPort, dst: s.src, dstPort: s.srcPort }));
    // Without both OPENs (capture started mid-session), assume the modern defaults.
    const both = mine && theirs ? [mine.capabilities, theirs.capabilities] : undefined;
    const fourOctetAs = both ? both.every((c) => findCapability(c, "four-octet-as") !== undefined) : true;
    const extended = both ? both.every((c) => findCapability(c, "extended-message") !== undefined) : false;
    // Path IDs in this direction: what the receiver (theirs) negotiated to receive from the sender.
    const addPath = both && theirs && mine ? negotiateAddPath(theirs.capabilities, mine.capabilities).receive : [];
    const max = extended ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
    out.push(...frameStream(s, { fourOctetAs, addPath, max }, incomplete));
    if (s.gapAtFrame !== undefined) {
      incomplete.push({ src: s.src, srcPort: s.srcPort, dst: s.dst, dstPort: s.dstPort, reason: `sequence gap at frame ${s.gapAtFrame}: the rest of this direction is not decoded` });
    }
  }
  out.sort((a, b) => a.frame - b.frame || a.time - b.time || (connKey(a) < connKey(b) ? -1 : connKey(a) > connKey(b) ? 1 : a.offset - b.offset));
  return { messages: out, incomplete };
}

function frameStream(
  s: TcpStream,
  opts: { fourOctetAs: boolean; addPath: { afi: number; safi: number }[]; max: number },
  incomplete: CaptureDecode["incomplete"],
): CapturedMessage[] {
  const out: CapturedMessage[] = [];
  const data = s.data;
  const at = (offset: number, end: number, bytes: Uint8Array): CapturedMessage => {
    const seg = segmentAt(s, Math.max(offset, end - 1));
    return { frame: seg?.frame ?? -1, time: seg?.time ?? 0, src: s.src, srcPort: s.srcPort, dst: s.dst, dstPort: s.dstPort, offset, bytes };
  };
  let o = 0;
  while (o < data.length) {
    if (data.length - o < HEADER_LENGTH) {
      incomplete.push({ src: s.src, srcPort: s.srcPort, dst: s.dst, dstPort: s.dstPort, reason: `capture ends inside a BGP header (${data.length - o} octets at stream offset ${o})` });
      break;
    }
    let length: number;
    try {
      length = checkHeader(data, o, opts.max);
    } catch (e) {
      if (!(e instanceof BgpWireError)) throw e;
      const next = nextMarker(data, o + 1, opts.max);
      const end = next ?? data.length;
      out.push({ ...at(o, end, data.slice(o, end)), error: e, skipped: end - o });
      o = end;
      continue;
    }
    if (data.length - o < length) {
      incomplete.push({ src: s.src, srcPort: s.srcPort, dst: s.dst, dstPort: s.dstPort, reason: `capture ends inside a ${length}-octet message at stream offset ${o}` });
      break;
    }
    const bytes = data.subarray(o, o + length);
    const rec = at(o, o + length, bytes);
    try {
      rec.message = decodeMessage(bytes, { fourOctetAs: opts.fourOctetAs, addPath: opts.addPath, maxMessageLength: opts.max });
    } catch (e) {
      if (!(e instanceof BgpWireError)) throw e;
      rec.error = e;
    }
    out.push(rec);
    o += length;
  }
  return out;
}

/**
 * The next offset from `from` where a marker starts: a valid header, or the last place a run of
 * 0xff octets could hold a marker (so a header with a bad length is reported on its own).
 */
function nextMarker(data: Uint8Array, from: number, max: number): number | undefined {
  let run = 0;
  for (let i = from; i < data.length; i++) {
    run = data[i] === 0xff ? run + 1 : 0;
    if (run < 16) continue;
    const at = i - 15;
    if (at + HEADER_LENGTH > data.length) return undefined;
    if (data[i + 1] !== 0xff) return at;
    try {
      checkHeader(data, at, max);
      return at;
    } catch {
      // more 0xff follow: the marker may start later
    }
  }
  return undefined;
}

export const decodeBgpCapture = (path: string): CaptureDecode => decodeBgpSegments(readTcpSegments(path));
export const decodeBgpCaptureBytes = (file: Uint8Array, name?: string): CaptureDecode => decodeBgpSegments(parseTcpSegments(file, name));
