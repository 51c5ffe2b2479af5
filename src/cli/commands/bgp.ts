// `birdcage bgp ...`: the BGP command group.
//   decode FILE.pcap   every BGP message in a classic pcap with its fields; malformed ones with the
//                      NOTIFICATION they deserve.
// The standalone speaker (`bgp speaker --config FILE`) and its control client (`bgp show peers|routes`)
// register on the same group: add a register<Name>(bgp) function below and call it in registerBgp.
import type { Command } from "commander";
import { existsSync, statSync } from "node:fs";
import { formatIP, parseIP } from "../../core/net/ip.ts";
import { decodeBgpCapture } from "../../../real/capture/bgp-messages.ts";
import { PcapFormatError } from "../../../real/capture/pcap.ts";
import { messageSummary, messageTypeName, messageView, notificationView } from "../bgp-view.ts";
import { UsageError } from "../errors.ts";
import { runUntilSignal } from "../daemon-run.ts";
import { loadDaemonConfig } from "../../../real/bgp/daemon-config.ts";
import { queryControl, SpeakerDaemon } from "../../../real/bgp/daemon.ts";
import { readFileSync } from "node:fs";
import { formatTable, render, withOutput, type OutputFormat } from "../output.ts";

// The capture reader spells IPv6 addresses out in full; print them compressed.
const endpoint = (addr: string, port: number): string => (addr.includes(":") ? `[${formatIP(6, parseIP(addr).value)}]:${port}` : `${addr}:${port}`);

function registerDecode(bgp: Command): void {
  withOutput(
    bgp
      .command("decode")
      .description(
        "print every BGP message (TCP port 179 either side) in a classic pcap capture with its fields, " +
          "and each malformed message with the NOTIFICATION it deserves (pcapng and nanosecond pcap are refused: exit 2)",
      )
      .argument("<file>", "a classic (microsecond) pcap file with Ethernet link type, e.g. from tcpdump -w"),
  ).action((file: string, opts: { output: OutputFormat }) => {
    if (!existsSync(file)) throw new UsageError(`${file}: no such file`);
    if (statSync(file).isDirectory()) throw new UsageError(`${file}: is a directory`);
    let decoded;
    try {
      decoded = decodeBgpCapture(file);
    } catch (e) {
      if (e instanceof PcapFormatError) throw new UsageError(e.message);
      throw e;
    }
    const messages = decoded.messages.map((m) => ({
      frame: m.frame,
      time: new Date(Math.round(m.time * 1000)).toISOString(),
      timestamp: m.time,
      src: endpoint(m.src, m.srcPort),
      dst: endpoint(m.dst, m.dstPort),
      type: m.message ? messageTypeName(m.message.type) : m.bytes.length >= 19 ? messageTypeName(m.bytes[18] ?? 0) : "?",
      length: m.bytes.length,
      ...(m.message ? messageView(m.message) : {}),
      ...(m.error ? { malformed: true, notification: notificationView(m.error), ...(m.skipped ? { resyncSkipped: m.skipped } : {}) } : {}),
    }));
    const malformed = messages.filter((m) => "malformed" in m).length;
    const data = { file, messages, malformed, incomplete: decoded.incomplete };
    process.stdout.write(
      render(data, opts.output, () => {
        const rows = decoded.messages.map((m, i) => {
          const v = messages[i];
          const what = m.error
            ? `MALFORMED -> NOTIFICATION ${m.error.message}${m.skipped ? ` (resynchronised after ${m.skipped} octets)` : ""}`
            : m.message
              ? messageSummary(m.message)
              : "";
          return [m.frame, v?.time.slice(11, 23) ?? "", `${v?.src} > ${v?.dst}`, v?.type ?? "", m.bytes.length, what];
        });
        const tail = [
          `${messages.length} messages, ${malformed} malformed`,
          ...decoded.incomplete.map((x) => `incomplete: ${endpoint(x.src, x.srcPort)} > ${endpoint(x.dst, x.dstPort)}: ${x.reason}`),
        ];
        return (rows.length ? formatTable(["FRAME", "TIME", "FLOW", "TYPE", "LEN", "FIELDS"], rows) : "") + tail.join("\n") + "\n";
      }),
    );
  });
}

