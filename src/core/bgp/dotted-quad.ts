// A fast path for the addresses sessions and listeners see all the time: parseIP (ipaddr.js, regexes
// and bigint shifts) costs ~2.5 KB of garbage per call, which a simulated mesh of thousands of
// sessions notices.

/**
 * The uint32 of a plain dotted quad ("10.0.0.1": octets 0-255 without leading zeros), else undefined.
 * Sessions and listeners see such addresses all the time; anything else goes to parseIP.
 */
export function dottedQuad(text: string): number | undefined {
  let v = 0;
  let octet = -1;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return undefined; // leading zero
      octet = (octet < 0 ? 0 : octet * 10) + (c - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else if (c === 46) {
      if (digits === 0) return undefined;
      v = v * 256 + octet;
      octet = -1;
      digits = 0;
      if (i < text.length && ++dots > 3) return undefined;
    } else return undefined;
  }
  return dots === 3 ? v : undefined;
}
