// Calico's content-derived identifiers (libcalico-go/lib/hash): selector IP-set IDs ("s:…"),
// named-port set IDs ("n:…") and length-limited chain names all come from these two functions.
import { base64UrlNoPad, sha224, sha256 } from "../net/sha2.ts";

/** `<prefix>:` + unpadded base64url(SHA-224(`<prefix>:<content>`)), as hash.MakeUniqueID. */
export function makeUniqueId(prefix: string, content: string): string {
  return `${prefix}:${base64UrlNoPad(sha224(`${prefix}:${content}`))}`;
}

/**
 * `fixedPrefix + suffix` when it fits in maxLength; otherwise `fixedPrefix + "_" +` a truncated
 * base64url SHA-256 of the suffix (as hash.GetLengthLimitedID). A suffix that already starts with
 * "_" and exactly fills the limit is hashed too, so it cannot collide with a shortened name.
 */
export function lengthLimitedId(fixedPrefix: string, suffix: string, maxLength: number): string {
  const s = suffix.length === 0 ? "_" : suffix;
  const total = utf8Length(fixedPrefix) + utf8Length(s);
  if (total > maxLength || (total === maxLength && s.startsWith("_"))) {
    const room = maxLength - 1 - utf8Length(fixedPrefix);
    if (room <= 0) throw new RangeError(`maxLength ${maxLength} is too small for prefix "${fixedPrefix}"`);
    return `${fixedPrefix}_${base64UrlNoPad(sha256(s)).slice(0, room)}`;
  }
  return fixedPrefix + s;
}

const encoder = new TextEncoder();
// Names are ASCII nearly always: their length is the byte count, with no encoding.
const utf8Length = (s: string): number => (/^[\x00-\x7f]*$/.test(s) ? s.length : encoder.encode(s).length);

/** Longest IP-set name the kernel allows (ipsets.MaxIPSetNameLength). */
export const MAX_IPSET_NAME_LENGTH = 31;

/**
 * Felix's main IP-set name for a set ID (e.g. a selector's uniqueId): `cali40`/`cali60` + ID,
 * cut to 31 characters.
 */
export function felixIpSetName(id: string, family: 4 | 6): string {
  return `cali${family}0${id}`.slice(0, MAX_IPSET_NAME_LENGTH);
}
