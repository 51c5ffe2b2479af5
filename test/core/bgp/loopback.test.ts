import { describe, expect, test } from "@jest/globals";
import { LoopbackNetwork } from "../../../src/core/bgp/loopback.ts";
import { ManualClock } from "../../../src/core/bgp/manual-clock.ts";
import type { CloseReason, Connection } from "../../../src/core/bgp/ports.ts";

function setup() {
  const clock = new ManualClock();
  const net = new LoopbackNetwork(clock, 2);
  const accepted: Connection[] = [];
  const serverData: number[] = [];
  net.transport("10.0.0.1").listen("0.0.0.0", 179, (c) => {
    accepted.push(c);
    c.onData((b) => serverData.push(...b));
  });
  return { clock, net, accepted, serverData };
}

describe("LoopbackNetwork", () => {
  test("connects, delivers bytes in order after the latency, and reports a clean close on both ends", () => {
    const { clock, net, accepted, serverData } = setup();
    const closes: string[] = [];
    let connected = false;
    const c = net.transport("10.0.0.2").connect({ remoteAddress: "10.0.0.1", remotePort: 179 }, () => (connected = true));
    c.send(Uint8Array.of(1, 2)); // queued until connected
    c.onClose((r) => closes.push(`client ${String(r)}`));
    clock.advance(2);
    expect(connected).toBe(true);
    expect(accepted[0]?.remoteAddress).toBe("10.0.0.2");
    accepted[0]?.onClose((r: CloseReason) => closes.push(`server ${String(r)}`));
    c.send(Uint8Array.of(3));
    c.close();
    c.send(Uint8Array.of(9)); // after close: dropped
    clock.advance(1);
    expect(serverData).toEqual([]);
    clock.advance(1);
    expect(serverData).toEqual([1, 2, 3]);
    expect(closes.sort()).toEqual(["client closed", "server peer-closed"]);
    expect(net.connectionCount).toBe(0);
  });

  test("refused connections and cut links close with an error reason", () => {
    const { clock, net, accepted } = setup();
    const reasons: CloseReason[] = [];
    net.transport("10.0.0.2").connect({ remoteAddress: "10.0.0.3", remotePort: 179 }, () => {}).onClose((r) => reasons.push(r));
    const c = net.transport("10.0.0.2").connect({ remoteAddress: "10.0.0.1", remotePort: 179 }, () => {});
    c.onClose((r) => reasons.push(r));
    clock.advance(5);
    accepted[0]?.onClose((r) => reasons.push(r));
    net.cut("10.0.0.1", "10.0.0.2");
    clock.advance(5);
    expect(reasons).toEqual([{ error: "connect 10.0.0.3:179: connection refused" }, { error: "connection reset" }, { error: "connection reset" }]);
  });

  test("a port can be listened on once per address", () => {
    const { net } = setup();
    expect(() => net.transport("10.0.0.1").listen("10.0.0.1", 179, () => {})).toThrow(/in use/);
  });
});
