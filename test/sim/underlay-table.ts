// A small table-driven Underlay for transport tests: hosts own addresses, every ordered pair of hosts
// has a path (latency, loss, links, MTU) unless set down. Not a network model: just the interface.
import type { Underlay, UnderlayLink, UnderlayPath } from "../../sim/transport.ts";

export interface TablePath {
  latencyMs: number;
  loss?: number;
  mtu?: number;
  /** false: packets above the MTU are dropped but the path does not say its MTU (PMTU discovery). */
  reportMtu?: boolean;
  bandwidthMbps?: number;
  links?: UnderlayLink[];
}

export class TableUnderlay implements Underlay {
  private readonly owner = new Map<string, string>();
  private readonly paths = new Map<string, TablePath>();
  private readonly down = new Set<string>();
  private v = 0;
  calls = 0;

  host(name: string, ...addresses: string[]): this {
    for (const a of addresses) this.owner.set(a, name);
    return this;
  }

  /** A path both ways between hosts a and b (links listed from a to b). */
  link(a: string, b: string, p: TablePath): this {
    const links = p.links ?? [{ element: a, segment: `${a}-${b}` }, { element: b, segment: `${a}-${b}` }];
    this.paths.set(`${a}>${b}`, { ...p, links });
    this.paths.set(`${b}>${a}`, { ...p, links: [...links].reverse() });
    this.v++;
    return this;
  }

  setDown(a: string, b: string, down: boolean): void {
    for (const k of [`${a}>${b}`, `${b}>${a}`]) {
      if (down) this.down.add(k);
      else this.down.delete(k);
    }
    this.v++;
  }

  setLoss(a: string, b: string, loss: number): void {
    for (const k of [`${a}>${b}`, `${b}>${a}`]) {
      const p = this.paths.get(k);
      if (p) this.paths.set(k, { ...p, loss });
    }
    this.v++;
  }

  hostOf(address: string): string | undefined {
    return this.owner.get(address);
  }

  sourceAddress(host: string, dst: string): string | undefined {
    const v6 = dst.includes(":");
    for (const [a, h] of this.owner) if (h === host && a.includes(":") === v6) return a;
    return undefined;
  }

  version(): number {
    return this.v;
  }

  underlayPath(fromHost: string, _src: string, dst: string, sizeBytes: number): UnderlayPath {
    this.calls++;
    const to = this.owner.get(dst);
    if (to === undefined) return { ok: false, at: fromHost, reason: `no route to ${dst}` };
    const key = `${fromHost}>${to}`;
    const p = this.paths.get(key);
    if (!p) return { ok: false, at: fromHost, reason: `no route to ${dst}` };
    if (this.down.has(key)) return { ok: false, at: p.links?.[0]?.segment ?? fromHost, reason: "link down" };
    const mtu = p.mtu ?? 1500;
    if (sizeBytes > mtu) return { ok: false, at: fromHost, reason: `packet of ${sizeBytes} > MTU ${mtu}` };
    return { ok: true, latencyMs: p.latencyMs, links: p.links ?? [], ...(p.loss ? { loss: p.loss } : {}), ...(p.mtu && p.reportMtu !== false ? { mtu: p.mtu } : {}), ...(p.bandwidthMbps ? { bandwidthMbps: p.bandwidthMbps } : {}) };
  }
}
