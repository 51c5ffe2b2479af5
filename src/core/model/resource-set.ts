// Rules that span resources: names are unique per kind, IP pools don't overlap, node and pod
// addresses are not shared. Works over resources of one file or of many.
import { formatPrefix, parseIP, parsePrefix, prefixesOverlap } from "../net/ip.ts";
import type { Problem, SourcePos } from "./problems.ts";
import { describeEntry, LoadedResources, type ResourceEntry } from "./resources.ts";
import { podIPs } from "./kubernetes.ts";

const where = (p: SourcePos): string => `${p.file}:${p.line}:${p.column}`;

/** Every cross-resource problem in the given resources (from any number of files). */
export function validateResourceSet(input: readonly ResourceEntry[] | LoadedResources | readonly LoadedResources[]): Problem[] {
  const entries: readonly ResourceEntry[] =
    input instanceof LoadedResources ? input.entries : isListOfSets(input) ? input.flatMap((s) => s.entries) : (input as readonly ResourceEntry[]);
  return [...duplicates(entries), ...poolOverlaps(entries), ...sharedNodeAddresses(entries), ...sharedPodIPs(entries)];
}

function isListOfSets(x: readonly ResourceEntry[] | readonly LoadedResources[]): x is readonly LoadedResources[] {
  return x.length > 0 && x[0] instanceof LoadedResources;
}

function duplicates(entries: readonly ResourceEntry[]): Problem[] {
  const first = new Map<string, ResourceEntry>();
  const out: Problem[] = [];
  for (const e of entries) {
    const id = describeEntry(e);
    const prev = first.get(id);
    if (prev) out.push({ ...e.at(["metadata", "name"]), message: `metadata.name: duplicate ${id} (first defined at ${where(prev.source)})` });
    else first.set(id, e);
  }
  return out;
}

function poolOverlaps(entries: readonly ResourceEntry[]): Problem[] {
  const pools = entries.filter((e): e is ResourceEntry<"IPPool"> => e.key === "IPPool");
  const out: Problem[] = [];
  pools.forEach((b, j) => {
    const pb = parsePrefix(b.resource.spec.cidr, { strict: false });
    for (const a of pools.slice(0, j)) {
      const pa = parsePrefix(a.resource.spec.cidr, { strict: false });
      if (a.resource.metadata.name === b.resource.metadata.name) continue; // reported as a duplicate
      if (prefixesOverlap(pa, pb)) {
        out.push({
          ...b.at(["spec", "cidr"]),
          message: `spec.cidr: IP pool ${formatPrefix(pb)} overlaps IPPool ${a.resource.metadata.name} (${formatPrefix(pa)}) defined at ${where(a.source)}`,
        });
      }
    }
  });
  return out;
}

function sharedNodeAddresses(entries: readonly ResourceEntry[]): Problem[] {
  const seen = new Map<string, ResourceEntry<"Node">>();
  const out: Problem[] = [];
  for (const e of entries) {
    if (e.key !== "Node") continue;
    const n = e as ResourceEntry<"Node">;
    for (const field of ["ipv4Address", "ipv6Address"] as const) {
      const text = n.resource.spec.bgp?.[field];
      if (!text) continue;
      const ip = parsePrefix(text, { strict: false });
      const key = `${ip.family}/${parseIP(text.split("/")[0] ?? text).value}`;
      const prev = seen.get(key);
      if (prev) {
        out.push({ ...n.at(["spec", "bgp", field]), message: `spec.bgp.${field}: Calico node "${prev.resource.metadata.name}" (${where(prev.source)}) is already using this address` });
      } else seen.set(key, n);
    }
  }
  return out;
}

function sharedPodIPs(entries: readonly ResourceEntry[]): Problem[] {
  const seen = new Map<string, ResourceEntry<"Pod">>();
  const out: Problem[] = [];
  for (const e of entries) {
    if (e.key !== "Pod") continue;
    const p = e as ResourceEntry<"Pod">;
    if (p.resource.spec.hostNetwork) continue; // host-network pods share their node's address
    for (const ip of podIPs(p.resource)) {
      const a = parseIP(ip);
      const key = `${a.family}/${a.value}`;
      const prev = seen.get(key);
      if (prev) {
        out.push({ ...p.at(["status"]), message: `status: pod IP ${ip} is also used by pod ${prev.resource.metadata.namespace}/${prev.resource.metadata.name} (${where(prev.source)})` });
      } else seen.set(key, p);
    }
  }
  return out;
}
