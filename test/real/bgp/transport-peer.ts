// A TcpTransport end point run as its own process inside a namespace (`ip netns exec NS npx tsx ...`):
//   server ADDR PORT                  echo every byte back; prints "listening"
//   client SRC DST PORT BYTES         send BYTES pseudo-random octets from SRC, check the echo,
//                                     print a JSON line with what the connection looked like
import { TcpTransport } from "../../../real/bgp/tcp-transport.ts";

const [mode, ...args] = process.argv.slice(2);
const t = new TcpTransport();

if (mode === "server") {
  const [addr = "0.0.0.0", port = "179"] = args;
  const l = await t.listenAsync(addr, Number(port), (c) => {
    c.onData((b) => c.send(b.slice()));
    c.onClose(() => undefined);
  });
  console.log(`listening ${l.address} ${l.port}`);
} else if (mode === "client") {
  const [src = "", dst = "", port = "179", bytes = "1000"] = args;
  const n = Number(bytes);
  const data = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) data[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  const got: Uint8Array[] = [];
  let total = 0;
  const conn = t.connect({ remoteAddress: dst, remotePort: Number(port), localAddress: src }, (c) => {
    for (let o = 0; o < n; o += 4096) c.send(data.slice(o, o + 4096));
  });
  conn.onData((b) => {
    got.push(b.slice());
    total += b.length;
    if (total >= n) {
      const all = Buffer.concat(got);
      console.log(JSON.stringify({ local: conn.localAddress, remote: conn.remoteAddress, remotePort: conn.remotePort, received: total, same: Buffer.compare(all, Buffer.from(data)) === 0 }));
      conn.close();
    }
  });
  conn.onClose((r) => {
    if (r !== "closed") {
      console.log(JSON.stringify({ error: r }));
      process.exitCode = 1;
    }
  });
}
