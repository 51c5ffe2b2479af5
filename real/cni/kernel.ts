// The CNI plugin's kernel side: `ip` in the node's namespace (the one the plugin runs in) and, through
// nsenter, in the container's namespace given as a path (CNI_NETNS, e.g. /run/netns/NAME or
// /proc/PID/ns/net, which `ip -n` cannot take). Observations come from `ip -j` and /proc/sys.
import { execa } from "execa";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import type { ObservedAttachment, ObservedLink, ObservedRoute } from "../../src/core/cni/index.ts";

export class IpCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
  ) {
    super(`${command}: ${stderr.trim() || "failed"}`);
    this.name = "IpCommandError";
  }
}

export interface KernelOptions {
  /** The `ip` binary; default "ip" from PATH. */
  ipPath?: string;
  /** The `nsenter` binary; default "nsenter" from PATH. */
  nsenterPath?: string;
}

/** Where an `ip` command runs: the node's own namespace, or a container's by path. */
export type Place = { kind: "node" } | { kind: "netns"; path: string };

export const NODE: Place = { kind: "node" };

const IP_TIMEOUT_MS = 15_000;

export class Kernel {
  constructor(private readonly opts: KernelOptions = {}) {}

  private argv(place: Place, args: readonly string[]): [string, string[]] {
    const ipPath = this.opts.ipPath ?? "ip";
    if (place.kind === "node") return [ipPath, [...args]];
    return [this.opts.nsenterPath ?? "nsenter", [`--net=${place.path}`, "--", ipPath, ...args]];
  }

  /** Runs `ip ARGS`; stdout on success, IpCommandError otherwise. */
  async ip(place: Place, args: readonly string[], input?: string): Promise<string> {
    const [file, argv] = this.argv(place, args);
    const r = await execa(file, argv, { reject: false, timeout: IP_TIMEOUT_MS, ...(input !== undefined ? { input } : { stdin: "ignore" as const }) });
    if (r.exitCode !== 0) throw new IpCommandError(`${place.kind === "node" ? "" : `[${place.path}] `}ip ${args.join(" ")}`, String(r.stderr || r.message));
    return String(r.stdout);
  }

  /** Runs `ip -batch -` with the given lines; stops at the first failing line. */
  async batch(place: Place, lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    await this.ip(place, ["-batch", "-"], lines.join("\n") + "\n");
  }

  /** A link with its addresses, or undefined when it does not exist. */
  async link(place: Place, name: string): Promise<ObservedLink | undefined> {
    let out: string;
    try {
      out = await this.ip(place, ["-j", "-d", "address", "show", "dev", name]);
    } catch (e) {
      if (e instanceof IpCommandError && /does not exist|Cannot find device/.test(e.stderr)) return undefined;
      throw e;
    }
    return parseLinkJson(out)[0];
  }

  async routes(place: Place, family: 4 | 6, args: readonly string[] = []): Promise<ObservedRoute[]> {
    return parseRoutesJson(await this.ip(place, ["-j", `-${family}`, "route", "show", ...args]));
  }

  /** Deletes a link; false when it was already gone. */
  async deleteLink(place: Place, name: string): Promise<boolean> {
    try {
      await this.ip(place, ["link", "del", "dev", name]);
      return true;
    } catch (e) {
      if (e instanceof IpCommandError && /does not exist|Cannot find device/.test(e.stderr)) return false;
      throw e;
    }
  }

  /** Writes the sysctls of a host-side veth in the node's namespace (this process's), before it is up. */
  async setHostSysctls(ifname: string, families: { v4: boolean; v6: boolean }): Promise<void> {
    if (families.v4) {
      // proxy_arp answers the pod's ARP for 169.254.1.1; no proxy delay; forwarding for pod traffic.
      await writeFile(`/proc/sys/net/ipv4/conf/${ifname}/proxy_arp`, "1");
      await writeFile(`/proc/sys/net/ipv4/neigh/${ifname}/proxy_delay`, "0");
      await writeFile(`/proc/sys/net/ipv4/conf/${ifname}/forwarding`, "1");
    }
    if (families.v6) {
      // The link-local gateway must exist and be usable at once (no DAD); no router advertisements.
      await writeFile(`/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`, "0");
      await writeFile(`/proc/sys/net/ipv6/conf/${ifname}/accept_dad`, "0");
      await writeFile(`/proc/sys/net/ipv6/conf/${ifname}/accept_ra`, "0");
    }
  }

