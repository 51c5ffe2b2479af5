// The node:net Transport: on loopback (source address, IPv6, large transfers, close semantics, every
// error path surfacing as a close reason), and between two network namespaces joined by a veth pair.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { resolve } from "node:path";
import type { CloseReason, Connection } from "../../../src/core/bgp/ports.ts";
import { encodeMessage, MessageFramer, MessageType } from "../../../src/core/bgp/wire/index.ts";
import { TcpTransport, type TcpListener } from "../../../real/bgp/tcp-transport.ts";
import { addNetns, delNetns, describeWithNetns, ip, testNetnsName } from "../../helpers/netns.ts";
import { repoRoot } from "../../helpers/paths.ts";

const t = new TcpTransport();
const listeners: TcpListener[] = [];
const conns: Connection[] = [];
afterEach(() => {
  for (const c of conns.splice(0)) c.close();
  for (const l of listeners.splice(0)) l.close();
});

/** A listener on address:0 whose accepted connections are handed to the returned promise queue. */
async function server(address = "127.0.0.1"): Promise<{ l: TcpListener; next: () => Promise<Connection> }> {
  const queue: Connection[] = [];
  const waiting: ((c: Connection) => void)[] = [];
  const l = await t.listenAsync(address, 0, (c) => {
    conns.push(c);
    const w = waiting.shift();
    if (w) w(c);
    else queue.push(c);
  });
  listeners.push(l);
  return { l, next: () => new Promise((res) => (queue.length ? res(queue.shift() as Connection) : waiting.push(res))) };
}

function connect(port: number, remoteAddress = "127.0.0.1", localAddress?: string): Promise<Connection> {
  return new Promise((res, rej) => {
    const c = t.connect({ remoteAddress, remotePort: port, ...(localAddress ? { localAddress } : {}) }, res);
    conns.push(c);
    c.onClose((r) => rej(new Error(`closed before connecting: ${JSON.stringify(r)}`)));
  });
}

const closed = (c: Connection): Promise<CloseReason> => new Promise((res) => c.onClose(res));
const collect = (c: Connection): Uint8Array[] => {
  const got: Uint8Array[] = [];
  c.onData((b) => got.push(b.slice()));
  return got;
};
const concat = (parts: Uint8Array[]): Buffer => Buffer.concat(parts);
const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

