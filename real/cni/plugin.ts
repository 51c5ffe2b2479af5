// birdcage's CNI plugin (CNI spec 1.0; also answers 0.3.0-0.4.0 configs): one run = one command.
//   ADD     IPAM address for handle <network>.<containerID> from etcd (or exactly the addresses of the
//           pod's cni.projectcalico.org/ipAddrs annotation, passed in args.annotations), veth cali<hash> <-> CNI_IFNAME in
//           CNI_NETNS, /32 + Calico's 169.254.1.1 default route in the pod, proxy ARP and the /32 route
//           on the node. Idempotent: a second ADD for the same container answers the same result.
//           Nothing is left half done: a failure after the address was allocated removes the veth and
//           releases the address again.
//   DEL     removes the veth (only if it carries this container's owner alias) and releases the
//           handle; DEL of an unknown or already deleted container succeeds.
//   CHECK   compares the kernel and IPAM with prevResult; error 102 lists what differs.
//   VERSION supported spec versions.
// The config/env parsing, result shapes and idempotency rules are pure (src/core/cni); this file does
// the I/O. runCni never throws: every failure becomes the spec's error JSON and exit code 1.
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import {
  CNI_ERR,
  CniError,
  LATEST_VERSION,
  POD_GATEWAY_V4,
  attachmentCommands,
  buildAddResult,
  decideAdd,
  declaredVersion,
  decodeJson,
  errorResult,
  handleIdFor,
  hostInterfaceName,
  ownerAlias,
  parseCommand,
  parseEnv,
  parseNetConf,
  parsePrevResult,
  proxyArpProblem,
  shouldDeleteHostLink,
  verifyAttachment,
  versionResult,
  type CniEnv,
  type CniResult,
  type ExpectedAttachment,
  type NetConf,
} from "../../src/core/cni/index.ts";
import { isDatastoreError, type Datastore } from "../../src/core/datastore/port.ts";
import { Ipam, isIpamError } from "../../src/core/ipam/index.ts";
import { isIP, parseIP } from "../../src/core/net/ip.ts";
import { EtcdDatastore } from "../datastore/etcd.ts";
import { IpCommandError, Kernel, NODE, type KernelOptions } from "./kernel.ts";

export interface CniInvocation {
  /** The process environment (CNI_COMMAND, CNI_CONTAINERID, ...). */
  env: Readonly<Record<string, string | undefined>>;
  /** The network configuration read from stdin. */
  stdin: string;
  /** Diagnostics (the CLI sends them to stderr; stdout is reserved for the result). */
  log?: (line: string) => void;
  kernel?: KernelOptions;
  /** Opens the datastore named by the config; default EtcdDatastore. */
  openDatastore?: (conf: NetConf) => Datastore & { close(): Promise<void> };
}

export interface CniOutcome {
  /** 0 success, 1 error (the spec asks for non-zero; birdcage always uses 1). */
  exitCode: 0 | 1;
  /** What goes to stdout: a result, a version result, an error result, or nothing (DEL, CHECK). */
  stdout: string;
}

interface Ctx {
  conf: NetConf;
  env: CniEnv;
  kernel: Kernel;
  log: (line: string) => void;
  open: (conf: NetConf) => Datastore & { close(): Promise<void> };
  /** The pod's cni.projectcalico.org/ipAddrs: these exact addresses instead of auto-assigned ones. */
  fixedIps: string[] | undefined;
}

/** Calico's annotation for fixed pod addresses: a JSON list of IPs, at most one per family. */
export const IP_ADDRS_ANNOTATION = "cni.projectcalico.org/ipAddrs";

/**
 * The fixed addresses a pod asks for. Calico's plugin reads the annotation from the pod in the
 * Kubernetes API; birdcage has no API server, so the runtime passes the pod's annotations in the
 * network config as `args.annotations` (args is the CNI field for per-invocation data).
 */
