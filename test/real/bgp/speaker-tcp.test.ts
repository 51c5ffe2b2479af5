// The core speaker on the real adapters: two speakers on loopback addresses over node:net with the
// wall clock reach Established, exchange routes (blackholes for their own blocks, unicast via the
// peer), and a peer that sends garbage is answered with a NOTIFICATION and dropped while the
// other session lives on.
import { afterEach, describe, expect, test } from "@jest/globals";
import net from "node:net";
import { Speaker } from "../../../src/core/bgp/index.ts";
import type { RouteChanges } from "../../../src/core/bgp/ports.ts";
import { decodeMessage, MessageFramer, MessageType } from "../../../src/core/bgp/wire/index.ts";
import { formatAddress, formatPrefix } from "../../../src/core/net/ip.ts";
import { WallClock } from "../../../real/bgp/clock.ts";
import { TcpTransport } from "../../../real/bgp/tcp-transport.ts";

const speakers: Speaker[] = [];
afterEach(() => {
  for (const s of speakers.splice(0)) s.stop();
});

const until = async (cond: () => boolean, what: string, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

function sink(): { apply: (c: RouteChanges) => void; table: Map<string, string> } {
  const table = new Map<string, string>();
  return {
    table,
    apply: (c) => {
      for (const p of c.remove) table.delete(formatPrefix(p));
      for (const r of c.add) table.set(formatPrefix(r.prefix), r.kind === "blackhole" ? "blackhole" : r.nextHops.map(formatAddress).join(","));
    },
  };
}

/** A free TCP port (bound and released on 127.0.0.1). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("Speaker over TcpTransport and WallClock", () => {
  test("two iBGP speakers on 127.0.0.1 and 127.0.0.2 reach Established and exchange routes", async () => {
    const port = await freePort();
    const clock = new WallClock({ unref: true });
    const sa = sink();
    const sb = sink();
    const a = new Speaker(
      { asNumber: 64512, routerId: "127.0.0.1", listen: { address: "127.0.0.1", port }, peers: [{ address: "127.0.0.2", asNumber: 64512, port, localAddress: "127.0.0.1", holdTime: 9, connectRetryTime: 1 }] },
      { clock, transport: new TcpTransport(), sink: sa },
    );
    const b = new Speaker(
      { asNumber: 64512, routerId: "127.0.0.2", listen: { address: "127.0.0.2", port }, peers: [{ address: "127.0.0.1", asNumber: 64512, port, localAddress: "127.0.0.2", holdTime: 9, connectRetryTime: 1 }] },
      { clock, transport: new TcpTransport(), sink: sb },
    );
    speakers.push(a, b);
    a.start();
    b.start();
    a.originate("10.1.0.0/26", { blackhole: true });
    b.originate("10.2.0.0/26", { blackhole: true });
    await until(() => a.peers()[0]?.state === "Established" && b.peers()[0]?.state === "Established", "Established");
    await until(() => sa.table.get("10.2.0.0/26") === "127.0.0.2" && sb.table.get("10.1.0.0/26") === "127.0.0.1", "routes both ways");
    expect(sa.table.get("10.1.0.0/26")).toBe("blackhole");
    b.withdraw("10.2.0.0/26");
    await until(() => !sa.table.has("10.2.0.0/26"), "withdrawal");
  });

  test("a peer sending garbage gets a NOTIFICATION and is dropped; the good session stays up", async () => {
    const port = await freePort();
    const clock = new WallClock({ unref: true });
    const a = new Speaker(
      {
        asNumber: 64512,
        routerId: "127.0.0.1",
        listen: { address: "127.0.0.1", port },
        peers: [
          { address: "127.0.0.2", asNumber: 64512, port, passive: true, holdTime: 9 },
          { address: "127.0.0.3", asNumber: 64512, port, passive: true, holdTime: 9 },
        ],
      },
      { clock, transport: new TcpTransport(), sink: sink() },
    );
    const b = new Speaker(
      { asNumber: 64512, routerId: "127.0.0.2", peers: [{ address: "127.0.0.1", asNumber: 64512, port, localAddress: "127.0.0.2", holdTime: 9, connectRetryTime: 1 }] },
      { clock, transport: new TcpTransport(), sink: sink() },
    );
    speakers.push(a, b);
    a.start();
    b.start();
    await until(() => a.peers().find((p) => p.address === "127.0.0.2")?.state === "Established", "the good session");
    // A raw socket from 127.0.0.3 sends 40 octets of garbage (no marker).
    const got: Buffer[] = [];
    const sock = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.3" });
    sock.on("data", (d) => got.push(d));
    sock.on("error", () => undefined);
    const ended = new Promise<void>((r) => sock.on("close", () => r()));
    await new Promise<void>((r) => sock.on("connect", () => r()));
    sock.write(Buffer.alloc(40, 0x41));
    await ended;
    const msgs = new MessageFramer().push(new Uint8Array(Buffer.concat(got))).map((m) => decodeMessage(m));
    const note = msgs.find((m) => m.type === MessageType.NOTIFICATION);
    expect(note).toMatchObject({ code: 1, subcode: 1 });
    expect(a.peers().find((p) => p.address === "127.0.0.2")?.state).toBe("Established");
  });
});