describe("TcpTransport on loopback", () => {
  test("source address, addresses and ports on both ends, BGP messages both ways", async () => {
    const s = await server("127.0.0.1");
    const client = await connect(s.l.port, "127.0.0.1", "127.0.0.2");
    const accepted = await s.next();
    expect(accepted.remoteAddress).toBe("127.0.0.2");
    expect(client.localAddress).toBe("127.0.0.2");
    expect(accepted.remotePort).toBe(client.localPort);
    expect(client.remotePort).toBe(s.l.port);
    const framer = new MessageFramer();
    const atServer: Uint8Array[] = [];
    accepted.onData((b) => atServer.push(...framer.push(b).map((m) => m.slice())));
    const atClient = collect(client);
    const open = encodeMessage({ type: MessageType.OPEN, version: 4, myAs: 65000, holdTime: 90, bgpId: 0x7f000002, capabilities: [{ kind: "route-refresh" }] });
    client.send(open);
    client.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    await until(() => atServer.length === 2, "two messages");
    expect(Buffer.from(atServer[0] as Uint8Array)).toEqual(Buffer.from(open));
    accepted.send(encodeMessage({ type: MessageType.KEEPALIVE }));
    await until(() => concat(atClient).length === 19, "a KEEPALIVE back");
  });

  test("IPv6 on ::1", async () => {
    const s = await server("::1");
    const client = await connect(s.l.port, "::1");
    const accepted = await s.next();
    expect(accepted.remoteAddress).toBe("::1");
    const got = collect(accepted);
    client.send(Uint8Array.of(1, 2, 3));
    await until(() => concat(got).length === 3, "3 octets");
  });

  test("32 MiB in 4 KiB sends arrive complete and in order (writes queue while the kernel buffer is full)", async () => {
    const s = await server();
    const client = await connect(s.l.port);
    const accepted = await s.next();
    const n = 32 * 1024 * 1024;
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) data.writeUInt32BE(i, i);
    let received = 0;
    let ok = true;
    accepted.onData((b) => {
      // Compare as it streams in (keeping 32 MiB of chunks would double the memory).
      if (!data.subarray(received, received + b.length).equals(b)) ok = false;
      received += b.length;
    });
    for (let o = 0; o < n; o += 4096) client.send(data.subarray(o, o + 4096));
    await until(() => received === n, "all octets");
    expect(ok).toBe(true);
  });

  test("close() delivers what was sent first (NOTIFICATION then close); both sides learn why", async () => {
    const s = await server();
    const client = await connect(s.l.port);
    const accepted = await s.next();
    const got = collect(accepted);
    const peerClosed = closed(accepted);
    const weClosed = closed(client);
    const note = encodeMessage({ type: MessageType.NOTIFICATION, code: 6, subcode: 2, data: new Uint8Array(0) });
    client.send(note);
    client.close();
    client.close(); // idempotent
    client.send(Uint8Array.of(9)); // after close: dropped
    expect(await peerClosed).toBe("peer-closed");
    expect(await weClosed).toBe("closed");
    expect(concat(got)).toEqual(Buffer.from(note));
  });

  test("onClose registered after the close still fires, once and asynchronously", async () => {
    const s = await server();
    // Not through connect(), which registers an onClose of its own.
    const client = await new Promise<Connection>((res) => t.connect({ remoteAddress: "127.0.0.1", remotePort: s.l.port }, res));
    const accepted = await s.next();
    accepted.onData(() => undefined);
    client.close();
    await until(() => (client as unknown as { closed: boolean }).closed, "socket closed");
    let calls = 0;
    let sync = true;
    const reason = new Promise<CloseReason>((res) =>
      client.onClose((r) => {
        calls++;
        expect(sync).toBe(false);
        res(r);
      }),
    );
    sync = false;
    expect(await reason).toBe("closed");
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1);
  });

  test("connection refused arrives as an error close reason, onConnected never fires", async () => {
    const s = await server();
    const port = s.l.port;
    s.l.close();
    await new Promise((r) => setTimeout(r, 20));
    let connected = false;
    const c = t.connect({ remoteAddress: "127.0.0.1", remotePort: port }, () => (connected = true));
    const r = await closed(c);
    expect(r).toEqual({ error: expect.stringMatching(/ECONNREFUSED/) });
    expect(connected).toBe(false);
  });

  test("close() before the handshake completes aborts the attempt", async () => {
    let connected = false;
    // 192.0.2.0/24 (TEST-NET-1) is unroutable here, so the SYN goes nowhere or fails fast.
    const c = t.connect({ remoteAddress: "192.0.2.123", remotePort: 179 }, () => (connected = true));
    const r = closed(c);
    c.close();
    expect(await r).not.toBeUndefined();
    expect(connected).toBe(false);
  });

  test("a port already in use rejects listenAsync (EADDRINUSE) and crashes nothing", async () => {
    const s = await server();
    await expect(t.listenAsync("127.0.0.1", s.l.port, () => undefined)).rejects.toMatchObject({ code: "EADDRINUSE" });
    const l = t.listen("127.0.0.1", s.l.port, () => undefined); // ignoring the error is safe too
    await expect(l.ready).rejects.toMatchObject({ code: "EADDRINUSE" });
    l.close();
  });

  test("a receiver that throws ends that connection with an error reason; the listener lives on", async () => {
    const s = await server();
    const client = await connect(s.l.port);
    const accepted = await s.next();
    accepted.onData(() => {
      throw new Error("garbage from the peer");
    });
    const r = closed(accepted);
    client.onData(() => undefined);
    const peer = closed(client);
    client.send(Uint8Array.of(0, 1, 2));
    expect(await r).toEqual({ error: "receiver threw: garbage from the peer" });
    expect(await peer).not.toBe("closed");
    // Another session on the same listener still works.
    const c2 = await connect(s.l.port);
    const a2 = await s.next();
    const got = collect(a2);
    c2.send(Uint8Array.of(7));
    await until(() => got.length === 1, "data on the second connection");
  });

  test("a peer that stops reading is cut off once the send queue passes maxBufferedBytes", async () => {
    const small = new TcpTransport({ maxBufferedBytes: 1024 * 1024 });
    const l = await small.listenAsync("127.0.0.1", 0, (c) => conns.push(c)); // never reads: no onData
    listeners.push(l);
    const c = await new Promise<Connection>((res) => conns.push(small.connect({ remoteAddress: "127.0.0.1", remotePort: l.port }, res)));
    const r = closed(c);
    const chunk = new Uint8Array(64 * 1024);
    for (let i = 0; i < 200 && !(c as unknown as { closed: boolean }).closed; i++) {
      c.send(chunk);
      await new Promise((res) => setImmediate(res));
    }
    expect(await r).toEqual({ error: expect.stringMatching(/^send buffer overflow/) });
  });
});