export function fixedAddresses(decoded: unknown): string[] | undefined {
  const args = (decoded as { args?: unknown }).args;
  const annotations = typeof args === "object" && args !== null ? (args as { annotations?: unknown }).annotations : undefined;
  if (annotations === undefined) return undefined;
  if (typeof annotations !== "object" || annotations === null || Array.isArray(annotations)) throw new CniError(CNI_ERR.INVALID_CONFIG, "args.annotations must be an object of pod annotations");
  const text = (annotations as Record<string, unknown>)[IP_ADDRS_ANNOTATION];
  if (text === undefined) return undefined;
  const bad = (why: string) => new CniError(CNI_ERR.INVALID_CONFIG, `annotation ${IP_ADDRS_ANNOTATION}: ${why}`, `got ${JSON.stringify(text).slice(0, 120)}`);
  if (typeof text !== "string") throw bad('expected a string holding a JSON list, e.g. "[\"10.1.3.7\"]"');
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw bad('not JSON: expected a list such as ["10.1.3.7"]');
  }
  if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === "string")) throw bad("expected a non-empty list of IP addresses");
  const ips = list as string[];
  for (const ip of ips) if (!isIP(ip)) throw bad(`${JSON.stringify(ip)} is not an IP address`);
  const families = ips.map((ip) => parseIP(ip).family);
  if (new Set(families).size !== families.length) throw bad("at most one address per IP family");
  return ips;
}

export async function runCni(inv: CniInvocation): Promise<CniOutcome> {
  let version: string = LATEST_VERSION;
  const log = inv.log ?? (() => undefined);
  try {
    const command = parseCommand(inv.env);
    if (command === "VERSION") {
      const decoded = inv.stdin.trim() === "" ? undefined : decodeJson(inv.stdin, "version request");
      return ok(versionResult(declaredVersion(decoded)));
    }
    const env = parseEnv(inv.env);
    const decoded = decodeJson(inv.stdin);
    version = declaredVersion(decoded) ?? LATEST_VERSION;
    const conf = parseNetConf(decoded);
    const ctx: Ctx = { conf, env, kernel: new Kernel(inv.kernel), log, open: inv.openDatastore ?? openEtcd, fixedIps: fixedAddresses(decoded) };
    if (command === "ADD") return ok(await cmdAdd(ctx));
    if (command === "DEL") await cmdDel(ctx);
    else await cmdCheck(ctx);
    return { exitCode: 0, stdout: "" };
  } catch (e) {
    const err = toCniError(e);
    if (err.code >= 100) log(`birdcage cni: ${err.message}${err.details ? ` (${err.details})` : ""}`);
    return { exitCode: 1, stdout: JSON.stringify(errorResult(version, err)) + "\n" };
  }
}

const ok = (v: unknown): CniOutcome => ({ exitCode: 0, stdout: JSON.stringify(v) + "\n" });

function openEtcd(conf: NetConf): EtcdDatastore {
  const d = conf.datastore;
  return new EtcdDatastore({ endpoints: d.endpoints, namespace: d.namespace, requestTimeoutMs: d.timeoutMs, dialTimeoutMs: d.timeoutMs });
}

function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (isDatastoreError(e, "Unavailable")) return new CniError(CNI_ERR.TRY_AGAIN_LATER, "datastore unavailable", e.message);
  if (isIpamError(e)) return new CniError(CNI_ERR.IPAM_FAILED, `IPAM: ${e.message}`, e.code);
  if (e instanceof IpCommandError) return new CniError(CNI_ERR.DATAPLANE_FAILED, "dataplane change failed", e.message);
  const msg = e instanceof Error ? e.message : String(e);
  return new CniError(999, "internal error", msg);
}

/** Runs fn with an IPAM client over the configured datastore, closing it afterwards. */
async function withIpam<T>(ctx: Ctx, fn: (ipam: Ipam) => Promise<T>): Promise<T> {
  const store = ctx.open(ctx.conf);
  try {
    return await fn(new Ipam(store, { pools: ctx.conf.ipam.poolInputs, clock: () => Date.now() }));
  } finally {
    await store.close().catch(() => undefined);
  }
}

function expected(ctx: Ctx): Omit<ExpectedAttachment, "addresses"> {
  return {
    hostIf: hostInterfaceName(ctx.env),
    containerIf: ctx.env.ifname,
    mtu: ctx.conf.mtu,
    alias: ownerAlias(ctx.conf.name, ctx.env.containerId),
    routeProtocol: ctx.conf.routeProtocol,
  };
}

