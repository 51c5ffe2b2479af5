// The standalone speaker: the core Speaker on TcpTransport and WallClock, best routes written to the
// kernel with our own protocol number, and a unix control socket speaking line-delimited JSON
// (`{"command":"peers"}` → `{"peers":[...]}`, `{"command":"routes"}` → `{"routes":[...]}`,
// `{"command":"counters"}` → `{"counters":{sent,received}}`, the message totals over all peers).
// Import and export policies come from the config (daemon-policy.ts); without one an eBGP peer gets
// RFC 8212's default deny, and start() logs a warning naming it.
// stop() sends Cease to every peer, flushes our protocol's kernel routes and removes the socket file.
import { Speaker, type PeerConfig, type PeerCounters, type PeerStatus, type RouteStatus } from "../../src/core/bgp/index.ts";
import type { Listener, Transport } from "../../src/core/bgp/ports.ts";
import { WallClock } from "./clock.ts";
import { effectiveClusterId, type DaemonConfig } from "./daemon-config.ts";
import { corePolicies, effectivePolicy, rfc8212Warnings, type EffectivePolicy } from "./daemon-policy.ts";
import { parseIP } from "../../src/core/net/ip.ts";
import { DEFAULT_ROUTE_PROTOCOL, KernelRouteWriter } from "./kernel-routes.ts";
import { TcpTransport, type TcpListener } from "./tcp-transport.ts";
import { ControlServer } from "../control-socket.ts";

export { queryControl } from "../control-socket.ts";

export interface DaemonOptions {
  /** One line per event (FSM changes, errors); default stderr. */
  log?: (line: string) => void;
}

export class SpeakerDaemon {
  readonly speaker: Speaker;
  readonly kernel: KernelRouteWriter | undefined;
  private readonly config: DaemonConfig;
  private readonly log: (line: string) => void;
  private listener: TcpListener | undefined;
  private control: ControlServer | undefined;
  private stopped = false;
  /** The policy in force per peer (by address value), for `peers` on the control socket. */
  private readonly policies = new Map<string, { import: EffectivePolicy; export: EffectivePolicy }>();

  constructor(config: DaemonConfig, options: DaemonOptions = {}) {
    this.config = config;
    this.log = options.log ?? ((l) => process.stderr.write(`${new Date().toISOString()} ${l}\n`));
    this.kernel = config.kernel?.install
      ? new KernelRouteWriter({
          protocol: config.kernel.protocol ?? DEFAULT_ROUTE_PROTOCOL,
          ...(config.kernel.netns !== undefined ? { netns: config.kernel.netns } : {}),
          ...(config.kernel.table !== undefined ? { table: config.kernel.table } : {}),
          onError: (e) => this.log(`kernel: ${e.op}${e.prefix ? ` ${e.prefix}` : ""}: ${e.message}`),
        })
      : undefined;
    const tcp = new TcpTransport();
    // The speaker's listener is private to it; keep ours to await `ready` (EADDRINUSE arrives there).
    const transport: Transport = {
      connect: (o, cb) => tcp.connect(o, cb),
      listen: (address, port, cb): Listener => (this.listener = tcp.listen(address, port, cb)),
    };
    const clusterId = effectiveClusterId(config);
    for (const p of config.peers) this.policies.set(addressKey(p.address), { import: effectivePolicy(config, p, "import"), export: effectivePolicy(config, p, "export") });
    this.speaker = new Speaker(
      {
        asNumber: config.asNumber,
        routerId: config.routerId,
        ...(clusterId !== undefined ? { clusterId } : {}),
        ...(config.listen ? { listen: { address: config.listen.address, port: config.listen.port ?? 179 } } : {}),
        ...(config.gracefulRestart !== undefined ? { gracefulRestart: config.gracefulRestart } : {}),
        // Unset, the core applies RFC 8212 to eBGP peers and accepts everything from and to iBGP ones.
        ...corePolicies(config),
        peers: config.peers.map(toPeerConfig),
        log: (e) => this.log(e),
      },
      { clock: new WallClock(), transport, ...(this.kernel ? { sink: this.kernel } : {}) },
    );
  }

