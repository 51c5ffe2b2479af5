// The standalone speaker's message counters over real TCP on loopback: `bgp show peers --output json`
// carries each peer's counters, the "counters" control command the totals, and what one daemon
// counts as sent the other counts as received.
import { afterAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { queryControl, SpeakerDaemon } from "../../../real/bgp/daemon.ts";
import { speakerConfigSchema } from "../../../real/bgp/daemon-config.ts";
import type { PeerCounters } from "../../../src/core/bgp/index.ts";
import { runCli } from "../../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "bc-bgp-counters-"));
const daemons: SpeakerDaemon[] = [];
afterAll(async () => {
  for (const d of daemons) await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const until = async (cond: () => boolean, what: string, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe("speaker daemon counters", () => {
  test("bgp show peers --output json and the counters command report exact message counts", async () => {
    const port = await freePort();
    const make = (me: string, peer: string, as: number, peerAs: number, originate: string[], passive: boolean): SpeakerDaemon => {
      const config = speakerConfigSchema.parse({
        asNumber: as,
        routerId: me,
        listen: { address: me, port },
        import: "all", // eBGP: RFC 8212 denies without a policy
        export: "all",
        peers: [{ address: peer, asNumber: peerAs, port, localAddress: me, passive }],
        originate,
        control: { socket: join(dir, `${me}.sock`) },
      });
      const d = new SpeakerDaemon(config, { log: () => undefined });
      daemons.push(d);
      return d;
    };
    const a = make("127.0.0.1", "127.0.0.2", 64512, 64513, ["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"], false);
    const b = make("127.0.0.2", "127.0.0.1", 64513, 64512, [], true);
    await b.start();
    await a.start();
    await until(() => b.routes().length === 3 && a.peers()[0]?.state === "Established", "3 routes on B");
    a.speaker.withdraw("10.1.2.0/24");
    await until(() => b.routes().length === 2, "the withdrawal on B");

    const r = await runCli(["bgp", "show", "peers", "--socket", join(dir, "127.0.0.1.sock"), "--output", "json"]);
    expect(r.code).toBe(0);
    const shown = (JSON.parse(r.stdout) as { peers: { address: string; counters: PeerCounters }[] }).peers;
    expect(shown).toHaveLength(1);
    const sent = shown[0]!.counters.sent;
    expect(sent).toMatchObject({ open: 1, notification: 0, prefixesAnnounced: 3, prefixesWithdrawn: 1 });
    // Originations come one at a time (3 UPDATEs or fewer), a withdrawal, and End-of-RIB.
    expect(sent.update).toBeGreaterThanOrEqual(3);
    expect(sent.keepalive).toBeGreaterThanOrEqual(1);

    // B has read everything A sent by now (the withdrawal arrived): the same counts on both sides.
    const bReceived = b.peers()[0]!.counters.received;
    for (const k of ["open", "update", "updateBytes", "prefixesAnnounced", "prefixesWithdrawn", "notification"] as const) expect(bReceived[k]).toBe(sent[k]);

    const totals = (await queryControl(join(dir, "127.0.0.2.sock"), "counters")).counters as PeerCounters;
    expect(totals.received.prefixesAnnounced).toBe(3);
    expect(totals.sent.open).toBe(1);
  }, 60_000);
});