/** The handle's addresses of the families the config assigns. */
const wanted = (conf: NetConf, addrs: readonly string[]): string[] =>
  addrs.filter((a) => isIP(a) && (parseIP(a).family === 4 ? conf.ipam.assign4 : conf.ipam.assign6));
const hasV4 = (addrs: readonly string[]): boolean => addrs.some((a) => !a.includes(":"));

function requireNetns(env: CniEnv): string {
  const path = env.netns;
  if (path === undefined || !existsSync(path)) throw new CniError(CNI_ERR.UNKNOWN_CONTAINER, `network namespace ${path ?? "(none)"} does not exist`);
  return path;
}

async function cmdAdd(ctx: Ctx): Promise<CniResult> {
  const { conf, env, kernel } = ctx;
  if (conf.prevResult !== undefined) {
    throw new CniError(CNI_ERR.UNSUPPORTED_FIELD, "unsupported field prevResult on ADD", "birdcage creates the pod interface: it must be the first plugin of a chain");
  }
  const netns = requireNetns(env);
  const want = expected(ctx);
  const handleId = handleIdFor(conf.name, env.containerId);
  const node = conf.nodename ?? hostname();
  return withIpam(ctx, async (ipam) => {
    const held = wanted(conf, await ipam.addressesByHandle(handleId));
    const decision = decideAdd(want, held, await kernel.observe(want.hostIf, want.containerIf, held, netns));
    if (decision.kind === "reuse") return resultFromKernel(ctx, netns, held);
    let addresses = held;
    let allocated = false;
    if (addresses.length === 0) {
      const attrs: Record<string, string> = { node };
      if (env.k8s) Object.assign(attrs, { namespace: env.k8s.namespace, pod: env.k8s.pod });
      if (ctx.fixedIps !== undefined) {
        // As Calico's plugin does with the ipAddrs annotation: IPAM's AssignIP for each address (an
        // address in use or outside every pool is an error), all or none.
        allocated = true;
        addresses = [];
        try {
          for (const address of ctx.fixedIps) addresses.push((await ipam.assignIP({ address, host: node, handleId, attrs })).address);
        } catch (e) {
          await ipam.releaseByHandle(handleId).catch(() => undefined);
          throw e;
        }
      } else {
        const r = await ipam.autoAssign({ host: node, handleId, num4: conf.ipam.assign4 ? 1 : 0, num6: conf.ipam.assign6 ? 1 : 0, attrs });
        addresses = [...r.ipv4, ...r.ipv6];
        allocated = true;
      }
    }
    const full: ExpectedAttachment = { ...want, addresses };
    try {
      if (decision.removeHostLink) {
        ctx.log(`birdcage cni: replacing host interface ${want.hostIf} of an earlier sandbox`);
        await kernel.deleteLink(NODE, want.hostIf);
      }
      const cmds = attachmentCommands(full, netns);
      await kernel.batch(NODE, cmds.hostLink);
      await kernel.setHostSysctls(want.hostIf, { v4: hasV4(addresses), v6: addresses.some((a) => a.includes(":")) });
      await kernel.batch(NODE, cmds.hostUp);
      await kernel.batch({ kind: "netns", path: netns }, cmds.container);
      await kernel.batch(NODE, cmds.hostRoutes);
      const problems = verifyAttachment(full, await kernel.observe(want.hostIf, want.containerIf, addresses, netns));
      if (problems.length > 0) throw new CniError(CNI_ERR.DATAPLANE_FAILED, "attachment incomplete after ADD", problems.join("; "));
      const arp = hasV4(addresses) ? proxyArpProblem(want.hostIf, await kernel.routeDevice(POD_GATEWAY_V4)) : undefined;
      if (arp !== undefined) ctx.log(`birdcage cni: warning: ${arp}`);
      return await resultFromKernel(ctx, netns, addresses);
    } catch (e) {
      await undoAdd(ctx, want, handleId, allocated ? ipam : undefined);
      throw e;
    }
  });
}

