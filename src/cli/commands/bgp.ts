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
}
