// A few speakers on a LoopbackNetwork and a ManualClock, with a recording RouteSink each.
import { formatIP, formatPrefix } from "../../../src/core/net/ip.ts";
import { LoopbackNetwork } from "../../../src/core/bgp/loopback.ts";
import { ManualClock } from "../../../src/core/bgp/manual-clock.ts";
import type { Connection, RouteChanges, RouteSink } from "../../../src/core/bgp/ports.ts";
import { decodeMessage, encodeMessage, type Message, MessageFramer, MessageType, type OpenMessage } from "../../../src/core/bgp/wire/index.ts";
import { type PeerConfig, Speaker, type SpeakerConfig } from "../../../src/core/bgp/speaker.ts";

export class RecordingSink implements RouteSink {
  /** prefix text -> "blackhole" or the next hop text */
  table = new Map<string, string>();
  batches: RouteChanges[] = [];
  apply(changes: RouteChanges): void {
    this.batches.push(changes);
    for (const p of changes.remove) this.table.delete(formatPrefix(p));
    for (const r of changes.add) {
      this.table.set(formatPrefix(r.prefix), r.kind === "blackhole" ? "blackhole" : r.nextHops.map((h) => formatIP(h.family, h.value)).join(","));
    }
  }
}

export interface Node {
  address: string;
  speaker: Speaker;
  sink: RecordingSink;
  logs: string[];
}

export class Lab {
  clock = new ManualClock();
  net = new LoopbackNetwork(this.clock, 1);
  nodes = new Map<string, Node>();

  add(address: string, config: Omit<SpeakerConfig, "routerId"> & { routerId?: SpeakerConfig["routerId"] }): Node {
    const sink = new RecordingSink();
    const logs: string[] = [];
    const speaker = new Speaker(
      { listen: { address }, routerId: address.includes(":") ? `10.255.0.${this.nodes.size + 1}` : address, log: (e) => logs.push(e), ...config },
      { clock: this.clock, transport: this.net.transport(address), sink },
    );
    const node = { address, speaker, sink, logs };
    this.nodes.set(address, node);
    return node;
  }

  node(address: string): Node {
    const n = this.nodes.get(address);
    if (!n) throw new Error(`no node ${address}`);
    return n;
  }

  startAll(): void {
    for (const n of this.nodes.values()) n.speaker.start();
  }

  /** Advances virtual time in 100 ms steps. */
  run(seconds: number): void {
    for (let i = 0; i < seconds * 10; i++) this.clock.advance(100);
  }

  state(a: string, b: string): string | undefined {
    return this.node(a).speaker.peers().find((p) => p.address === b)?.state;
  }
}

/** iBGP full mesh among addresses, AS 64512, Calico's passive rule off (both connect). */
export function meshPeers(self: string, all: readonly string[], extra: Partial<PeerConfig> = {}): PeerConfig[] {
  return all.filter((a) => a !== self).map((a) => ({ address: a, asNumber: 64512, ...extra }));
}

/** A hand-driven BGP peer: sends what the test says, records what it gets. */
export function rawPeer(lab: Lab, from: string, to: string, opts: { fourOctetAs?: boolean } = {}): { conn: Connection; got: Message[]; closed: () => boolean } {
  const got: Message[] = [];
  const framer = new MessageFramer();
  let closed = false;
  const conn = lab.net.transport(from).connect({ remoteAddress: to, remotePort: 179 }, () => {});
  conn.onData((b) => {
    for (const m of framer.push(b)) got.push(decodeMessage(m, { fourOctetAs: opts.fourOctetAs ?? true }));
  });
  conn.onClose(() => {
    closed = true;
  });
  return { conn, got, closed: () => closed };
}

export const open = (over: Partial<OpenMessage> = {}): Uint8Array =>
  encodeMessage({
    type: MessageType.OPEN,
    version: 4,
    myAs: 64512,
    holdTime: 90,
    bgpId: 0x0a000063,
    capabilities: [{ kind: "multiprotocol", afi: 1, safi: 1 }, { kind: "four-octet-as", asn: 64512 }],
    ...over,
  });
export const notifications = (ms: Message[]): string[] => ms.flatMap((m) => (m.type === MessageType.NOTIFICATION ? [`${m.code}/${m.subcode}`] : []));


/** kill -9 of a node: its connections reset without NOTIFICATION, its speaker never acts again. */
export function crash(lab: Lab, address: string): void {
  lab.net.crash(address);
  lab.node(address).speaker.stop(); // everything it sends now goes nowhere
}