/** Takes back a failed ADD: the veth (and with it the pod side and the /32 route), and a fresh address. */
async function undoAdd(ctx: Ctx, want: Omit<ExpectedAttachment, "addresses">, handleId: string, ipam: Ipam | undefined): Promise<void> {
  try {
    const link = await ctx.kernel.link(NODE, want.hostIf);
    if (shouldDeleteHostLink(want.alias, link) || (link && link.alias === undefined && link.kind === "veth")) await ctx.kernel.deleteLink(NODE, want.hostIf);
  } catch (e) {
    ctx.log(`birdcage cni: cleanup of ${want.hostIf} failed: ${(e as Error).message}`);
  }
  if (!ipam) return;
  try {
    await ipam.releaseByHandle(handleId);
  } catch (e) {
    ctx.log(`birdcage cni: releasing ${handleId} after a failed ADD failed: ${(e as Error).message}`);
  }
}

async function resultFromKernel(ctx: Ctx, netns: string, addresses: readonly string[]): Promise<CniResult> {
  const want = expected(ctx);
  const host = await ctx.kernel.link(NODE, want.hostIf);
  const pod = await ctx.kernel.link({ kind: "netns", path: netns }, want.containerIf);
  if (!host || !pod) throw new CniError(CNI_ERR.DATAPLANE_FAILED, "veth vanished while building the result");
  return buildAddResult({
    cniVersion: ctx.conf.cniVersion,
    hostInterface: { name: host.name, mac: host.mac },
    containerInterface: { name: pod.name, mac: pod.mac, sandbox: netns },
    addresses,
    dns: ctx.conf.dns,
  });
}

async function cmdDel(ctx: Ctx): Promise<void> {
  const { conf, env, kernel } = ctx;
  const want = expected(ctx);
  const link = await kernel.link(NODE, want.hostIf);
  if (shouldDeleteHostLink(want.alias, link)) await kernel.deleteLink(NODE, want.hostIf);
  else if (link) ctx.log(`birdcage cni: leaving ${want.hostIf}: it belongs to ${link.alias ?? "someone else"}`);
  await withIpam(ctx, async (ipam) => {
    await ipam.releaseByHandle(handleIdFor(conf.name, env.containerId));
  });
}

async function cmdCheck(ctx: Ctx): Promise<void> {
  const { conf, env, kernel } = ctx;
  if (conf.cniVersion === "0.3.0" || conf.cniVersion === "0.3.1") {
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, "config version does not allow CHECK", `cniVersion ${conf.cniVersion}; CHECK exists from 0.4.0 on`);
  }
  const prev = parsePrevResult(conf.prevResult);
  const netns = requireNetns(env);
  const want = expected(ctx);
  const problems: string[] = [];
  const podIdx = prev.interfaces.findIndex((i) => i.name === want.containerIf && i.sandbox !== undefined);
  if (podIdx < 0) problems.push(`prevResult lists no ${want.containerIf} in a sandbox`);
  if (!prev.interfaces.some((i) => i.name === want.hostIf && i.sandbox === undefined)) problems.push(`prevResult lists no host interface ${want.hostIf}`);
  const addresses = prev.ips.filter((i) => i.interface === podIdx).map((i) => i.address.split("/")[0]!);
  if (addresses.length === 0) problems.push(`prevResult has no address on ${want.containerIf}`);
  await withIpam(ctx, async (ipam) => {
    const held = new Set(await ipam.addressesByHandle(handleIdFor(conf.name, env.containerId)));
    for (const a of addresses) if (!held.has(a)) problems.push(`IPAM does not hold ${a} for ${handleIdFor(conf.name, env.containerId)}`);
  });
  problems.push(...verifyAttachment({ ...want, addresses }, await kernel.observe(want.hostIf, want.containerIf, addresses, netns)));
  // "The plugin should return an error if it is aware of a condition where the container is generally unreachable."
  const arp = hasV4(addresses) ? proxyArpProblem(want.hostIf, await kernel.routeDevice(POD_GATEWAY_V4)) : undefined;
  if (arp !== undefined) problems.push(arp);
  if (problems.length > 0) throw new CniError(CNI_ERR.CHECK_FAILED, problems[0]!, problems.join("; "));
}
