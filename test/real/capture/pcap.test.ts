// TCP reassembly of the pcap reader: retransmissions, segments ahead of a gap, gaps never filled.
import { describe, expect, test } from "@jest/globals";
import { parseTcpSegments, PcapFormatError, tcpStreamPcap, tcpStreams, type TcpSegment } from "../../../real/capture/pcap.ts";

const seg = (frame: number, seq: number, text: string, flags = 0x18): TcpSegment => ({
  frame,
  time: frame,
  src: "192.0.2.1",
  dst: "192.0.2.2",
  srcPort: 40000,
  dstPort: 179,
  seq,
  flags,
  payload: new TextEncoder().encode(text),
});
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("tcpStreams", () => {
  test("out-of-order segments wait for the gap to fill; retransmissions are dropped", () => {
    const s = tcpStreams([seg(1, 99, "", 0x02), seg(2, 100, "abc"), seg(3, 106, "ghi"), seg(4, 103, "def"), seg(5, 103, "def"), seg(6, 109, "j")]);
    expect(s.map((x) => text(x.data))).toEqual(["abcdefghij"]);
    expect(s[0]?.segments.map((x) => x.frame)).toEqual([2, 4, 3, 6]);
  });

  test("a gap never filled throws, or with onGap: stop ends the direction there", () => {
    const segs = [seg(1, 100, "abc"), seg(2, 110, "xyz")];
    expect(() => tcpStreams(segs)).toThrow(PcapFormatError);
    expect(() => tcpStreams(segs)).toThrow(/frame 2: 7-octet gap/);
    const s = tcpStreams(segs, { onGap: "stop" });
    expect(s.map((x) => [text(x.data), x.gapAtFrame])).toEqual([["abc", 2]]);
  });

  test("the writer's output reads back, and a file cut inside a record is an error", () => {
    const file = tcpStreamPcap([Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5)]);
    expect(tcpStreams(parseTcpSegments(file)).map((x) => Array.from(x.data))).toEqual([[1, 2, 3, 4, 5]]);
    expect(() => parseTcpSegments(file.subarray(0, file.length - 1), "cut.pcap")).toThrow(/cut.pcap: record 2 is truncated/);
  });
});
