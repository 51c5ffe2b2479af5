// RFC 6793 (4-octet AS numbers) between a NEW speaker and an OLD one: building the 2-octet AS_PATH +
// AS4_PATH pair to send, and rebuilding the real path from what an OLD speaker sent.
import type { Aggregator, AsPathSegment, PathAttributes } from "./attributes.ts";
import { AS_TRANS, AsPathSegmentType } from "./constants.ts";

const isConfed = (s: AsPathSegment): boolean =>
  s.type === AsPathSegmentType.AS_CONFED_SEQUENCE || s.type === AsPathSegmentType.AS_CONFED_SET;

/** RFC 4271 §9.1.2.2 / RFC 5065: an AS_SET counts as one, confederation segments count zero. */
export function asPathLength(path: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of path) {
    if (s.type === AsPathSegmentType.AS_SEQUENCE) n += s.asns.length;
    else if (s.type === AsPathSegmentType.AS_SET) n += 1;
  }
  return n;
}

/** The AS numbers of a path in order, sets flattened: handy for display and loop checks. */
export const asPathAsns = (path: readonly AsPathSegment[]): number[] => path.flatMap((s) => s.asns);

export const formatAsPath = (path: readonly AsPathSegment[]): string =>
  path
    .map((s) => {
      const inner = s.asns.join(" ");
      if (s.type === AsPathSegmentType.AS_SET) return `{${inner}}`;
      if (s.type === AsPathSegmentType.AS_CONFED_SEQUENCE) return `(${inner})`;
      if (s.type === AsPathSegmentType.AS_CONFED_SET) return `[${inner}]`;
      return inner;
    })
    .join(" ");

const mappable = (asn: number): boolean => asn <= 0xffff;

/**
 * Attributes as they must go to an OLD speaker (no 4-octet AS capability): AS_PATH and AGGREGATOR
 * with every non-mappable ASN replaced by AS_TRANS, plus AS4_PATH / AS4_AGGREGATOR holding the real
 * values when anything had to be replaced. Encode the result with fourOctetAs: false.
 */
export function toOldSpeaker(attrs: PathAttributes): PathAttributes {
  const out: PathAttributes = { ...attrs };
  delete out.as4Path;
  delete out.as4Aggregator;
  if (attrs.asPath) {
    out.asPath = attrs.asPath.map((s) => ({ type: s.type, asns: s.asns.map((a) => (mappable(a) ? a : AS_TRANS)) }));
    if (attrs.asPath.some((s) => s.asns.some((a) => !mappable(a)))) {
      // Confederation segments never go into AS4_PATH (RFC 6793 §3).
      out.as4Path = attrs.asPath.filter((s) => !isConfed(s)).map((s) => ({ type: s.type, asns: [...s.asns] }));
    }
  }
  if (attrs.aggregator && !mappable(attrs.aggregator.asn)) {
    out.aggregator = { asn: AS_TRANS, address: attrs.aggregator.address };
    out.as4Aggregator = { ...attrs.aggregator };
  }
  return out;
}

/**
 * The real path information from attributes received from an OLD speaker (RFC 6793 §4.2.3):
 * AS_PATH and AGGREGATOR rebuilt with AS4_PATH / AS4_AGGREGATOR, which are removed from the result.
 */
export function fromOldSpeaker(attrs: PathAttributes): PathAttributes {
  const out: PathAttributes = { ...attrs };
  delete out.as4Path;
  delete out.as4Aggregator;
  let as4Path = attrs.as4Path;
  if (attrs.aggregator && attrs.as4Aggregator) {
    if (attrs.aggregator.asn !== AS_TRANS) {
      // The aggregator is an OLD speaker that did not see the AS4 attributes: trust the 2-octet ones.
      return out;
    }
    out.aggregator = { ...attrs.as4Aggregator } satisfies Aggregator;
  }
  if (!attrs.asPath || !as4Path) return out;
  as4Path = as4Path.filter((s) => !isConfed(s)); // RFC 6793 §6: confed segments in AS4_PATH are dropped
  out.asPath = mergeAs4Path(attrs.asPath, as4Path);
  return out;
}

/**
 * RFC 6793 §4.2.3: if AS_PATH counts fewer ASNs than AS4_PATH, AS4_PATH is ignored; otherwise the
 * leading (n - m) ASNs of AS_PATH (whole segments, a sequence split if needed) are put before AS4_PATH.
 */
export function mergeAs4Path(asPath: readonly AsPathSegment[], as4Path: readonly AsPathSegment[]): AsPathSegment[] {
  const n = asPathLength(asPath);
  const m = asPathLength(as4Path);
  const copy = (s: AsPathSegment): AsPathSegment => ({ type: s.type, asns: [...s.asns] });
  if (n < m) return asPath.map(copy);
  let need = n - m;
  const lead: AsPathSegment[] = [];
  for (const s of asPath) {
    if (isConfed(s)) {
      // Confederation segments lead the path and count zero; they stay with the leading part.
      if (need > 0 || lead.length === asPath.indexOf(s)) lead.push(copy(s));
      continue;
    }
    if (need === 0) break;
    if (s.type === AsPathSegmentType.AS_SET) {
      lead.push(copy(s));
      need -= 1;
    } else {
      const take = Math.min(need, s.asns.length);
      lead.push({ type: s.type, asns: s.asns.slice(0, take) });
      need -= take;
    }
  }
  const result = [...lead, ...as4Path.map(copy)];
  // Join a split sequence with the AS4_PATH sequence that follows it.
  const merged: AsPathSegment[] = [];
  for (const s of result) {
    const last = merged[merged.length - 1];
    if (last && last.type === AsPathSegmentType.AS_SEQUENCE && s.type === AsPathSegmentType.AS_SEQUENCE && last.asns.length + s.asns.length <= 255) {
      last.asns.push(...s.asns);
    } else merged.push(s);
  }
  return merged;
}