  /** Listens (BGP and control), starts every session and originates the configured prefixes. */
  async start(): Promise<void> {
    // A fresh start owns no kernel routes yet: what an earlier run killed with -9 left under our
    // protocol goes now. A graceful restart that kept its forwarding state keeps them (the speaker
    // replaces them as it selects; ones that do not come back are not removed: no reconciliation yet).
    const gr = this.config.gracefulRestart;
    if (this.kernel && !(gr && gr.restarting && gr.forwarding)) {
      for (const e of await this.kernel.flush()) this.log(`kernel: ${e.op}: ${e.message}`);
    }
    if (this.config.control) {
      this.control = new ControlServer(this.config.control.socket, (command) => this.answer(command), this.log);
      await this.control.start();
    }
    for (const w of rfc8212Warnings(this.config)) this.log(w);
    this.speaker.start();
    if (this.listener) await this.listener.ready;
    for (const p of this.config.originate) this.speaker.originate(p, { blackhole: false });
    // The originated set is complete: a restarting speaker may send End-of-RIB (after selection).
    this.speaker.ready();
    this.log(`speaker AS ${this.config.asNumber} router ID ${this.config.routerId}${this.listener ? ` listening on ${this.config.listen?.address} port ${this.listener.port}` : ""}`);
  }

  /** The bound BGP port (useful with port 0), if listening. */
  get port(): number | undefined {
    return this.listener?.port;
  }

  peers(): PeerStatus[] {
    return this.speaker.peers();
  }
  routes(): RouteStatus[] {
    return this.speaker.routes();
  }

  /** Cease to every peer, our kernel routes flushed, control socket closed and removed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.speaker.stop();
    await this.control?.stop();
    if (this.kernel) await this.kernel.flush();
    // Let the Cease NOTIFICATIONs leave before the process exits (close() flushes, then FIN).
    await new Promise((r) => setTimeout(r, 200));
  }

  /** For a peer not in the config (none today): the speaker-wide policy or the default. */
  private defaultPolicy(asNumber: number): { import: EffectivePolicy; export: EffectivePolicy } {
    const peer = { address: "", asNumber };
    return { import: effectivePolicy(this.config, peer, "import"), export: effectivePolicy(this.config, peer, "export") };
  }

  /** One control command → one reply object (the control socket turns failures into `{ error }`). */
  answer(command: string): unknown {
    switch (command) {
      case "peers":
        return { peers: this.peers().map((p) => peerView(p, this.policies.get(addressKey(p.address)) ?? this.defaultPolicy(p.asNumber))) };
      case "routes":
        return { routes: this.routes().map(routeView) };
      case "counters":
        return { counters: this.speaker.counters() };
      default:
        return { error: `unknown command ${JSON.stringify(command)} (expected "peers", "routes" or "counters")` };
    }
  }
}

/** A config peer as the core's PeerConfig, its `import` / `export` compiled. */
export function toPeerConfig(p: DaemonConfig["peers"][number]): PeerConfig {
  const { clusterId: _clusterId, import: importSpec, export: exportSpec, ...rest } = p;
  const out: PeerConfig = { address: rest.address, asNumber: rest.asNumber };
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  return { ...out, ...corePolicies({ import: importSpec, export: exportSpec }) };
}

const addressKey = (address: string): string => {
  try {
    const ip = parseIP(address);
    return `${ip.family}|${ip.value}`;
  } catch {
    return address;
  }
};

export interface ControlPeer {
  address: string;
  asNumber: number;
  state: string;
  uptime: number;
  prefixesReceived: number;
  prefixesAccepted: number;
  prefixesSent: number;
  routerId: string | null;
  lastError: string | null;
  gracefulRestart: "none" | "helping";
  /** Messages, octets (by type) and prefixes sent to and received from the peer since the daemon started. */
  counters: PeerCounters;
  /** The policy in force: the peer's, else the speaker-wide one, else all (iBGP) / rfc8212-deny (eBGP). */
  import: EffectivePolicy;
  export: EffectivePolicy;
}

function peerView(p: PeerStatus, policy: { import: EffectivePolicy; export: EffectivePolicy }): ControlPeer {
  return {
    address: p.address,
    asNumber: p.asNumber,
    state: p.state,
    uptime: p.uptime,
    prefixesReceived: p.prefixesReceived,
    prefixesAccepted: p.prefixesAccepted,
    prefixesSent: p.prefixesSent,
    routerId: p.routerId,
    lastError: p.lastError,
    gracefulRestart: p.gracefulRestart,
    counters: p.counters,
    import: policy.import,
    export: policy.export,
  };
}

export type ControlRoute = Pick<RouteStatus, "prefix" | "nextHop" | "asPath" | "best" | "peer" | "communities" | "originatorId" | "clusterList" | "localPref" | "med" | "origin" | "stale">;

const routeView = (r: RouteStatus): ControlRoute => ({
  prefix: r.prefix,
  nextHop: r.nextHop,
  asPath: r.asPath,
  best: r.best,
  peer: r.peer,
  communities: r.communities,
  originatorId: r.originatorId,
  clusterList: r.clusterList,
  localPref: r.localPref,
  med: r.med,
  origin: r.origin,
  stale: r.stale,
});