  async proxyArp(ifname: string): Promise<boolean | undefined> {
    try {
      return (await readFile(`/proc/sys/net/ipv4/conf/${ifname}/proxy_arp`, "utf8")).trim() === "1";
    } catch {
      return undefined;
    }
  }

  /** The device the node routes an IPv4 `address` out of, undefined when unreachable. */
  async routeDevice(address: string): Promise<string | undefined> {
    let out: string;
    try {
      out = await this.ip(NODE, ["-j", "-4", "route", "get", address]);
    } catch (e) {
      if (e instanceof IpCommandError && /unreachable|No route/i.test(e.stderr)) return undefined;
      throw e;
    }
    const r = parseRoutesJson(out)[0];
    return r?.dev;
  }

  /** The attachment as the kernel has it now. */
  async observe(hostIf: string, containerIf: string, addresses: readonly string[], netnsPath: string | undefined): Promise<ObservedAttachment> {
    const host = await this.link(NODE, hostIf);
    const inPod: Place | undefined = netnsPath !== undefined && existsSync(netnsPath) ? { kind: "netns", path: netnsPath } : undefined;
    const container = inPod ? await this.link(inPod, containerIf) : undefined;
    const containerRoutes = inPod && container ? [...(await this.routes(inPod, 4)), ...(await this.routes(inPod, 6))] : [];
    const hostRoutes: ObservedRoute[] = [];
    for (const a of addresses) {
      const v6 = a.includes(":");
      hostRoutes.push(...(await this.routes(NODE, v6 ? 6 : 4, ["exact", `${a}/${v6 ? 128 : 32}`])));
    }
    return { host, container, containerRoutes, hostRoutes, proxyArp: host ? await this.proxyArp(hostIf) : undefined };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** `ip -j -d address show` output as ObservedLinks. */
export function parseLinkJson(text: string): ObservedLink[] {
  const data = JSON.parse(text) as unknown;
  if (!Array.isArray(data)) throw new Error("ip -j address show: expected a JSON array");
  return data.filter(isObject).map((l) => {
    const info = isObject(l["linkinfo"]) ? l["linkinfo"] : {};
    const flags = Array.isArray(l["flags"]) ? (l["flags"] as unknown[]) : [];
    const addrs = Array.isArray(l["addr_info"]) ? (l["addr_info"] as unknown[]) : [];
    return {
      name: String(l["ifname"] ?? ""),
      ifindex: Number(l["ifindex"]),
      peerIfindex: typeof l["link_index"] === "number" ? l["link_index"] : undefined,
      kind: typeof info["info_kind"] === "string" ? info["info_kind"] : undefined,
      mtu: Number(l["mtu"]),
      up: flags.includes("UP"),
      mac: String(l["address"] ?? ""),
      alias: typeof l["ifalias"] === "string" ? l["ifalias"] : undefined,
      addresses: addrs.filter(isObject).filter((a) => a["family"] === "inet" || a["family"] === "inet6").map((a) => `${String(a["local"])}/${String(a["prefixlen"])}`),
    };
  });
}

/** `ip -j route show` output (either family); host routes get their /32 or /128. */
export function parseRoutesJson(text: string): ObservedRoute[] {
  const data = JSON.parse(text === "" ? "[]" : text) as unknown;
  if (!Array.isArray(data)) throw new Error("ip -j route show: expected a JSON array");
  return data.filter(isObject).map((r) => {
    const dst = String(r["dst"] ?? "");
    const opt = (k: string): string | undefined => (r[k] === undefined ? undefined : String(r[k]));
    const full = dst === "default" || dst.includes("/") ? dst : `${dst}/${dst.includes(":") ? 128 : 32}`;
    return { dst: full, gateway: opt("gateway"), dev: opt("dev"), scope: opt("scope"), protocol: opt("protocol") };
  });
}