export function registerBgp(program: Command): void {
  const bgp = program.command("bgp").description("BGP: decode captures (and, with the speaker, run and inspect sessions)");
  registerDecode(bgp);
  registerSpeaker(bgp);
  registerShow(bgp);
}

function registerSpeaker(bgp: Command): void {
  bgp
    .command("speaker")
    .description(
      "run a standalone BGP speaker from a YAML config until SIGINT/SIGTERM; then Cease to every peer, " +
        "its kernel routes flushed and its control socket removed (bad config: exit 2)",
    )
    .requiredOption("-c, --config <file>", "YAML: asNumber, routerId, listen, import, export, peers, originate, kernel, control (see docs/bgp-real.md); eBGP peers need import/export (RFC 8212)")
    .action(async (opts: { config: string }) => {
      if (!existsSync(opts.config)) throw new UsageError(`${opts.config}: no such file`);
      if (statSync(opts.config).isDirectory()) throw new UsageError(`${opts.config}: is a directory`);
      const config = loadDaemonConfig(readFileSync(opts.config, "utf8"), opts.config);
      let daemon: SpeakerDaemon;
      try {
        daemon = new SpeakerDaemon(config);
      } catch (e) {
        throw new UsageError(e instanceof Error ? e.message : String(e));
      }
      await runUntilSignal(daemon);
    });
}

type ShowPeer = { address: string; asNumber: number; state: string; uptime: number; prefixesReceived: number; prefixesSent: number; import?: string; export?: string };
type ShowRoute = { prefix: string; nextHop: string; asPath: string; best: boolean; peer: string; communities: string[]; originatorId: string | null; clusterList: string[] };

function registerShow(bgp: Command): void {
  const show = bgp.command("show").description("ask a running `birdcage bgp speaker` over its control socket");
  const ask = async (socket: string, what: "peers" | "routes"): Promise<Record<string, unknown>> => {
    let reply;
    try {
      reply = await queryControl(socket, what);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    if (typeof reply.error === "string") throw new UsageError(`${socket}: ${reply.error}`);
    return reply;
  };
  withOutput(
    show.command("peers").description("each peer: address, AS, state, uptime (s), prefixes received and sent, import and export policy in force (all, none, filter, rfc8212-deny)").requiredOption("-s, --socket <path>", "the speaker's control socket"),
  ).action(async (opts: { socket: string; output: OutputFormat }) => {
    const peers = (await ask(opts.socket, "peers")).peers as ShowPeer[];
    process.stdout.write(
      render({ peers }, opts.output, () =>
        formatTable(
          ["ADDRESS", "AS", "STATE", "UPTIME", "RECEIVED", "SENT", "IMPORT", "EXPORT"],
          peers.map((p) => [p.address, p.asNumber, p.state, p.uptime, p.prefixesReceived, p.prefixesSent, p.import ?? "-", p.export ?? "-"]),
        ),
      ),
    );
  });
  withOutput(
    show
      .command("routes")
      .description("every usable path, best first per prefix: prefix, next hop, AS path, best, peer, communities, originator ID, cluster list")
      .requiredOption("-s, --socket <path>", "the speaker's control socket"),
  ).action(async (opts: { socket: string; output: OutputFormat }) => {
    const routes = (await ask(opts.socket, "routes")).routes as ShowRoute[];
    process.stdout.write(
      render({ routes }, opts.output, () =>
        formatTable(
          ["PREFIX", "NEXT HOP", "AS PATH", "BEST", "PEER", "COMMUNITIES", "ORIGINATOR", "CLUSTER LIST"],
          routes.map((r) => [r.prefix, r.nextHop, r.asPath || "-", r.best ? "*" : "", r.peer, r.communities.join(" ") || "-", r.originatorId ?? "-", r.clusterList.join(" ") || "-"]),
        ),
      ),
    );
  });
}
