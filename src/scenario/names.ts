// Readable default names for assertions and steps, in the manner of Batfish's CI assertions
// ("no unestablished BGP sessions", "flow web-1 -> db-1 tcp/5432 succeeds"), so CI output reads
// as a list of facts about the network.
import { formatDuration } from "./duration.ts";
import { endpointText, type AssertionBody, type Count, type Flow } from "./model.ts";

/** "exactly 3", "at least 1 and at most 4", "fewer than 1,000". */
export function countText(c: Count): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const parts: string[] = [];
  if (c.exactly !== undefined) parts.push(`exactly ${n(c.exactly)}`);
  if (c.atLeast !== undefined) parts.push(`at least ${n(c.atLeast)}`);
  if (c.over !== undefined) parts.push(`more than ${n(c.over)}`);
  if (c.atMost !== undefined) parts.push(`at most ${n(c.atMost)}`);
  if (c.under !== undefined) parts.push(`fewer than ${n(c.under)}`);
  return parts.join(" and ");
}

/** "at least 1 block", "at least 2 blocks", "fewer than 1,000 messages": the count and its noun. */
export function countNoun(c: Count, singular: string, plural = `${singular}s`): string {
  const one = c.under === undefined && c.over === undefined && [c.exactly, c.atLeast, c.atMost].every((v) => v === undefined || v === 1);
  return `${countText(c)} ${one ? singular : plural}`;
}

/** "1 block", "3 blocks". */
export function numberNoun(n: number, singular: string, plural = `${singular}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? singular : plural}`;
}

/** True when `v` meets every bound of `c`. */
export function countHolds(c: Count, v: number): boolean {
  return (
    (c.exactly === undefined || v === c.exactly) &&
    (c.atLeast === undefined || v >= c.atLeast) &&
    (c.atMost === undefined || v <= c.atMost) &&
    (c.under === undefined || v < c.under) &&
    (c.over === undefined || v > c.over)
  );
}

/** "tcp/5432", "icmp". */
export function serviceText(protocol: string, port?: number): string {
  return port !== undefined ? `${protocol}/${port}` : protocol;
}

export function flowText(f: Flow): string {
  return `${endpointText(f.from)} -> ${endpointText(f.to)} ${serviceText(f.protocol, f.port)}`;
}

/** "10.1.0.0/26", "10.1.0.0/26, 10.1.0.64/26 and 3 more". */
export function listText(items: readonly string[], max = 3): string {
  if (items.length <= max) return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
  return `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

export function defaultAssertionName(a: AssertionBody): string {
  switch (a.kind) {
    case "sessions": {
      const on = a.node !== undefined ? ` on ${a.node}` : "";
      return a.established === "all" ? `no unestablished BGP sessions${on}` : `${countNoun(a.established, "BGP session")} established${on}`;
    }
    case "routes": {
      const who = a.node === "all" ? "every node" : a.node;
      const parts: string[] = [];
      if (a.podBlocksOf === "all") parts.push("has routes to the pod blocks of every other node");
      else if (a.podBlocksOf) parts.push(`has routes to the pod blocks of ${listText(a.podBlocksOf)}`);
      if (a.present.length > 0) parts.push(`has ${a.present.length === 1 ? "a route" : "routes"} to ${listText(a.present)}`);
      if (a.absent.length > 0) parts.push(`has no route to ${listText(a.absent)}`);
      return `${who} ${parts.join(" and ")}`;
    }
    case "reachable":
      return `flow ${flowText(a.flow)} succeeds`;
    case "unreachable":
      return `flow ${flowText(a.flow)} fails`;
    case "matrix":
      return `policy matrix over ${a.pods === "all" ? "all pods" : listText(a.pods)} on ${serviceText(a.protocol, a.port)} matches`;
    case "mtu":
      return `${a.flow.size}-byte ${a.flow.protocol} packet ${endpointText(a.flow.from)} -> ${endpointText(a.flow.to)}${a.flow.df ? " with DF" : ""} is ${a.expect}`;
    case "ipam": {
      const parts: string[] = [];
      if (a.blocks) parts.push(`${a.blocks.node ?? "the cluster"} has ${countNoun(a.blocks, "IPAM block")}`);
      if (a.problems) parts.push(a.problems.exactly === 0 ? "no IPAM problems" : countNoun(a.problems, "IPAM problem"));
      if (a.inUse) parts.push(`${countNoun(a.inUse, "address", "addresses")} in use`);
      return parts.join(", ");
    }
    case "convergence":
      return a.converged ? (a.under !== undefined ? `routing converged in under ${formatDuration(a.under)}` : "routing converged") : "routing did not converge";
    case "messages": {
      const label: Record<string, [string, string]> = {
        total: ["BGP message", "BGP messages"],
        updates: ["BGP UPDATE message", "BGP UPDATE messages"],
        keepalives: ["BGP KEEPALIVE message", "BGP KEEPALIVE messages"],
        notifications: ["BGP NOTIFICATION message", "BGP NOTIFICATION messages"],
        opens: ["BGP OPEN message", "BGP OPEN messages"],
        bytes: ["byte of BGP messages", "bytes of BGP messages"],
      };
      const parts = a.counts.map((c) => countNoun(c.count, ...label[c.field]!));
      return `${parts.join(", ")}${a.since === "last-wait" ? " since the last wait" : ""}`;
    }
  }
}