const nsA = testNetnsName("ta");
const nsB = testNetnsName("tb");

describeWithNetns("transport namespace tests")("TcpTransport between two namespaces", () => {
  let srv: ResultPromise | undefined;
  beforeAll(async () => {
    await delNetns(nsA, nsB);
    await addNetns(nsA);
    await addNetns(nsB);
    await ip("link", "add", "bct-a", "netns", nsA, "type", "veth", "peer", "name", "bct-b", "netns", nsB);
    await ip("-n", nsA, "addr", "add", "192.0.2.1/24", "dev", "bct-a");
    await ip("-n", nsA, "addr", "add", "192.0.2.11/24", "dev", "bct-a");
    await ip("-n", nsB, "addr", "add", "192.0.2.2/24", "dev", "bct-b");
    await ip("-n", nsA, "addr", "add", "2001:db8::1/64", "dev", "bct-a", "nodad");
    await ip("-n", nsB, "addr", "add", "2001:db8::2/64", "dev", "bct-b", "nodad");
    await ip("-n", nsA, "link", "set", "bct-a", "up");
    await ip("-n", nsB, "link", "set", "bct-b", "up");
  });
  afterAll(async () => {
    if (srv?.pid) srv.kill("SIGTERM");
    await srv?.catch(() => undefined);
    await delNetns(nsA, nsB);
  });

  const peer = (ns: string, ...args: string[]): string[] => ["netns", "exec", ns, process.execPath, resolve(repoRoot, "node_modules/tsx/dist/cli.mjs"), resolve(repoRoot, "test/real/bgp/transport-peer.ts"), ...args];

  test("a client in one namespace reaches a listener in the other, from a chosen source address, v4 and v6", async () => {
    srv = execa("ip", peer(nsB, "server", "::", "179"), { buffer: false, reject: false });
    await new Promise<void>((res, rej) => {
      let out = "";
      srv?.stdout?.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes("listening")) res();
      });
      void srv?.then((r) => rej(new Error(`server exited: ${String(r.stderr ?? "")}`)));
    });
    const v4 = await execa("ip", peer(nsA, "client", "192.0.2.11", "192.0.2.2", "179", "300000"));
    expect(JSON.parse(String(v4.stdout))).toEqual({ local: "192.0.2.11", remote: "192.0.2.2", remotePort: 179, received: 300000, same: true });
    const v6 = await execa("ip", peer(nsA, "client", "2001:db8::1", "2001:db8::2", "179", "5000"));
    expect(JSON.parse(String(v6.stdout))).toEqual({ local: "2001:db8::1", remote: "2001:db8::2", remotePort: 179, received: 5000, same: true });
  });
});
